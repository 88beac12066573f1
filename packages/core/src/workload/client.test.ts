import http from 'node:http';
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest';
import {monoNs, msSince} from '../measure/types.js';
import {closeTokenizeAgents, createAgent, endpoints, sendRequest, type RequestContext, type RequestTemplate} from './client.js';
import {requestMetrics} from './stats.js';
import {chatChunk, closedPort, completionChunk, sleep, sse, startServer, startStream, usageChunk, watchReads, writeLockstep, writeScheduled, type TestServer} from './__fixtures__/server.js';

// Timing: client timestamps are checked against the server's actual writes, ordered by events
// (writeLockstep), not against a margin around the script, which a loaded machine overruns.

const template = (baseUrl: string, over: Partial<RequestTemplate> = {}): RequestTemplate => ({
  baseUrl,
  api: 'completions',
  model: 'tiny',
  maxTokens: 16,
  temperature: 0,
  extras: {},
  timeoutMs: 5_000,
  ...over,
});

let agent: http.Agent;
let server: TestServer | undefined;
beforeAll(() => {
  agent = createAgent('http://127.0.0.1', 16);
});
afterAll(() => {
  agent.destroy();
  closeTokenizeAgents();
});
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const ctx = (over: Partial<RequestContext> = {}): RequestContext => ({t0Ns: monoNs(), id: 3, phase: 'measure', agent, ...over});

/** A server answering every completion with `chunks` texts then usage and [DONE], all at once. */
const instant = (texts: string[], usage: [number, number] | null = [5, texts.length]) =>
  startServer((_req, res) => {
    startStream(res);
    res.end(texts.map((t, i) => sse(completionChunk(t, i === texts.length - 1 ? 'length' : null))).join('') + (usage ? sse(usageChunk(...usage)) : '') + sse('[DONE]'));
  });

