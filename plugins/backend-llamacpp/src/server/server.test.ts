/**
 * The real server (`node dist/server/main.js`, threads 1, parallel 4) on a generated tiny model,
 * spoken to over real HTTP. One server for the whole file.
 */
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {ensureBuilt, http, json, parseSse, spawnServer, tempDir, type ApiBody, type ServerProcess} from '../__fixtures__/harness.js';
import {writeTinyModel} from '../gguf/tiny-model.js';

let server: ServerProcess;
const dir = tempDir();

beforeAll(async () => {
  ensureBuilt();
  const model = await writeTinyModel(join(dir.path, 'tiny.gguf'), {seed: 1});
  server = await spawnServer(['--model', model.path, '--port', '0', '--threads', '1', '--parallel', '4']);
});

afterAll(async () => {
  await server?.stop();
  dir.remove();
});

const completions = () => `${server.url}/v1/completions`;
const chat = () => `${server.url}/v1/chat/completions`;
const PROMPT = 'the energy of a model is the power over time';

/** Text of a non-streaming answer, completion or chat. */
function textOf(body: ApiBody): string {
  const choice = body.choices[0]!;
  return choice.text ?? choice.message!.content;
}

/** Streams a request and returns its parsed events, the content chunks and their concatenation. */
async function stream(url: string, body: Record<string, unknown>) {
  const res = await http(url, {...body, stream: true});
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
  const sse = parseSse(res.text);
  const content = sse.events.filter((e) => e.choices.length > 0);
  const pieces = content.map((e) => e.choices[0]!.text ?? e.choices[0]!.delta!.content!);
  return {res, ...sse, content, text: pieces.join(''), pieces};
}

describe('service routes', () => {
  it('answers health, models and version', async () => {
    expect(await json(`${server.url}/health`)).toEqual({status: 200, body: {status: 'ok'}});
    const models = await json<{object: string; data: Array<{id: string; object: string; meta: Record<string, number>}>}>(`${server.url}/v1/models`);
    expect(models.status).toBe(200);
    expect(models.body.object).toBe('list');
    expect(models.body.data).toHaveLength(1);
    expect(models.body.data[0]).toMatchObject({id: 'tiny.gguf', object: 'model', meta: {n_ctx: 256, n_ctx_train: 256, parallel: 4, n_vocab: 390}});
    const version = await json<Record<string, unknown>>(`${server.url}/version`);
    expect(version.body).toMatchObject({engine: 'node-llama-cpp', version: '3.21.1', lemBackend: '0.1.0', gpu: false});
    expect(typeof version.body.llamaCppRelease).toBe('string');
  });

  it('tokenizes and detokenizes any text losslessly (byte fallback)', async () => {
    const content = 'hello world, Émile → 電力 ✓ 42';
    const tokenized = await json<{tokens: number[]}>(`${server.url}/tokenize`, {content});
    expect(tokenized.status).toBe(200);
    expect(tokenized.body.tokens.length).toBeGreaterThan(5);
    expect(tokenized.body.tokens.every((t) => Number.isInteger(t) && t >= 0 && t < 390)).toBe(true);
    expect(tokenized.body.tokens[0]).not.toBe(1); // no BOS unless add_special
    const withBos = await json<{tokens: number[]}>(`${server.url}/tokenize`, {content, add_special: true});
    expect(withBos.body.tokens).toEqual([1, ...tokenized.body.tokens]);
    const back = await json<{content: string}>(`${server.url}/detokenize`, {tokens: tokenized.body.tokens});
    expect(back).toEqual({status: 200, body: {content}});
    const pieces = await json<{tokens: Array<{id: number; piece: string}>}>(`${server.url}/tokenize`, {content: 'hello', with_pieces: true});
    expect(pieces.body.tokens).toEqual([{id: expect.any(Number), piece: ' hello'}]);
  });

  it('exposes Prometheus counters that move with generation', async () => {
    const counter = async (name: string) => {
      const res = await http(`${server.url}/metrics`);
      const match = new RegExp(`^llamacpp:${name} (\\d+)$`, 'm').exec(res.text);
      return Number(match![1]);
    };
    const before = await counter('tokens_predicted_total');
    await json(completions(), {prompt: PROMPT, max_tokens: 7, ignore_eos: true});
    expect((await counter('tokens_predicted_total')) - before).toBe(7);
  });
});

