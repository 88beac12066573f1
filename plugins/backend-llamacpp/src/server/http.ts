/**
 * The OpenAI-compatible HTTP face of the engine, on node:http: a framework adds nothing for six
 * routes, and raw responses keep streaming timing honest (one write per token, no buffering).
 *
 * Routes: GET /health, GET /v1/models, GET /version, GET /metrics (Prometheus text, llama.cpp's
 * names), POST /tokenize, POST /detokenize, POST /v1/completions, POST /v1/chat/completions
 * (streaming and not).
 *
 * Generation contract (what lem's measurements rely on):
 * - Streaming sends exactly one chunk per sampled token. Its text may be empty while a UTF-8
 *   sequence split across byte tokens, or a possible stop string, is incomplete; a later chunk
 *   carries it. The last token's chunk carries `finish_reason`. With
 *   `stream_options.include_usage`, a final chunk with `choices: []` and `usage` follows; then
 *   `data: [DONE]`.
 * - `completion_tokens` counts every sampled token, including an end-of-generation token (empty
 *   text) and the tokens of a matched stop string (whose text is never sent).
 * - `ignore_eos: true` bans end-of-generation tokens (and, for chat, the template's end markers),
 *   so exactly `max_tokens` tokens are generated.
 * - `max_tokens` beyond the room left in the context is capped (`finish_reason: length`), as in
 *   llama.cpp's server; a prompt that leaves no room is a 400. Absent, it is the room left.
 * - Each request starts from an empty sequence (no prompt cache between requests), so every
 *   request pays its full prefill.
 * - Sampling defaults: temperature 1, top_p 1, top_k 40 (llama.cpp's), min_p 0; no seed → a
 *   random one per request. temperature 0 is greedy.
 */
import {randomBytes} from 'node:crypto';
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import {getModuleVersion} from 'node-llama-cpp';
import {z} from 'zod';
import {codedError, ExitCode} from '@lem/plugin-kit';
import {inspectGguf, type GgufSummary} from '../gguf/validate.js';
import {PLUGIN_VERSION} from '../version.js';
import {Engine, RequestError, type ChatMessage, type FinishReason, type GenerateRequest, type SamplingOptions} from './engine.js';

export interface ServerOptions {
  modelPath: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port (see `RunningServer.port`). */
  port: number;
  /** Tokens per sequence; default: the trained context capped at 4096. */
  contextSize?: number;
  /** Default 4. */
  parallel?: number;
  threads: number;
  /** Default 'auto'. */
  gpuLayers?: number | 'auto' | 'max';
  batchSize?: number;
  /** Default false. */
  flashAttention?: boolean;
  /** Diagnostic lines (stderr in main). */
  log?: (line: string) => void;
}

export interface RunningServer {
  host: string;
  port: number;
  url: string;
  engine: Engine;
  summary: GgufSummary;
  /** Stops accepting, aborts in-flight requests, closes connections and frees the model. Idempotent. */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 32 * 1024 * 1024;
/** llama.cpp's server default; OpenAI has no top_k, and an unbounded one sorts the whole vocabulary per token. */
const DEFAULT_TOP_K = 40;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly code: string,
    readonly param?: string,
  ) {
    super(message);
  }
}

// Request bodies. Unknown fields are accepted and ignored, as OpenAI clients send many.
const stopSchema = z.union([z.string(), z.array(z.string()).max(16)]).nullish();
const generationFields = {
  model: z.string().nullish(),
  max_tokens: z.int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  top_k: z.int().min(0).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  seed: z.int().nullish(),
  stop: stopSchema,
  ignore_eos: z.boolean().nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({include_usage: z.boolean().nullish()}).nullish(),
  n: z.literal(1, {error: 'only n = 1 is supported'}).nullish(),
};
const completionBody = z.object({
  ...generationFields,
  prompt: z.union([z.string(), z.array(z.string()).length(1, {error: 'only one prompt per request is supported'}), z.array(z.int()).min(1)]),
});
const textPart = z.object({type: z.literal('text'), text: z.string()});
const chatBody = z.object({
  ...generationFields,
  max_completion_tokens: z.int().min(1).nullish(),
  messages: z
    .array(
      z.object({
        role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
        content: z.union([z.string(), z.array(textPart), z.null()]).optional(),
      }),
    )
    .min(1),
});
const tokenizeBody = z.object({
  content: z.string(),
  add_special: z.boolean().optional(),
  parse_special: z.boolean().optional(),
  with_pieces: z.boolean().optional(),
});
const detokenizeBody = z.object({tokens: z.array(z.int())});