describe('sendRequest timing', () => {
  it('times TTFT, E2E and the gaps between content chunks, each at the read that carried it', async () => {
    // First chunk after 50 ms, then 10 chunks 20 ms apart, then usage, [DONE] and the end of the
    // response, each written only once the client has read the one before (lockstep): every
    // client timestamp must lie between its own write and the next, whatever the machine's load.
    const steps = [
      ...Array.from({length: 10}, (_, i) => ({atMs: 50 + 20 * i, data: sse(completionChunk(`t${i} `, i === 9 ? 'length' : null))})),
      {atMs: 50 + 20 * 9, data: sse(usageChunk(7, 10))},
      {atMs: 50 + 20 * 9, data: sse('[DONE]')},
    ];
    const watch = watchReads();
    let writtenNs: bigint[] = [];
    let receivedNs = 0n;
    server = await startServer(async (_req, res) => {
      receivedNs = monoNs();
      startStream(res);
      writtenNs = await writeLockstep(res, steps, watch);
    });
    const c = ctx({scheduledMs: 1.5, agent: watch.agent});
    const callMs = msSince(c.t0Ns);
    const r = await sendRequest(template(server.url), {index: 9, text: 'hello'}, c);
    const resolvedMs = msSince(c.t0Ns);
    watch.agent.destroy();

    expect(r).toMatchObject({id: 3, phase: 'measure', promptIndex: 9, scheduledMs: 1.5, ok: true, httpStatus: 200, error: null, contentChunks: 10});
    expect(r).toMatchObject({promptTokens: 7, outputTokens: 10, tokenSource: 'usage', finishReason: 'length'});

    // What the client measured against what the server really did (same clock, same process).
    const at = (ns: bigint) => msSince(c.t0Ns, ns);
    expect(r.sendMs).toBeGreaterThanOrEqual(callMs);
    expect(r.sendMs).toBeLessThanOrEqual(at(receivedNs));
    // Content chunk i, from the first one and the gaps: in [write i, write i + 1). Stamping a chunk
    // at a later read (or at the end of the stream) puts it past the next write.
    expect(r.chunkGapsMs).toHaveLength(9);
    let chunkMs = r.firstContentMs!;
    for (let i = 0; i < 10; i++) {
      if (i > 0) chunkMs += r.chunkGapsMs[i - 1]!;
      expect(chunkMs).toBeGreaterThanOrEqual(at(writtenNs[i]!) - 1e-6);
      expect(chunkMs).toBeLessThan(at(writtenNs[i + 1]!));
    }
    expect(chunkMs).toBeCloseTo(r.lastContentMs!, 6);
    // The end is the [DONE] event (step 11), not the end of the response (the last write).
    expect(r.endMs).toBeGreaterThanOrEqual(at(writtenNs[11]!));
    expect(r.endMs).toBeLessThan(at(writtenNs[12]!));
    expect(r.endMs).toBeLessThanOrEqual(resolvedMs);

    // And against the script: the server writes no step before its time, counted from after it
    // had the request, so after the send.
    const m = requestMetrics(r);
    expect(m.ttftMs!).toBeGreaterThanOrEqual(50);
    expect(m.e2eMs).toBeGreaterThanOrEqual(230);
    expect(m.itlMs).toBeCloseTo((r.endMs - r.firstContentMs!) / 9, 9);
    expect(r.sendMs).toBeGreaterThanOrEqual(0);
    expect(r.firstChunkMs).toBe(r.firstContentMs);
  });

  it('separates the first chunk (role only) from the first content chunk in chat', async () => {
    const watch = watchReads();
    let writtenNs: bigint[] = [];
    server = await startServer(async (_req, res) => {
      startStream(res);
      writtenNs = await writeLockstep(
        res,
        [
          {atMs: 0, data: sse(chatChunk({role: 'assistant', content: ''}))},
          {atMs: 60, data: sse(chatChunk({content: 'Hi'}))},
          {atMs: 90, data: sse(chatChunk({content: ' there'}, 'stop')) + sse({...usageChunk(3, 2), object: 'chat.completion.chunk'}) + sse('[DONE]')},
        ],
        watch,
      );
    });
    const c = ctx({agent: watch.agent});
    const r = await sendRequest(template(server.url, {api: 'chat'}), {index: 0, text: 'hey'}, c);
    watch.agent.destroy();
    const at = (ns: bigint) => msSince(c.t0Ns, ns);
    expect(r.ok).toBe(true);
    // The role chunk is the first chunk, the 'Hi' chunk the first content (lockstep: separate reads).
    expect(r.firstChunkMs!).toBeGreaterThanOrEqual(at(writtenNs[0]!));
    expect(r.firstChunkMs!).toBeLessThan(at(writtenNs[1]!));
    expect(r.firstContentMs!).toBeGreaterThanOrEqual(at(writtenNs[1]!));
    expect(r.firstContentMs!).toBeLessThan(at(writtenNs[2]!));
    expect(r.firstContentMs! - r.sendMs).toBeGreaterThanOrEqual(60);
    expect(r).toMatchObject({contentChunks: 2, outputTokens: 2, tokenSource: 'usage', finishReason: 'stop'});
    expect(r.chunkGapsMs).toHaveLength(1);
  });

  it('defaults scheduledMs to sendMs', async () => {
    server = await instant(['a']);
    const r = await sendRequest(template(server.url), {index: 0, text: 'x'}, ctx());
    expect(r.scheduledMs).toBe(r.sendMs);
  });
});