describe('completions', () => {
  it('answers non-streaming with usage and finish_reason length', async () => {
    const prompt = await json<{tokens: number[]}>(`${server.url}/tokenize`, {content: PROMPT, add_special: true});
    const {status, body} = await json(completions(), {prompt: PROMPT, max_tokens: 12, ignore_eos: true, temperature: 0});
    expect(status).toBe(200);
    expect(body.id).toMatch(/^cmpl-/);
    expect(body.object).toBe('text_completion');
    expect(body.model).toBe('tiny.gguf');
    expect(Math.abs(body.created - Date.now() / 1000)).toBeLessThan(60);
    expect(body.choices).toHaveLength(1);
    expect(body.choices[0]).toMatchObject({index: 0, finish_reason: 'length'});
    expect(body.usage).toEqual({prompt_tokens: prompt.body.tokens.length, completion_tokens: 12, total_tokens: prompt.body.tokens.length + 12});
  });

  it('streams one chunk per token, then a usage chunk with no choices, then [DONE]', async () => {
    const request = {prompt: PROMPT, max_tokens: 16, ignore_eos: true, seed: 11, temperature: 0.8};
    const s = await stream(completions(), {...request, stream_options: {include_usage: true}});
    expect(s.done).toBe(true);
    expect(s.doneIsLast).toBe(true);
    expect(s.content).toHaveLength(16);
    expect(s.content.every((e) => e.object === 'text_completion' && e.id === s.events[0]!.id && typeof e.choices[0]!.text === 'string')).toBe(true);
    expect(s.content.slice(0, -1).every((e) => e.choices[0]!.finish_reason === null)).toBe(true);
    expect(s.content.at(-1)!.choices[0]!.finish_reason).toBe('length');
    const last = s.events.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({completion_tokens: 16});
    expect(last.usage!.total_tokens).toBe(last.usage!.prompt_tokens + 16);
    // The same request without streaming generates the same text.
    const plain = await json(completions(), request);
    expect(textOf(plain.body)).toBe(s.text);
  });

  it('streams without a usage chunk unless asked', async () => {
    const s = await stream(completions(), {prompt: PROMPT, max_tokens: 4, ignore_eos: true});
    expect(s.events).toHaveLength(4);
    expect(s.events.every((e) => e.choices.length === 1 && e.usage === undefined)).toBe(true);
    expect(s.doneIsLast).toBe(true);
  });

  it('with ignore_eos generates exactly max_tokens where the model would otherwise stop early', async () => {
    // Find a seed for which the model samples its end-of-sequence token early (deterministic search).
    let seed = -1;
    let early: ApiBody | undefined;
    for (let s = 0; s < 80 && seed < 0; s++) {
      const {body} = await json(completions(), {prompt: PROMPT, max_tokens: 48, seed: s, temperature: 1.5});
      if (body.choices[0]!.finish_reason === 'stop') {
        seed = s;
        early = body;
      }
    }
    expect(seed, 'no seed made the model stop early').toBeGreaterThanOrEqual(0);
    expect(early!.usage!.completion_tokens).toBeLessThan(48);

    const {body} = await json(completions(), {prompt: PROMPT, max_tokens: 48, seed, temperature: 1.5, ignore_eos: true});
    expect(body.choices[0]!.finish_reason).toBe('length');
    expect(body.usage!.completion_tokens).toBe(48);
    const s = await stream(completions(), {prompt: PROMPT, max_tokens: 48, seed, temperature: 1.5, ignore_eos: true, stream_options: {include_usage: true}});
    expect(s.content).toHaveLength(48);
    expect(s.events.at(-1)!.usage!.completion_tokens).toBe(48);
  });

  it('is deterministic for a seed, and varies with it', async () => {
    const ask = (seed: number) => json(completions(), {prompt: PROMPT, max_tokens: 32, ignore_eos: true, temperature: 1, seed});
    const [a, b, c] = [await ask(5), await ask(5), await ask(6)];
    expect(textOf(b.body)).toBe(textOf(a.body));
    expect(textOf(c.body)).not.toBe(textOf(a.body));
    const greedy = () => json(completions(), {prompt: PROMPT, max_tokens: 32, ignore_eos: true, temperature: 0});
    expect(textOf((await greedy()).body)).toBe(textOf((await greedy()).body));
  });

  it('stops at a stop string without emitting it, streaming or not', async () => {
    const base = {prompt: 'hello world', max_tokens: 40, temperature: 0, ignore_eos: true};
    const full = textOf((await json(completions(), base)).body);
    const at = full.search(/[a-z]{3}/g);
    expect(at, `no ASCII run in ${JSON.stringify(full)}`).toBeGreaterThanOrEqual(0);
    const stop = full.slice(at + 1, at + 3);
    const expected = full.slice(0, full.indexOf(stop));

    const plain = await json(completions(), {...base, stop});
    expect(plain.body.choices[0]!.finish_reason).toBe('stop');
    expect(textOf(plain.body)).toBe(expected);
    expect(plain.body.usage!.completion_tokens).toBeLessThan(40);

    const s = await stream(completions(), {...base, stop: ['not-in-output', stop], stream_options: {include_usage: true}});
    expect(s.text).toBe(expected);
    expect(s.pieces.some((p) => p.includes(stop))).toBe(false);
    expect(s.content.at(-1)!.choices[0]!.finish_reason).toBe('stop');
    expect(s.content).toHaveLength(s.events.at(-1)!.usage!.completion_tokens);
  });

  it('accepts a prompt given as token ids', async () => {
    const {body: tokenized} = await json<{tokens: number[]}>(`${server.url}/tokenize`, {content: PROMPT, add_special: true});
    const byText = await json(completions(), {prompt: PROMPT, max_tokens: 8, temperature: 0, ignore_eos: true});
    const byIds = await json(completions(), {prompt: tokenized.tokens, max_tokens: 8, temperature: 0, ignore_eos: true});
    expect(byIds.status).toBe(200);
    expect(textOf(byIds.body)).toBe(textOf(byText.body));
    expect(byIds.body.usage).toEqual(byText.body.usage);
  });
});