function zodMessage(error: z.ZodError): {message: string; param?: string} {
  const issue = error.issues[0];
  if (!issue) return {message: 'invalid request body'};
  const path = issue.path.map(String).join('.');
  return path ? {message: `${path}: ${issue.message}`, param: path} : {message: issue.message};
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (!result.success) {
    const {message, param} = zodMessage(result.error);
    throw new HttpError(400, message, 'invalid_request_error', 'invalid_request', param);
  }
  return result.data;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text)});
  res.end(text);
}

function sendError(res: ServerResponse, error: HttpError): void {
  if (res.headersSent) return;
  sendJson(res, error.status, {error: {message: error.message, type: error.type, code: error.code, param: error.param ?? null}});
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body exceeds ${MAX_BODY_BYTES} bytes`, 'invalid_request_error', 'body_too_large');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'the request body is empty; a JSON object is required', 'invalid_request_error', 'invalid_json');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpError(400, `the request body is not valid JSON: ${(error as Error).message}`, 'invalid_request_error', 'invalid_json');
  }
}

function toU32(seed: number): number {
  return ((seed % 2 ** 32) + 2 ** 32) % 2 ** 32;
}

type GenerationFields = z.infer<z.ZodObject<typeof generationFields>>;

function sampling(body: GenerationFields): SamplingOptions {
  return {
    temperature: body.temperature ?? 1,
    topP: body.top_p ?? 1,
    topK: body.top_k ?? DEFAULT_TOP_K,
    minP: body.min_p ?? 0,
    seed: body.seed == null ? Engine.randomSeed() : toU32(body.seed),
  };
}

function stops(stop: string | string[] | null | undefined): string[] {
  if (stop == null) return [];
  return (typeof stop === 'string' ? [stop] : stop).filter((s) => s.length > 0);
}

function messageText(content: string | Array<{text: string}> | null | undefined): string {
  if (content == null) return '';
  return typeof content === 'string' ? content : content.map((p) => p.text).join('');
}

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}


/** One generation request in flight: what the response needs to be written. */
interface Generation {
  e: Engine;
  kind: 'completion' | 'chat';
  request: GenerateRequest;
  controller: AbortController;
  id: string;
  created: number;
  promptLength: number;
}

const usageOf = (g: Generation, completionTokens: number): Usage => ({prompt_tokens: g.promptLength, completion_tokens: completionTokens, total_tokens: g.promptLength + completionTokens});

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? (() => {});
  const summary = await inspectGguf(options.modelPath);

  let engine: Engine | undefined;
  let state: 'loading' | 'ready' | 'stopping' = 'loading';
  const inFlight = new Set<AbortController>();
  const counters = {promptTokensTotal: 0, tokensPredictedTotal: 0, requestsTotal: 0};
  const nodeLlamaCppVersion = await getModuleVersion().catch(() => 'unknown');
  const createdS = Math.floor(Date.now() / 1000);

  const server: Server = createServer({noDelay: true, keepAliveTimeout: 5_000}, (req, res) => {
    void handle(req, res).catch((error: unknown) => {
      if (error instanceof HttpError) return sendError(res, error);
      log(`internal error on ${req.method} ${req.url}: ${(error as Error).message}`);
      if (!res.headersSent) sendError(res, new HttpError(500, `internal error: ${(error as Error).message}`, 'server_error', 'internal_error'));
      else res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = `${req.method} ${url.pathname.replace(/\/+$/, '') || '/'}`;
    const known = ['/health', '/v1/models', '/version', '/metrics', '/tokenize', '/detokenize', '/v1/completions', '/v1/chat/completions'];
    if (route === 'GET /health') {
      return sendJson(res, state === 'ready' ? 200 : 503, {status: state === 'ready' ? 'ok' : state});
    }
    if (!engine || state !== 'ready') {
      if (!known.includes(url.pathname)) throw new HttpError(404, `no route ${req.method} ${url.pathname}`, 'not_found_error', 'not_found');
      throw new HttpError(503, state === 'loading' ? 'the model is still loading' : 'the server is shutting down', 'unavailable_error', state === 'loading' ? 'model_loading' : 'shutting_down');
    }
    const e = engine;
    switch (route) {
      case 'GET /v1/models':
        return sendJson(res, 200, modelsList(e));
      case 'GET /version':
        return sendJson(res, 200, {
          engine: 'node-llama-cpp',
          version: nodeLlamaCppVersion,
          llamaCppRelease: e.llama.llamaCppRelease.release,
          lemBackend: PLUGIN_VERSION,
          gpu: e.llama.gpu,
        });
      case 'GET /metrics': {
        const text = metricsText(e);
        res.writeHead(200, {'Content-Type': 'text/plain; version=0.0.4', 'Content-Length': Buffer.byteLength(text)});
        res.end(text);
        return;
      }
      case 'POST /tokenize': {
        const body = parse(tokenizeBody, await readJson(req));
        const tokens = e.tokenize(body.content, body.add_special ?? false, body.parse_special ?? true);
        return sendJson(res, 200, {tokens: body.with_pieces ? tokens.map((id) => ({id, piece: e.piece(id)})) : tokens});
      }
      case 'POST /detokenize': {
        const body = parse(detokenizeBody, await readJson(req));
        try {
          e.checkTokenIds(body.tokens, 'tokens');
        } catch (error) {
          throw asHttpError(error);
        }
        return sendJson(res, 200, {content: e.detokenize(body.tokens)});
      }
      case 'POST /v1/completions': {
        const body = parse(completionBody, await readJson(req));
        return generate(req, res, 'completion', body, {promptTokens: completionPromptTokens(e, body.prompt), stop: stops(body.stop), stopTokens: new Set()});
      }
      case 'POST /v1/chat/completions': {
        const body = parse(chatBody, await readJson(req));
        const messages: ChatMessage[] = body.messages.map((m) => ({role: m.role, content: messageText(m.content)}));
        const chat = e.formatChat(messages);
        const ignoreEos = body.ignore_eos ?? false;
        // ignore_eos fixes the output length: the template's end-of-turn markers are not applied either.
        return generate(req, res, 'chat', {...body, max_tokens: body.max_completion_tokens ?? body.max_tokens}, {
          promptTokens: chat.promptTokens,
          stop: [...stops(body.stop), ...(ignoreEos ? [] : chat.stop)],
          stopTokens: ignoreEos ? new Set() : chat.stopTokens,
        });
      }
    }
    if (known.includes(url.pathname)) throw new HttpError(405, `${req.method} is not allowed on ${url.pathname}`, 'invalid_request_error', 'method_not_allowed');
    throw new HttpError(404, `no route ${req.method} ${url.pathname}`, 'not_found_error', 'not_found');
  }

  /** `/v1/models`: the one model served, with llama.cpp-style `meta` (context, vocabulary, size). */
  function modelsList(e: Engine): object {
    const meta = {
      n_ctx: e.contextSize,
      n_ctx_train: summary.contextLength,
      parallel: e.parallel,
      n_embd: summary.embeddingLength,
      n_vocab: summary.vocabSize,
      n_params: summary.parameterCount,
      size: summary.fileSizeBytes,
    };
    return {object: 'list', data: [{id: e.modelId, object: 'model', created: createdS, owned_by: 'lem', meta}]};
  }

  /** `/metrics` in Prometheus text, with llama.cpp server's metric names. */
  function metricsText(e: Engine): string {
    const metric = (name: string, type: 'counter' | 'gauge', help: string, value: number) =>
      `# HELP llamacpp:${name} ${help}\n# TYPE llamacpp:${name} ${type}\nllamacpp:${name} ${value}\n`;
    return (
      metric('prompt_tokens_total', 'counter', 'Prompt tokens processed.', counters.promptTokensTotal) +
      metric('tokens_predicted_total', 'counter', 'Tokens generated.', counters.tokensPredictedTotal) +
      metric('requests_total', 'counter', 'Generation requests accepted.', counters.requestsTotal) +
      metric('requests_processing', 'gauge', 'Generation requests in progress or queued.', inFlight.size) +
      metric('requests_running', 'gauge', 'Generation requests being decoded now.', Math.max(0, inFlight.size - e.queued)) +
      metric('requests_deferred', 'gauge', 'Generation requests waiting for a free sequence.', e.queued)
    );
  }

  /** A completion's prompt as token ids: text is tokenized, ids are checked against the vocabulary. */
  function completionPromptTokens(e: Engine, prompt: string | string[] | number[]): number[] {
    if (typeof prompt === 'string') return e.tokenizePrompt(prompt);
    if (typeof prompt[0] === 'string') return e.tokenizePrompt(prompt[0]);
    try {
      e.checkTokenIds(prompt as number[], 'prompt');
    } catch (error) {
      throw asHttpError(error);
    }
    return prompt as number[];
  }

  function asHttpError(error: unknown): unknown {
    if (error instanceof RequestError) {
      return new HttpError(400, error.message, 'invalid_request_error', error.errorCode, error.param);
    }
    return error;
  }

  async function generate(
    req: IncomingMessage,
    res: ServerResponse,
    kind: 'completion' | 'chat',
    body: GenerationFields,
    prompt: {promptTokens: number[]; stop: string[]; stopTokens: Set<number>},
  ): Promise<void> {
    const e = engine!;
    try {
      e.roomAfter(prompt.promptTokens);
    } catch (error) {
      throw asHttpError(error);
    }
    const controller = new AbortController();
    inFlight.add(controller);
    counters.requestsTotal++;
    counters.promptTokensTotal += prompt.promptTokens.length;
    res.on('close', () => {
      if (!res.writableFinished) controller.abort(new Error('client disconnected'));
    });
    const request: GenerateRequest = {
      promptTokens: prompt.promptTokens,
      sampling: sampling(body),
      stop: prompt.stop,
      stopTokens: prompt.stopTokens,
      ignoreEos: body.ignore_eos ?? false,
      signal: controller.signal,
      ...(body.max_tokens == null ? {} : {maxTokens: body.max_tokens}),
    };
    const g: Generation = {e, kind, request, controller, id: `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomBytes(12).toString('hex')}`, created: Math.floor(Date.now() / 1000), promptLength: prompt.promptTokens.length};
    try {
      if (body.stream) await streamGeneration(g, res, body.stream_options?.include_usage ?? false);
      else await wholeGeneration(g, res);
    } catch (error) {
      failGeneration(g, res, error);
    } finally {
      inFlight.delete(controller);
    }
  }

  /** Server-sent events, a chunk per token; `[DONE]` only when generation finished (not when cut short). */
  async function streamGeneration(g: Generation, res: ServerResponse, includeUsage: boolean): Promise<void> {
    res.writeHead(200, {'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no'});
    res.flushHeaders();
    const object = g.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion';
    const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
    let completionTokens = 0;
    let finishReason: FinishReason | undefined;
    for await (const event of g.e.generate(g.request)) {
      counters.tokensPredictedTotal++;
      if (g.controller.signal.aborted || res.destroyed) break;
      completionTokens++;
      finishReason = event.finishReason;
      const choice =
        g.kind === 'chat'
          ? {index: 0, delta: completionTokens === 1 ? {role: 'assistant', content: event.text} : {content: event.text}, logprobs: null, finish_reason: event.finishReason ?? null}
          : {index: 0, text: event.text, logprobs: null, finish_reason: event.finishReason ?? null};
      send({id: g.id, object, created: g.created, model: g.e.modelId, choices: [choice], ...(includeUsage ? {usage: null} : {})});
    }
    if (res.destroyed) return;
    if (finishReason) {
      if (includeUsage) send({id: g.id, object, created: g.created, model: g.e.modelId, choices: [], usage: usageOf(g, completionTokens)});
      res.write('data: [DONE]\n\n');
    }
    res.end();
  }

  /** One JSON body once generation has finished. */
  async function wholeGeneration(g: Generation, res: ServerResponse): Promise<void> {
    let text = '';
    let completionTokens = 0;
    let finishReason: FinishReason | undefined;
    for await (const event of g.e.generate(g.request)) {
      counters.tokensPredictedTotal++;
      if (g.controller.signal.aborted) break;
      completionTokens++;
      text += event.text;
      finishReason = event.finishReason;
    }
    if (!finishReason) throw new HttpError(503, 'the request was cancelled (server shutting down)', 'unavailable_error', 'cancelled');
    const choice =
      g.kind === 'chat'
        ? {index: 0, message: {role: 'assistant', content: text}, logprobs: null, finish_reason: finishReason}
        : {index: 0, text, logprobs: null, finish_reason: finishReason};
    sendJson(res, 200, {id: g.id, object: g.kind === 'chat' ? 'chat.completion' : 'text_completion', created: g.created, model: g.e.modelId, choices: [choice], usage: usageOf(g, completionTokens)});
  }

  /** A failed generation: cancelled → 503 (or the stream ended); mid-stream → an error event; else thrown as its HTTP error. */
  function failGeneration(g: Generation, res: ServerResponse, error: unknown): void {
    if (g.controller.signal.aborted && !(error instanceof HttpError)) {
      if (!res.headersSent && !res.destroyed) sendError(res, new HttpError(503, 'the request was cancelled (server shutting down)', 'unavailable_error', 'cancelled'));
      else res.end();
      return;
    }
    const mapped = asHttpError(error);
    if (!res.headersSent) throw mapped;
    const message = mapped instanceof Error ? mapped.message : String(mapped);
    res.write(`data: ${JSON.stringify({error: {message, type: 'server_error', code: 'generation_failed'}})}\n\n`);
    res.end();
  }

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(listenError(error, host, options.port));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(options.port, host);
  });
  const port = (server.address() as AddressInfo).port;

  const closeServer = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });

  try {
    engine = await Engine.load({
      modelPath: summary.path,
      summary,
      parallel: options.parallel ?? 4,
      threads: options.threads,
      gpuLayers: options.gpuLayers ?? 'auto',
      flashAttention: options.flashAttention ?? false,
      log,
      ...(options.contextSize === undefined ? {} : {contextSize: options.contextSize}),
      ...(options.batchSize === undefined ? {} : {batchSize: options.batchSize}),
    });
  } catch (error) {
    state = 'stopping';
    await closeServer();
    throw error;
  }
  state = 'ready';

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      state = 'stopping';
      const stopped = closeServer();
      for (const controller of inFlight) controller.abort(new Error('server is shutting down'));
      // In-flight handlers end their responses within one token; then drop whatever is left.
      const deadline = Date.now() + 1_000;
      while (inFlight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      server.closeAllConnections();
      await stopped;
      await engine!.dispose();
    })());

  const displayHost = host.includes(':') ? `[${host}]` : host;
  return {host, port, url: `http://${displayHost}:${port}`, engine, summary, close};
}

function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  if (error.code === 'EADDRINUSE') {
    return codedError({
      code: 'E_PORT_IN_USE',
      message: `port ${port} on ${host} is already in use`,
      try: [`pick another port (--port ${port + 1}), or stop the process holding it (\`ss -ltnp 'sport = :${port}'\`)`],
      exitCode: ExitCode.usage,
      cause: error,
    });
  }
  if (error.code === 'EACCES') {
    return codedError({
      code: 'E_PORT_DENIED',
      message: `not allowed to listen on port ${port} of ${host}`,
      try: ['use a port above 1023, e.g. --port 8080'],
      exitCode: ExitCode.usage,
      cause: error,
    });
  }
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') {
    return codedError({
      code: 'E_HOST_INVALID',
      message: `cannot listen on ${host}: no such local address`,
      try: ['use --host 127.0.0.1 (this machine only) or --host 0.0.0.0 (all interfaces)'],
      exitCode: ExitCode.usage,
      cause: error,
    });
  }
  return error;
}
