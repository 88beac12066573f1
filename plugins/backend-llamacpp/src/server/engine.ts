/**
 * The inference side of the server: one model, one LlamaContext whose sequences are handed to
 * requests (FIFO when all are busy), so concurrent requests are decoded together in one batch.
 */
import {randomInt} from 'node:crypto';
import {basename} from 'node:path';
import {
  getLlama,
  GeneralChatWrapper,
  InsufficientMemoryError,
  LlamaLogLevel,
  resolveChatWrapper,
  TokenBias,
  type ChatHistoryItem,
  type ChatWrapper,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaModel,
  type Token,
} from 'node-llama-cpp';
import {codedError, ExitCode, isCodedError} from '@lem/plugin-kit';
import type {GgufSummary} from '../gguf/validate.js';
import {DEFAULT_CONTEXT_CAP} from '../schema.js';
import {StopStringMatcher, TokenTextDecoder} from './text.js';

export interface EngineOptions {
  modelPath: string;
  summary: GgufSummary;
  /** Tokens per sequence; default: the trained context capped at {@link DEFAULT_CONTEXT_CAP}. */
  contextSize?: number;
  /** Sequences of the context = requests decoded together. */
  parallel: number;
  threads: number;
  gpuLayers: number | 'auto' | 'max';
  batchSize?: number;
  flashAttention: boolean;
  /** Where llama.cpp's own warnings and errors go. */
  log: (line: string) => void;
}

export type FinishReason = 'stop' | 'length';

export interface SamplingOptions {
  /** 0 = greedy. */
  temperature: number;
  topP: number;
  topK: number;
  minP: number;
  /** u32; same seed + same prompt → same output. */
  seed: number;
}

export interface GenerateRequest {
  promptTokens: number[];
  /** Upper bound on generated tokens (capped by the room left in the context). */
  maxTokens?: number;
  sampling: SamplingOptions;
  stop: string[];
  /** Token ids that end generation without being emitted (chat-template end markers). */
  stopTokens?: ReadonlySet<number>;
  /** Ban end-of-generation tokens, so exactly `maxTokens` tokens are generated. */
  ignoreEos: boolean;
  signal: AbortSignal;
}

/** One sampled token: its final text (possibly empty: held bytes or stop-string prefix) and, on the last, why it ended. */
export interface TokenEvent {
  text: string;
  finishReason?: FinishReason;
}

export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  content: string;
}

export class RequestError extends Error {
  constructor(
    message: string,
    readonly param?: string,
    readonly errorCode = 'invalid_request',
  ) {
    super(message);
  }
}

/** FIFO hand-out of context sequences. */
class SequencePool {
  private readonly free: LlamaContextSequence[];
  private readonly waiters: Array<{resolve: (s: LlamaContextSequence) => void; reject: (e: unknown) => void; signal: AbortSignal; onAbort: () => void}> = [];

  constructor(sequences: LlamaContextSequence[]) {
    this.free = [...sequences];
  }

  get waiting(): number {
    return this.waiters.length;
  }

  get idle(): number {
    return this.free.length;
  }

  acquire(signal: AbortSignal): Promise<LlamaContextSequence> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const sequence = this.waiters.length === 0 ? this.free.shift() : undefined;
    if (sequence) return Promise.resolve(sequence);
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.waiters.indexOf(waiter);
          if (i !== -1) this.waiters.splice(i, 1);
          reject(signal.reason);
        },
      };
      signal.addEventListener('abort', waiter.onAbort, {once: true});
      this.waiters.push(waiter);
    });
  }

  release(sequence: LlamaContextSequence): void {
    const next = this.waiters.shift();
    if (next) {
      next.signal.removeEventListener('abort', next.onAbort);
      next.resolve(sequence);
    } else {
      this.free.push(sequence);
    }
  }

  rejectAll(reason: unknown): void {
    for (const waiter of this.waiters.splice(0)) {
      waiter.signal.removeEventListener('abort', waiter.onAbort);
      waiter.reject(reason);
    }
  }
}

/** TokenBias refuses `never` on end-of-generation tokens; ignore_eos needs exactly that. */
function eogBanningBias(model: LlamaModel, eogTokens: number[]): TokenBias | undefined {
  const bias = new TokenBias(model.tokenizer);
  const internal = (bias as unknown as {_biases?: unknown})._biases;
  if (!(internal instanceof Map)) return undefined;
  for (const token of eogTokens) internal.set(token, -Infinity);
  return bias;
}

function chatHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = [];
  for (const message of messages) {
    if (message.role === 'system' || message.role === 'developer') history.push({type: 'system', text: message.content});
    else if (message.role === 'assistant') history.push({type: 'model', response: [message.content]});
    else history.push({type: 'user', text: message.content});
  }
  history.push({type: 'model', response: []}); // the turn to generate
  return history;
}

export class Engine {
  private constructor(
    readonly llama: Llama,
    readonly model: LlamaModel,
    readonly context: LlamaContext,
    private readonly pool: SequencePool,
    readonly chatWrapper: ChatWrapper,
    private readonly eogTokens: ReadonlySet<number>,
    private readonly eogBan: TokenBias | undefined,
    readonly summary: GgufSummary,
    readonly modelId: string,
    readonly threads: number,
  ) {}

  /** Loads the model and creates the context. Throws a coded error on a GPU or memory problem. */
  static async load(options: EngineOptions): Promise<Engine> {
    /** llama.cpp says why a load failed only in its log; keep the reasons for the error message. */
    const loadErrors: string[] = [];
    const llama = await openLlama(options, loadErrors);
    try {
      requireGpuIfAsked(llama, options);
      const model = await loadModel(llama, options, loadErrors);
      const context = await createContext(model, options);
      const sequences = Array.from({length: options.parallel}, () => context.getSequence());
      const eog: number[] = [];
      for (let token = 0; token < options.summary.vocabSize; token++) if (model.isEogToken(token as Token)) eog.push(token);
      return new Engine(
        llama,
        model,
        context,
        new SequencePool(sequences),
        chatWrapperOf(model),
        new Set(eog),
        eogBanningBias(model, eog),
        options.summary,
        basename(options.modelPath),
        options.threads,
      );
    } catch (error) {
      await llama.dispose().catch(() => {});
      throw outOfMemoryOr(error, loadErrors);
    }
  }

  /** Tokens per sequence (may exceed the request by llama.cpp's padding). */
  get contextSize(): number {
    return this.context.contextSize;
  }

  get parallel(): number {
    return this.context.totalSequences;
  }

  get vocabSize(): number {
    return this.summary.vocabSize;
  }

  /** Requests waiting for a free sequence. */
  get queued(): number {
    return this.pool.waiting;
  }

  /** Text → tokens, parsing special-token text (as llama.cpp's server does), with BOS when the model wants one. */
  tokenizePrompt(text: string): number[] {
    const tokens = this.model.tokenize(text, true) as number[];
    const bos = this.model.tokens.bos;
    if (this.model.tokens.shouldPrependBosToken && bos !== null && tokens[0] !== bos) return [bos, ...tokens];
    return tokens;
  }

  tokenize(text: string, addSpecial: boolean, parseSpecial: boolean): number[] {
    const tokens = this.model.tokenize(text, parseSpecial) as number[];
    const bos = this.model.tokens.bos;
    if (addSpecial && this.model.tokens.shouldPrependBosToken && bos !== null && tokens[0] !== bos) return [bos, ...tokens];
    return tokens;
  }

  /** Throws a RequestError for ids outside the vocabulary (llama.cpp would abort on them). */
  checkTokenIds(tokens: readonly number[], param: string): void {
    for (const token of tokens) {
      if (!Number.isInteger(token) || token < 0 || token >= this.vocabSize) {
        throw new RequestError(`token id ${token} is outside the vocabulary (0..${this.vocabSize - 1})`, param, 'invalid_token');
      }
    }
  }

  detokenize(tokens: readonly number[], special = false): string {
    return this.model.detokenize(tokens as Token[], special);
  }

  /** A token's own text, as llama.cpp's token_to_piece gives it (with SentencePiece's leading space). */
  piece(token: number): string {
    // Detokenizing a lone token drops a leading space; an ordinary token before it keeps it.
    this.pieceAnchor ??= this.model.tokenize('a', false);
    return this.model.detokenize([token as Token], true, this.pieceAnchor);
  }

  private pieceAnchor: Token[] | undefined;