describe('chat completions', () => {
  const messages = [
    {role: 'system', content: 'You are terse.'},
    {role: 'user', content: 'hello world'},
  ];

  it('answers non-streaming with an assistant message formatted by the chat template', async () => {
    const {status, body} = await json(chat(), {messages, max_tokens: 10, ignore_eos: true});
    expect(status).toBe(200);
    expect(body.id).toMatch(/^chatcmpl-/);
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0]).toMatchObject({index: 0, message: {role: 'assistant', content: expect.any(String)}, finish_reason: 'length'});
    const userOnly = await json<{tokens: number[]}>(`${server.url}/tokenize`, {content: 'You are terse. hello world', add_special: true});
    expect(body.usage!.prompt_tokens).toBeGreaterThan(userOnly.body.tokens.length); // the template adds its markers
    expect(body.usage!.completion_tokens).toBe(10);
  });

  it('streams chat chunks, the first carrying the role, one per token', async () => {
    const s = await stream(chat(), {messages, max_tokens: 9, ignore_eos: true, stream_options: {include_usage: true}, max_completion_tokens: 9});
    expect(s.content).toHaveLength(9);
    expect(s.content.every((e) => e.object === 'chat.completion.chunk')).toBe(true);
    expect(s.content[0]!.choices[0]!.delta!.role).toBe('assistant');
    expect(s.content.slice(1).every((e) => e.choices[0]!.delta!.role === undefined && typeof e.choices[0]!.delta!.content === 'string')).toBe(true);
    expect(s.content.at(-1)!.choices[0]!.finish_reason).toBe('length');
    expect(s.events.at(-1)!.usage!.completion_tokens).toBe(9);
    expect(s.doneIsLast).toBe(true);
  });

  it('accepts content given as text parts', async () => {
    const {status, body} = await json(chat(), {messages: [{role: 'user', content: [{type: 'text', text: 'hello'}, {type: 'text', text: ' world'}]}], max_tokens: 3, ignore_eos: true, temperature: 0});
    const plain = await json(chat(), {messages: [{role: 'user', content: 'hello world'}], max_tokens: 3, ignore_eos: true, temperature: 0});
    expect(status).toBe(200);
    expect(body.usage).toEqual(plain.body.usage);
    expect(textOf(body)).toBe(textOf(plain.body));
  });
});