describe('sendRequest token counts', () => {
  it('takes counts from a final usage chunk with no choices when chunks carry several tokens', async () => {
    server = await instant(['one two three ', 'four five ', 'six'], [4, 6]);
    const r = await sendRequest(template(server.url), {index: 0, text: 'x'}, ctx());
    expect(r).toMatchObject({ok: true, contentChunks: 3, promptTokens: 4, outputTokens: 6, tokenSource: 'usage', finishReason: 'length'});
    const m = requestMetrics(r);
    expect(m.itlMs).toBeCloseTo((m.e2eMs - m.ttftMs!) / 5, 9);
  });

  it('counts output tokens on the tokenize path when the stream has no usage', async () => {
    server = await startServer((req, res) => {
      if (req.path === '/tokenize') {
        res.writeHead(200, {'content-type': 'application/json'});
        res.end(JSON.stringify({tokens: String(req.body.content).split(' ').map((_, i) => i)}));
        return;
      }
      startStream(res);
      res.end(sse(completionChunk('alpha beta ')) + sse(completionChunk('gamma', 'length')) + sse('[DONE]'));
    });
    // Base with /v1: the tokenize path hangs from the server root, not from /v1.
    const r = await sendRequest(template(`${server.url}/v1`, {tokenizePath: '/tokenize'}), {index: 0, text: 'x'}, ctx());
    expect(r).toMatchObject({ok: true, outputTokens: 3, tokenSource: 'tokenize', promptTokens: null, contentChunks: 2});
    const tok = server.received.find((x) => x.path === '/tokenize');
    expect(tok?.body).toEqual({content: 'alpha beta gamma'});
  });

  it('reports null counts (not 0) without usage and without a tokenize path', async () => {
    server = await instant(['a', 'b'], null);
    const r = await sendRequest(template(server.url), {index: 0, text: 'x'}, ctx());
    expect(r).toMatchObject({ok: true, outputTokens: null, promptTokens: null, tokenSource: null, contentChunks: 2});
    expect(requestMetrics(r).itlMs).toBeNull();
  });

  it('reports null counts when the tokenize path fails', async () => {
    server = await startServer((req, res) => {
      if (req.path === '/tokenize') {
        res.writeHead(404);
        res.end('no');
        return;
      }
      startStream(res);
      res.end(sse(completionChunk('a')) + sse('[DONE]'));
    });
    const r = await sendRequest(template(server.url, {tokenizePath: '/tokenize'}), {index: 0, text: 'x'}, ctx());
    expect(r).toMatchObject({ok: true, outputTokens: null, tokenSource: null});
  });
});

describe('sendRequest body and URL', () => {
  it('posts a completions body with every standard field, extras merged, always streaming with usage', async () => {
    server = await instant(['a']);
    const t = template(server.url, {seed: 42, extras: {ignore_eos: true, stream: false}, apiKey: 'sk-test', maxTokens: 32, temperature: 0.5});
    await sendRequest(t, {index: 0, text: 'the prompt'}, ctx());
    const got = server.received[0]!;
    expect(got.method).toBe('POST');
    expect(got.path).toBe('/v1/completions');
    expect(got.headers.authorization).toBe('Bearer sk-test');
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.body).toEqual({model: 'tiny', prompt: 'the prompt', max_tokens: 32, temperature: 0.5, seed: 42, ignore_eos: true, stream: true, stream_options: {include_usage: true}});
  });

  it('posts a chat body with one user message', async () => {
    server = await startServer((_req, res) => {
      startStream(res);
      res.end(sse(chatChunk({content: 'x'}, 'stop')) + sse('[DONE]'));
    });
    await sendRequest(template(server.url, {api: 'chat'}), {index: 0, text: 'hi there'}, ctx());
    const got = server.received[0]!;
    expect(got.path).toBe('/v1/chat/completions');
    expect(got.body).toEqual({model: 'tiny', messages: [{role: 'user', content: 'hi there'}], max_tokens: 16, temperature: 0, stream: true, stream_options: {include_usage: true}});
    expect(got.headers.authorization).toBeUndefined();
  });

  it.each([
    ['http://127.0.0.1:1', '/v1/completions'],
    ['http://127.0.0.1:1/', '/v1/completions'],
    ['http://127.0.0.1:1/v1', '/v1/completions'],
    ['http://127.0.0.1:1/v1/', '/v1/completions'],
    ['http://127.0.0.1:1/proxy/v1', '/proxy/v1/completions'],
  ])('base %s → %s', (base, path) => {
    expect(endpoints({baseUrl: base, api: 'completions'}).url.pathname).toBe(path);
  });

  it('does not double /v1 against a real server', async () => {
    server = await instant(['a']);
    const r = await sendRequest(template(`${server.url}/v1/`, {api: 'completions'}), {index: 0, text: 'x'}, ctx());
    expect(r.ok).toBe(true);
    expect(server.received[0]!.path).toBe('/v1/completions');
  });
});