  /**
   * Renders chat messages with the model's chat wrapper. Returns the prompt tokens and the
   * template's own end markers (as stop strings and stop tokens).
   */
  formatChat(messages: readonly ChatMessage[]): {promptTokens: number[]; stop: string[]; stopTokens: Set<number>} {
    const state = this.chatWrapper.generateContextState({chatHistory: chatHistory(messages)});
    const promptTokens = state.contextText.tokenize(this.model.tokenizer) as number[];
    const stop: string[] = [];
    const stopTokens = new Set<number>();
    for (const trigger of state.stopGenerationTriggers) {
      if (trigger.values.every((v) => typeof v === 'string')) {
        const text = trigger.values.join('');
        if (text) stop.push(text);
        continue;
      }
      const tokens = trigger.tokenize(this.model.tokenizer) as number[];
      if (tokens.length === 1) stopTokens.add(tokens[0]!);
    }
    return {promptTokens, stop, stopTokens};
  }

  /**
   * Tokens a sequence can still generate after this prompt (the last sampled token is never
   * evaluated). Throws a RequestError when the prompt leaves no room.
   */
  roomAfter(promptTokens: readonly number[]): number {
    const room = this.contextSize - 1 - promptTokens.length;
    if (promptTokens.length === 0) throw new RequestError('the prompt is empty', 'prompt');
    if (room < 1) {
      throw new RequestError(
        `the prompt is ${promptTokens.length} tokens, but the context holds ${this.contextSize} tokens per sequence (leaving no room to generate)`,
        'prompt',
        'context_length_exceeded',
      );
    }
    return room;
  }

  /** A fresh random seed for requests that give none (node-llama-cpp would use the current second). */
  static randomSeed(): number {
    return randomInt(0, 2 ** 32 - 1);
  }

  /**
   * Generates tokens for one request. Yields exactly one event per sampled token; the last one
   * carries the finish reason. Waits (FIFO) for a free sequence; when `signal` aborts, stops after
   * the token being decoded and frees the sequence.
   */
  async *generate(request: GenerateRequest): AsyncGenerator<TokenEvent, void, void> {
    const room = this.roomAfter(request.promptTokens);
    const maxTokens = Math.min(request.maxTokens ?? room, room);
    const sequence = await this.pool.acquire(request.signal);
    try {
      const decoder = new TokenTextDecoder((tokens, previous) => this.model.detokenize(tokens as Token[], false, previous as Token[]), request.promptTokens);
      const matcher = new StopStringMatcher(request.stop);
      const finish = (reason: FinishReason, text: string): TokenEvent => {
        const tail = matcher.push(text + decoder.flush());
        if (tail.stopped) return {text: tail.emit, finishReason: 'stop'};
        return {text: tail.emit + matcher.flush(), finishReason: reason};
      };
      const iterator = sequence.evaluate(request.promptTokens as Token[], {
        temperature: request.sampling.temperature,
        topP: request.sampling.topP,
        topK: request.sampling.topK,
        minP: request.sampling.minP,
        seed: request.sampling.seed,
        yieldEogToken: true,
        ...(request.ignoreEos && this.eogBan ? {tokenBias: this.eogBan} : {}),
      });
      let generated = 0;
      for await (const token of iterator) {
        generated++;
        let event: TokenEvent;
        const isEog = this.eogTokens.has(token);
        if ((isEog && !request.ignoreEos) || request.stopTokens?.has(token)) {
          event = finish('stop', '');
        } else {
          // With ignore_eos an EOG token can only appear if the ban is unavailable: it is then an ordinary token.
          const step = matcher.push(decoder.push(token));
          if (step.stopped) event = {text: step.emit, finishReason: 'stop'};
          else if (generated >= maxTokens) event = finish('length', step.emit);
          else event = {text: step.emit};
        }
        yield event;
        if (event.finishReason || request.signal.aborted) return;
      }
      // The iterator ended without a token (llama.cpp returned none): close the stream.
      yield finish('stop', '');
    } finally {
      await sequence.clearHistory().catch(() => {});
      this.pool.release(sequence);
    }
  }

  /** Fails queued requests and frees native memory. */
  async dispose(): Promise<void> {
    this.pool.rejectAll(new Error('server is shutting down'));
    await this.context.dispose().catch(() => {});
    await this.model.dispose().catch(() => {});
    await this.llama.dispose().catch(() => {});
  }
}

