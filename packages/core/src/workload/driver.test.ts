import {afterAll, afterEach, describe, expect, it} from 'vitest';
import {isCodedError} from '../errors.js';
import {monoNs} from '../measure/types.js';
import {closeTokenizeAgents, type Prompt, type RequestTemplate} from './client.js';
import {runWorkload, type WorkloadOptions} from './driver.js';
import {poissonSchedule, splitmix32} from './schedule.js';
import {completionChunk, sleep, sse, startServer, startStream, usageChunk, writeScheduled, type Received, type TestServer} from './__fixtures__/server.js';

const template = (baseUrl: string, over: Partial<RequestTemplate> = {}): RequestTemplate => ({
  baseUrl,
  api: 'completions',
  model: 'tiny',
  maxTokens: 4,
  temperature: 0,
  extras: {},
  timeoutMs: 10_000,
  ...over,
});
const prompts = (n: number): Prompt[] => Array.from({length: n}, (_, i) => ({index: i, text: `prompt ${i}`}));

/** A stream of 4 chunks over `durationMs` (or a duration per prompt), then usage and [DONE]. */
const streaming = (duration: number | ((prompt: string) => number)) => async (req: Received, res: import('node:http').ServerResponse) => {
  const durationMs = typeof duration === 'number' ? duration : duration(String(req.body?.prompt));
  startStream(res);
  await writeScheduled(res, [
    ...Array.from({length: 4}, (_, i) => ({atMs: (durationMs * i) / 4, data: sse(completionChunk('tok '))})),
    {atMs: durationMs, data: sse(usageChunk(2, 4)) + sse('[DONE]')},
  ]);
};

let server: TestServer | undefined;
afterAll(() => closeTokenizeAgents());
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const options = (over: Partial<WorkloadOptions> & Pick<WorkloadOptions, 'template' | 'prompts' | 'mode'>): WorkloadOptions => ({phase: 'measure', t0Ns: monoNs(), firstId: 0, ...over});

describe('poissonSchedule', () => {
  it('starts at 0, increases, and is the same for the same seed', () => {
    const a = poissonSchedule(500, 10, 7);
    expect(a[0]).toBe(0);
    for (let i = 1; i < a.length; i++) expect(a[i]!).toBeGreaterThanOrEqual(a[i - 1]!);
    expect(poissonSchedule(500, 10, 7)).toEqual(a);
    expect(poissonSchedule(500, 10, 8)).not.toEqual(a);
  });

  it.each([1, 2, 3, 42, 12345])('has mean inter-arrival 1/rate within 5 percent and exponential spread over 2,000 draws (seed %i)', (seed) => {
    const ratePerS = 25;
    const t = poissonSchedule(2001, ratePerS, seed);
    const gaps = t.slice(1).map((x, i) => x - t[i]!);
    const mean = gaps.reduce((s, g) => s + g, 0) / gaps.length;
    expect(Math.abs(mean / (1000 / ratePerS) - 1)).toBeLessThan(0.05);
    // Exponential: standard deviation equals the mean.
    const sd = Math.sqrt(gaps.reduce((s, g) => s + (g - mean) ** 2, 0) / (gaps.length - 1));
    expect(Math.abs(sd / mean - 1)).toBeLessThan(0.1);
  });

  it('draws uniform floats in [0, 1) from splitmix32', () => {
    const random = splitmix32(99);
    const xs = Array.from({length: 10_000}, random);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(Math.abs(xs.reduce((s, x) => s + x, 0) / xs.length - 0.5)).toBeLessThan(0.01);
  });

  it('rejects a rate that is not positive and finite', () => {
    expect(() => poissonSchedule(3, 0, 1)).toThrow(RangeError);
    expect(() => poissonSchedule(3, Infinity, 1)).toThrow(RangeError);
  });
});