describe('concurrency', () => {
  it('serves 4 streaming requests at once, batched, each with correct usage', async () => {
    const maxTokens = 96;
    const started = performance.now();
    const results = await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        const res = await http(completions(), {prompt: `${PROMPT} ${i}`, max_tokens: maxTokens, ignore_eos: true, seed: i, stream: true, stream_options: {include_usage: true}});
        const sse = parseSse(res.text);
        return {firstMs: res.pieces[0]!.atMs - started, lastMs: res.pieces.at(-1)!.atMs - started, sse};
      }),
    );
    for (const r of results) {
      expect(r.sse.doneIsLast).toBe(true);
      expect(r.sse.events.filter((e) => e.choices.length > 0)).toHaveLength(maxTokens);
      expect(r.sse.events.at(-1)!.usage!.completion_tokens).toBe(maxTokens);
    }
    // Overlap: every stream had started before any had finished.
    const latestFirst = Math.max(...results.map((r) => r.firstMs));
    const earliestLast = Math.min(...results.map((r) => r.lastMs));
    expect(latestFirst).toBeLessThan(earliestLast);
  });

  it('queues requests beyond the sequences and serves them all', async () => {
    const bodies = await Promise.all(Array.from({length: 7}, (_, i) => json(completions(), {prompt: PROMPT, max_tokens: 10, ignore_eos: true, seed: i})));
    expect(bodies.map((b) => [b.status, b.body.usage!.completion_tokens])).toEqual(Array.from({length: 7}, () => [200, 10]));
  });
});

describe('bad requests', () => {
  const longPrompt = Array.from({length: 300}, (_, i) => `word${i}`).join(' ');

  it.each([
    ['invalid JSON', completions, '{"prompt": "x",', /JSON/],
    ['an empty body', completions, '', /empty/],
    ['a missing prompt', completions, {max_tokens: 4}, /prompt/],
    ['max_tokens 0', completions, {prompt: 'x', max_tokens: 0}, /max_tokens/],
    ['a negative temperature', completions, {prompt: 'x', temperature: -1}, /temperature/],
    ['n = 2', completions, {prompt: 'x', n: 2}, /n/],
    ['a prompt longer than the context', completions, {prompt: longPrompt, max_tokens: 4}, /context/],
    ['token ids outside the vocabulary', completions, {prompt: [1, 5, 100000], max_tokens: 4}, /vocabulary/],
    ['missing messages', chat, {max_tokens: 4}, /messages/],
    ['an empty message list', chat, {messages: []}, /messages/],
    ['an unknown role', chat, {messages: [{role: 'wizard', content: 'x'}]}, /role/],
    ['detokenize of a bad id', () => `${server.url}/detokenize`, {tokens: [-1]}, /vocabulary/],
  ])('rejects %s with 400 and an OpenAI-style error', async (_label, url, body, message) => {
    const res = await http(url(), body);
    expect(res.status).toBe(400);
    const parsed = JSON.parse(res.text) as ApiBody;
    expect(parsed.error).toMatchObject({type: 'invalid_request_error', message: expect.stringMatching(message), code: expect.any(String)});
  });

  it('rejects a streaming request for a too-long prompt before streaming', async () => {
    const res = await http(completions(), {prompt: longPrompt, stream: true});
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/json/);
  });

  it('answers an unknown route with 404 and a wrong method with 405', async () => {
    const missing = await http(`${server.url}/v1/embeddings`, {input: 'x'});
    expect(missing.status).toBe(404);
    expect((JSON.parse(missing.text) as ApiBody).error!.type).toBe('not_found_error');
    expect((await http(`${server.url}/v1/completions`)).status).toBe(405);
  });
});