/** llama.cpp with lem's prebuilt-only policy; its warnings go to the server log, load errors to `loadErrors`. */
function openLlama(options: EngineOptions, loadErrors: string[]): Promise<Llama> {
  return getLlama({
    gpu: options.gpuLayers !== 0 ? 'auto' : false,
    build: 'never',
    skipDownload: true,
    maxThreads: options.threads,
    progressLogs: false,
    logLevel: LlamaLogLevel.warn,
    logger: (level, message) => {
      const text = message.trimEnd();
      const reason = /error loading model: (.+)$/.exec(text)?.[1];
      if (reason && !loadErrors.includes(reason)) loadErrors.push(reason);
      if (text && (level === LlamaLogLevel.warn || level === LlamaLogLevel.error || level === LlamaLogLevel.fatal)) options.log(`llama.cpp ${level}: ${text}`);
    },
  });
}

/** An explicit GPU offload (`max` or a layer count) on a machine with no usable GPU build is refused, not run on the CPU. */
function requireGpuIfAsked(llama: Llama, options: EngineOptions): void {
  const explicitGpu = options.gpuLayers === 'max' || (typeof options.gpuLayers === 'number' && options.gpuLayers > 0);
  if (!explicitGpu || llama.gpu !== false) return;
  throw codedError({
    code: 'E_GPU_UNAVAILABLE',
    message: `gpu_layers ${options.gpuLayers} asks for GPU offload, but no usable GPU build of llama.cpp was found on this machine`,
    try: ['set `gpu_layers: auto` (GPU when usable, else CPU) or `gpu_layers: 0` (CPU)', 'check the GPU driver (nvidia-smi)'],
    exitCode: ExitCode.usage,
  });
}

async function loadModel(llama: Llama, options: EngineOptions, loadErrors: string[]): Promise<LlamaModel> {
  try {
    return await llama.loadModel({
      modelPath: options.modelPath,
      gpuLayers: llama.gpu === false ? 0 : options.gpuLayers,
      defaultContextFlashAttention: options.flashAttention,
    });
  } catch (error) {
    // Native log lines arrive through the event loop, after the rejection: let them land.
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (error instanceof InsufficientMemoryError || loadErrors.some((r) => /alloc|out of memory/i.test(r))) throw error;
    throw codedError({
      code: 'E_MODEL_INVALID',
      message: `llama.cpp could not load ${options.modelPath}: ${loadErrors.join('; ') || (error as Error).message}`,
      try: ['check that the file downloaded completely, and that this llama.cpp build supports its architecture', 'convert the model again with a current llama.cpp'],
      exitCode: ExitCode.usage,
      cause: error,
    });
  }
}

/** The context of `parallel` sequences; the model is disposed when it cannot be made. */
async function createContext(model: LlamaModel, options: EngineOptions): Promise<LlamaContext> {
  const contextSize = options.contextSize ?? Math.min(model.trainContextSize || DEFAULT_CONTEXT_CAP, DEFAULT_CONTEXT_CAP);
  try {
    return await model.createContext({
      sequences: options.parallel,
      contextSize,
      threads: options.threads,
      flashAttention: options.flashAttention,
      ...(options.batchSize === undefined ? {} : {batchSize: options.batchSize}),
    });
  } catch (error) {
    await model.dispose();
    throw error;
  }
}

/** The model's own chat template, else a general one. */
function chatWrapperOf(model: LlamaModel): ChatWrapper {
  try {
    return resolveChatWrapper(model, {});
  } catch {
    return new GeneralChatWrapper();
  }
}

/** A failed load that ran out of memory (said by node-llama-cpp or by llama.cpp's log) as E_OUT_OF_MEMORY; any other as it is. */
function outOfMemoryOr(error: unknown, loadErrors: string[]): unknown {
  if (error instanceof InsufficientMemoryError || (!isCodedError(error) && loadErrors.some((r) => /alloc|out of memory/i.test(r)))) {
    return codedError({
      code: 'E_OUT_OF_MEMORY',
      message: `out of memory while loading the model: ${[...loadErrors, (error as Error).message].join('; ')}`,
      try: ['lower context_size or parallel', 'use a smaller or more quantised model', 'lower gpu_layers'],
      exitCode: ExitCode.runsFailed,
      cause: error,
    });
  }
  return error;
}