describe('runWorkload closed loop', () => {
  it('keeps exactly `concurrency` in flight, sends each prompt once and in order', async () => {
    // Uneven lengths (20..60 ms): a loop that waited for a whole batch would leave slots idle.
    server = await startServer(streaming((prompt) => 20 + 10 * (Number(prompt.split(' ')[1]) % 5)));
    const started: number[] = [];
    const done: number[] = [];
    const result = await runWorkload(
      options({template: template(server.url), prompts: prompts(24), mode: {kind: 'closed', concurrency: 4}, firstId: 100, onStart: (id) => started.push(id), onDone: (r) => done.push(r.id)}),
    );
    expect(server.maxInFlight).toBe(4);
    expect(result.maxInFlight).toBe(4);
    // Kept full: between the first and last arrival the server almost always holds 4.
    expect(server.meanInFlightBetweenArrivals()).toBeGreaterThan(3.5);
    expect(server.received.map((r) => r.body.prompt)).toEqual(prompts(24).map((p) => p.text));
    expect(started).toEqual(Array.from({length: 24}, (_, i) => 100 + i));
    expect(done.sort((a, b) => a - b)).toEqual(started);
    expect(result.records.map((r) => r.id)).toEqual(started);
    expect(result.records.map((r) => r.promptIndex)).toEqual(Array.from({length: 24}, (_, i) => i));
    expect(result.records.every((r) => r.ok && r.outputTokens === 4 && r.scheduledMs === r.sendMs)).toBe(true);
    // Keep-alive: one connection per slot, reused.
    expect(server.connections).toBe(4);
    expect(result.firstSendMs).toBe(Math.min(...result.records.map((r) => r.sendMs)));
    expect(result.lastEndMs).toBe(Math.max(...result.records.map((r) => r.endMs)));
    expect(result).toMatchObject({sendLagMs: null, achievedRatePerS: null, targetRatePerS: null});
    // Steady state: from the 4th send (all slots full) to the last send.
    expect(result.steadyState).toEqual({startMs: result.records[3]!.sendMs, endMs: result.records[23]!.sendMs});
  });

  it('keeps the slots full while output tokens are counted on the tokenize path', async () => {
    server = await startServer(
      async (req, res) => {
        if (req.path === '/tokenize') {
          await sleep(80);
          res.writeHead(200, {'content-type': 'application/json'});
          res.end(JSON.stringify({tokens: [1, 2, 3]}));
          return;
        }
        startStream(res);
        await writeScheduled(res, [
          {atMs: 0, data: sse(completionChunk('a'))},
          {atMs: 20, data: sse(completionChunk('b')) + sse('[DONE]')},
        ]);
      },
      {countPath: (path) => path !== '/tokenize'},
    );
    const result = await runWorkload(options({template: template(server.url, {tokenizePath: '/tokenize'}), prompts: prompts(12), mode: {kind: 'closed', concurrency: 2}}));
    expect(result.records.every((r) => r.ok && r.tokenSource === 'tokenize' && r.outputTokens === 3)).toBe(true);
    expect(server.maxInFlight).toBe(2);
    expect(server.meanInFlightBetweenArrivals()).toBeGreaterThan(1.7);
  });

  it('sends fewer than `concurrency` prompts at once when there are fewer', async () => {
    server = await startServer(streaming(10));
    const result = await runWorkload(options({template: template(server.url), prompts: prompts(3), mode: {kind: 'closed', concurrency: 8}}));
    expect(result.records).toHaveLength(3);
    expect(result.steadyState).toBeNull();
  });

  it('returns an empty result for no prompts', async () => {
    const result = await runWorkload(options({template: template('http://127.0.0.1:1'), prompts: [], mode: {kind: 'closed', concurrency: 2}}));
    expect(result).toMatchObject({records: [], firstSendMs: null, lastEndMs: null, maxInFlight: 0});
  });

  it('stops sending on abort and marks the requests in flight aborted', async () => {
    server = await startServer(streaming(1_000));
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    const before = performance.now();
    const result = await runWorkload(options({template: template(server.url), prompts: prompts(10), mode: {kind: 'closed', concurrency: 3}, signal: abort.signal}));
    expect(performance.now() - before).toBeLessThan(400);
    expect(result.records).toHaveLength(3);
    expect(result.records.every((r) => r.error?.kind === 'aborted')).toBe(true);
    await sleep(30);
    expect(server.received).toHaveLength(3);
  });

  it('rejects an invalid concurrency with a config error', async () => {
    const error = await runWorkload(options({template: template('http://127.0.0.1:1'), prompts: prompts(1), mode: {kind: 'closed', concurrency: 0}})).catch((e: unknown) => e);
    expect(isCodedError(error)).toBe(true);
    expect((error as {code: string}).code).toBe('E_CONFIG_INVALID');
  });

  it('rethrows an error thrown by a callback once every request has settled', async () => {
    server = await startServer(streaming(5));
    const error = await runWorkload(
      options({
        template: template(server.url),
        prompts: prompts(4),
        mode: {kind: 'closed', concurrency: 2},
        onDone: () => {
          throw new Error('renderer broke');
        },
      }),
    ).catch((e: unknown) => e);
    expect((error as Error).message).toBe('renderer broke');
    expect(server.received).toHaveLength(4);
  });
});