describe('sendRequest failures', () => {
  it('turns a 500 into an http error with the status and a body excerpt', async () => {
    server = await startServer((_req, res) => {
      res.writeHead(500, {'content-type': 'application/json'});
      res.end(JSON.stringify({error: {message: 'CUDA out of memory'}}) + 'x'.repeat(5000));
    });
    const r = await sendRequest(template(server.url), {index: 0, text: 'x'}, ctx());
    expect(r).toMatchObject({ok: false, httpStatus: 500, firstChunkMs: null, contentChunks: 0, outputTokens: null});
    expect(r.error?.kind).toBe('http');
    expect(r.error?.message).toMatch(/^HTTP 500 .*CUDA out of memory/);
    expect(r.error!.message.length).toBeLessThan(600);
  });

  it('reports a refused connection', async () => {
    const port = await closedPort();
    const r = await sendRequest(template(`http://127.0.0.1:${port}`), {index: 0, text: 'x'}, ctx());
    expect(r).toMatchObject({ok: false, httpStatus: null});
    expect(r.error?.kind).toBe('connection');
    expect(r.error?.message).toMatch(/ECONNREFUSED/);
  });

  it('reports a connection reset in the middle of the stream', async () => {
    server = await startServer(async (_req, res) => {
      startStream(res);
      res.write(sse(completionChunk('a')));
      await sleep(20);
      res.socket?.destroy();
    });
    const r = await sendRequest(template(server.url), {index: 0, text: 'x'}, ctx());
    expect(r).toMatchObject({ok: false, httpStatus: 200, contentChunks: 1});
    expect(r.error?.kind).toBe('connection');
  });

  it('times out a stalled stream, aborts its socket, and keeps what arrived', async () => {
    let serverSawClose!: () => void;
    const closed = new Promise<boolean>((resolve) => (serverSawClose = () => resolve(true)));
    server = await startServer((_req, res, raw) => {
      startStream(res);
      res.write(sse(completionChunk('a')));
      raw.socket.on('close', serverSawClose);
    });
    const r = await sendRequest(template(server.url, {timeoutMs: 150}), {index: 0, text: 'x'}, ctx());
    expect(r).toMatchObject({ok: false, contentChunks: 1});
    expect(r.error?.kind).toBe('timeout');
    // Node timers never fire early (up to their 1 ms rounding).
    expect(r.endMs - r.sendMs).toBeGreaterThan(150 - 1);
    // Catches a timeout that fires at twice its setting or later (a busy machine adds ≤ 12 ms here).
    expect(r.endMs - r.sendMs).toBeLessThan(2 * 150);
    // The server sees its socket close (an event; the 2 s fallback only bounds a failure).
    expect(await Promise.race([closed, sleep(2_000).then(() => false)])).toBe(true);
  });

  it('reports a malformed chunk as a protocol error', async () => {
    server = await startServer((_req, res) => {
      startStream(res);
      res.end(sse(completionChunk('a')) + 'data: {"choices": [\n\n' + sse('[DONE]'));
    });
    const r = await sendRequest(template(server.url), {index: 0, text: 'x'}, ctx());
    expect(r).toMatchObject({ok: false, contentChunks: 1});
    expect(r.error?.kind).toBe('protocol');
    expect(r.error?.message).toMatch(/malformed JSON/);
  });

  it('reports an error event inside a 200 stream as a protocol error', async () => {
    server = await startServer((_req, res) => {
      startStream(res);
      res.end(sse({error: {message: 'engine died', type: 'InternalServerError'}}) + sse('[DONE]'));
    });
    const r = await sendRequest(template(server.url), {index: 0, text: 'x'}, ctx());
    expect(r.error).toEqual({kind: 'protocol', message: expect.stringContaining('engine died')});
  });

  it.each([
    ['an OpenAI error object', 'data: {"error": {"message": "KV cache full", "code": 507}}', 'KV cache full'],
    ['an object with a message', 'data: {"message": "KV cache full"}', 'KV cache full'],
    ['an error string', 'data: {"error": "KV cache full"}', 'KV cache full'],
    ['plain text', 'data: KV cache full', 'KV cache full'],
    ['plain text on several data lines', 'data: KV cache\ndata: full', 'KV cache\nfull'],
  ])('fails a request on an `event: error` carrying %s, with the server message', async (_name, dataLines, message) => {
    server = await startServer((_req, res) => {
      startStream(res);
      // Content first: an error event ends the request as failed even after content arrived.
      res.end(sse(completionChunk('a')) + `event: error\n${dataLines}\n\n` + sse('[DONE]'));
    });
    const r = await sendRequest(template(server.url), {index: 0, text: 'x'}, ctx());
    expect(r).toMatchObject({ok: false, httpStatus: 200, contentChunks: 1});
    expect(r.error?.kind).toBe('protocol');
    expect(r.error?.message).toContain(message);
    expect(r.error?.message).not.toMatch(/malformed JSON/);
  });

  it('fails a request on an `event: error` that ends the stream with no content', async () => {
    server = await startServer((_req, res) => {
      startStream(res);
      res.end('event: error\ndata: {"message": "model not loaded"}\n\n');
    });
    const r = await sendRequest(template(server.url), {index: 0, text: 'x'}, ctx());
    expect(r).toMatchObject({ok: false, contentChunks: 0, outputTokens: null, tokenSource: null});
    expect(r.error).toEqual({kind: 'protocol', message: expect.stringContaining('model not loaded')});
  });

  it('fails a request on an `event: error` that follows [DONE], and keeps [DONE] as its end', async () => {
    server = await startServer(async (_req, res) => {
      startStream(res);
      await writeScheduled(res, [
        {atMs: 0, data: sse(completionChunk('a')) + sse('[DONE]')},
        {atMs: 30, data: 'event: error\ndata: detokenizer crashed\n\n'},
      ]);
    });
    const r = await sendRequest(template(server.url), {index: 0, text: 'x'}, ctx());
    expect(r.error).toEqual({kind: 'protocol', message: expect.stringContaining('detokenizer crashed')});
    // [DONE] and the content came in one read, so the end is that read, not the later error event.
    expect(r.endMs).toBe(r.lastContentMs);
  });

  it('reports a 200 that is not an event stream as a protocol error', async () => {
    server = await startServer((_req, res) => {
      res.writeHead(200, {'content-type': 'application/json'});
      res.end(JSON.stringify({choices: [{text: 'whole'}]}));
    });
    const r = await sendRequest(template(server.url), {index: 0, text: 'x'}, ctx());
    expect(r.error?.kind).toBe('protocol');
    expect(r.error?.message).toMatch(/no server-sent events.*application\/json/);
  });

  it('accepts a stream that ends without [DONE] or a final blank line', async () => {
    server = await startServer((_req, res) => {
      startStream(res);
      res.end(sse(completionChunk('a')) + `data: ${JSON.stringify(usageChunk(1, 1))}`);
    });
    const r = await sendRequest(template(server.url), {index: 0, text: 'x'}, ctx());
    expect(r).toMatchObject({ok: true, outputTokens: 1, tokenSource: 'usage'});
  });

  it('marks a request aborted by the caller, mid-stream', async () => {
    server = await startServer((_req, res) => {
      startStream(res);
      res.write(sse(completionChunk('a')));
    });
    const abort = new AbortController();
    const c = ctx({signal: abort.signal});
    let abortAtMs = 0;
    setTimeout(() => {
      abortAtMs = msSince(c.t0Ns);
      abort.abort();
    }, 60);
    const r = await sendRequest(template(server.url), {index: 0, text: 'x'}, c);
    const resolvedMs = msSince(c.t0Ns);
    expect(r).toMatchObject({ok: false, contentChunks: 1});
    // Not 'timeout' (5 s): the abort ended it, and its end is the abort.
    expect(r.error?.kind).toBe('aborted');
    expect(r.endMs).toBeGreaterThanOrEqual(abortAtMs);
    expect(r.endMs).toBeLessThanOrEqual(resolvedMs);
  });

  it('marks a request aborted before it was sent, without sending it', async () => {
    server = await instant(['a']);
    const abort = new AbortController();
    abort.abort();
    const one = createAgent('http://127.0.0.1', 1);
    const r = await sendRequest(template(server.url), {index: 0, text: 'x'}, ctx({signal: abort.signal, agent: one}));
    expect(r.error?.kind).toBe('aborted');
    // A request on the same single socket: had the first been sent, the server would have had it first.
    expect((await sendRequest(template(server.url), {index: 1, text: 'y'}, ctx({agent: one}))).ok).toBe(true);
    one.destroy();
    expect(server.received.map((x) => x.body.prompt)).toEqual(['y']);
  });

  it('never rejects, whatever the failure', async () => {
    const r = await sendRequest(template('http://127.0.0.1:1'), {index: 0, text: 'x'}, ctx());
    expect(r.ok).toBe(false);
  });
});