describe('runWorkload open loop', () => {
  it('sends on the seeded Poisson schedule with small send lag against an instant server', async () => {
    server = await startServer(streaming(0));
    const n = 80;
    const ratePerS = 200;
    const t0Ns = monoNs();
    const result = await runWorkload(options({template: template(server.url), prompts: prompts(n), mode: {kind: 'open', ratePerS, seed: 5}, t0Ns}));
    expect(result.records).toHaveLength(n);
    expect(result.records.every((r) => r.ok)).toBe(true);
    // Scheduled times are exactly the schedule, shifted to the start.
    const schedule = poissonSchedule(n, ratePerS, 5);
    const start = result.records[0]!.scheduledMs;
    result.records.forEach((r, i) => expect(r.scheduledMs - start).toBeCloseTo(schedule[i]!, 6));
    // Typical here: p50 ≈ 0.13 ms, p99 ≤ 3 ms; the bounds leave room for a busy 2-core machine.
    expect(result.sendLagMs!.p50).toBeLessThan(2);
    expect(result.sendLagMs!.p99).toBeLessThan(25);
    expect(result.records.every((r) => r.sendMs >= r.scheduledMs)).toBe(true);
    // Achieved rate = what this schedule asked for (its own realisation of the Poisson process), within the lag.
    const scheduledRate = ((n - 1) * 1000) / schedule[n - 1]!;
    expect(Math.abs(result.achievedRatePerS! / scheduledRate - 1)).toBeLessThan(0.05);
    expect(result.targetRatePerS).toBe(ratePerS);
    // Steady state: from arrival ⌈0.1·N⌉ = 8 (index 7) to the last arrival.
    expect(result.steadyState).toEqual({startMs: result.records[7]!.scheduledMs, endMs: result.records[n - 1]!.scheduledMs});
  });

  it('sends at the scheduled times whatever is still in flight', async () => {
    server = await startServer(streaming(300));
    const result = await runWorkload(options({template: template(server.url), prompts: prompts(20), mode: {kind: 'open', ratePerS: 100, seed: 1}}));
    // 20 arrivals in ~200 ms against 300 ms responses: nearly all overlap.
    expect(server.maxInFlight).toBeGreaterThan(12);
    expect(result.sendLagMs!.p50).toBeLessThan(2);
    expect(result.records.every((r) => r.ok)).toBe(true);
  });

  it('stops sending on abort', async () => {
    server = await startServer(streaming(0));
    const abort = new AbortController();
    const t0Ns = monoNs();
    let abortAtMs = 0;
    setTimeout(() => {
      abortAtMs = Number(monoNs() - t0Ns) / 1e6;
      abort.abort();
    }, 150);
    const before = performance.now();
    const result = await runWorkload(options({template: template(server.url), prompts: prompts(100), mode: {kind: 'open', ratePerS: 50, seed: 3}, signal: abort.signal, t0Ns}));
    expect(performance.now() - before).toBeLessThan(300);
    // ~7 arrivals in 150 ms at 50/s; none after the abort.
    expect(result.records.length).toBeGreaterThan(0);
    expect(result.records.length).toBeLessThan(30);
    expect(Math.max(...result.records.map((r) => r.sendMs))).toBeLessThanOrEqual(abortAtMs);
    expect(result.records.every((r) => r.ok || r.error?.kind === 'aborted')).toBe(true);
    await sleep(30);
    expect(server.received.length).toBeLessThanOrEqual(result.records.length);
  });

  it('rejects a rate that is not positive', async () => {
    const error = await runWorkload(options({template: template('http://127.0.0.1:1'), prompts: prompts(1), mode: {kind: 'open', ratePerS: -1, seed: 1}})).catch((e: unknown) => e);
    expect((error as {code: string}).code).toBe('E_CONFIG_INVALID');
  });
});

describe('runWorkload burst', () => {
  it('sends every prompt at once', async () => {
    server = await startServer(streaming(150));
    const result = await runWorkload(options({template: template(server.url), prompts: prompts(20), mode: {kind: 'burst'}}));
    expect(server.maxInFlight).toBe(20);
    expect(result.maxInFlight).toBe(20);
    const sends = result.records.map((r) => r.sendMs);
    expect(Math.max(...sends) - Math.min(...sends)).toBeLessThan(15);
    const arrivals = server.received.map((r) => r.atMs);
    expect(Math.max(...arrivals) - Math.min(...arrivals)).toBeLessThan(50);
    expect(result.records.every((r) => r.ok && r.scheduledMs === result.records[0]!.scheduledMs)).toBe(true);
    expect(result.sendLagMs!.max).toBeLessThan(15);
    expect(result).toMatchObject({achievedRatePerS: null, targetRatePerS: null, steadyState: null});
  });
});
