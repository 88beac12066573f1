import {afterAll, afterEach, describe, expect, it} from 'vitest';
import {isCodedError} from '../errors.js';
import {monoNs, msSince} from '../measure/types.js';
import {closeTokenizeAgents, type Prompt, type RequestTemplate} from './client.js';
import {runWorkload, type WorkloadOptions} from './driver.js';
import {poissonSchedule, splitmix32} from './schedule.js';
import {summarize} from './stats.js';
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

/**
 * A completion handler that holds every stream open after its first chunk and ends them one at
 * a time, oldest first, each time `full` are open, and all that are left once `total` have
 * arrived: the order of sends and ends is set by events, not timers. A driver that does not
 * refill a slot at once leaves fewer than `full` open; after `stallMs` the server then ends the
 * oldest anyway and counts a stall, so such a driver fails an assertion rather than hanging.
 * (`stallMs` only bounds how long a broken driver takes to fail; a working one never waits on it.)
 */
function turnstile(full: number, total: number, opts: {endData?: string; stallMs?: number} = {}) {
  const endData = opts.endData ?? sse(usageChunk(2, 2)) + sse('[DONE]');
  const stallMs = opts.stallMs ?? 1_000;
  const open: import('node:http').ServerResponse[] = [];
  const state = {arrived: 0, stalls: 0, /** Open streams (others) at each arrival, in arrival order. */ othersOpenAtArrival: [] as number[]};
  let timer: NodeJS.Timeout | undefined;
  const endOldest = () => open.shift()!.end(endData);
  const turn = () => {
    clearTimeout(timer);
    if (open.length >= full) endOldest();
    if (state.arrived >= total) while (open.length > 0) endOldest();
    if (open.length > 0) {
      timer = setTimeout(() => {
        state.stalls++;
        endOldest();
        turn();
      }, stallMs).unref();
    }
  };
  const handler = (req: Received, res: import('node:http').ServerResponse) => {
    if (req.path === '/tokenize') return;
    state.othersOpenAtArrival.push(open.length);
    state.arrived++;
    startStream(res);
    res.write(sse(completionChunk('tok ')));
    open.push(res);
    turn();
  };
  return {handler, state, stop: () => clearTimeout(timer)};
}

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
    // The server ends one stream only when 4 are open: a loop that waited for a whole batch, or
    // refilled late, would leave a slot empty and stall the server.
    const gate = turnstile(4, 24);
    server = await startServer(gate.handler);
    const started: number[] = [];
    const done: number[] = [];
    const result = await runWorkload(
      options({template: template(server.url), prompts: prompts(24), mode: {kind: 'closed', concurrency: 4}, firstId: 100, onStart: (id) => started.push(id), onDone: (r) => done.push(r.id)}),
    );
    gate.stop();
    expect(gate.state.stalls).toBe(0);
    expect(server.maxInFlight).toBe(4);
    expect(result.maxInFlight).toBe(4);
    // The first 4 go out at once; every later request arrives the moment one slot frees (3 others open).
    expect(gate.state.othersOpenAtArrival).toEqual([0, 1, 2, 3, ...Array.from({length: 20}, () => 3)]);
    expect(server.received.map((r) => r.body.prompt)).toEqual(prompts(24).map((p) => p.text));
    expect(started).toEqual(Array.from({length: 24}, (_, i) => 100 + i));
    expect(done.sort((a, b) => a - b)).toEqual(started);
    expect(result.records.map((r) => r.id)).toEqual(started);
    expect(result.records.map((r) => r.promptIndex)).toEqual(Array.from({length: 24}, (_, i) => i));
    expect(result.records.every((r) => r.ok && r.outputTokens === 2 && r.scheduledMs === r.sendMs)).toBe(true);
    // Keep-alive: one connection per slot, reused.
    expect(server.connections).toBe(4);
    expect(result.firstSendMs).toBe(Math.min(...result.records.map((r) => r.sendMs)));
    expect(result.lastEndMs).toBe(Math.max(...result.records.map((r) => r.endMs)));
    expect(result).toMatchObject({sendLagMs: null, achievedRatePerS: null, targetRatePerS: null});
  });

  it('starts the steady state when `concurrency` requests have completed, and ends it at the last send', async () => {
    const gate = turnstile(4, 24);
    server = await startServer(gate.handler);
    const result = await runWorkload(options({template: template(server.url), prompts: prompts(24), mode: {kind: 'closed', concurrency: 4}}));
    gate.stop();
    const endsInCompletionOrder = result.records.map((r) => r.endMs).sort((a, b) => a - b);
    // The 4th completion, not the 4th send (which is at the very start, the ramp).
    expect(result.steadyState).toEqual({startMs: endsInCompletionOrder[3], endMs: Math.max(...result.records.map((r) => r.sendMs))});
    // This server ends streams oldest first, so the 4th to complete is request 3; the steady
    // state starts after the 4th and before the 8th send.
    expect(result.steadyState!.startMs).toBe(result.records[3]!.endMs);
    expect(result.steadyState!.startMs).toBeGreaterThan(result.records[3]!.sendMs);
    expect(result.steadyState!.startMs).toBeLessThan(result.records[7]!.sendMs);
    expect(result.steadyState!.endMs).toBe(result.records[23]!.sendMs);
  });

  it('has no closed-loop steady state when the `concurrency`-th completion is not before the last send', async () => {
    // 4 prompts at concurrency 4: all are sent at once, and the 4th completes after the last send.
    server = await startServer(streaming(5));
    const full = await runWorkload(options({template: template(server.url), prompts: prompts(4), mode: {kind: 'closed', concurrency: 4}}));
    expect(full.records.every((r) => r.ok)).toBe(true);
    expect(full.steadyState).toBeNull();
    // 3 prompts at concurrency 2: the last send refills the slot of the 1st completion, and this
    // server ends request 1 (the 2nd completion) only once request 2 (the last send) has arrived.
    await server.close();
    const gate = turnstile(2, 3);
    server = await startServer(gate.handler);
    const after = await runWorkload(options({template: template(server.url), prompts: prompts(3), mode: {kind: 'closed', concurrency: 2}}));
    gate.stop();
    expect(after.records[1]!.endMs).toBeGreaterThan(after.records[2]!.sendMs);
    expect(after.steadyState).toBeNull();
  });

  it('keeps the slots full while output tokens are counted on the tokenize path', async () => {
    // No usage in the streams, so every record waits for a tokenize call; the server answers
    // none of them until all 12 completions have arrived. A driver that held a slot until its
    // count came back would send 2 requests, then stall here.
    const gate = turnstile(2, 12, {endData: sse(completionChunk('b')) + sse('[DONE]')});
    const held: Array<() => void> = [];
    let completionsBeforeFirstCount: number | null = null;
    let tokenizeStalled = false;
    const release = () => {
      completionsBeforeFirstCount ??= gate.state.arrived;
      while (held.length > 0) held.shift()!();
    };
    const fallback = setTimeout(() => {
      tokenizeStalled = true;
      release();
    }, 1_000);
    server = await startServer(
      (req, res) => {
        if (req.path !== '/tokenize') {
          gate.handler(req, res);
          if (gate.state.arrived === 12) release();
          return;
        }
        held.push(() => {
          res.writeHead(200, {'content-type': 'application/json'});
          res.end(JSON.stringify({tokens: [1, 2, 3]}));
        });
        if (completionsBeforeFirstCount !== null) release();
      },
      {countPath: (path) => path !== '/tokenize'},
    );
    const result = await runWorkload(options({template: template(server.url, {tokenizePath: '/tokenize'}), prompts: prompts(12), mode: {kind: 'closed', concurrency: 2}}));
    clearTimeout(fallback);
    gate.stop();
    expect(result.records.every((r) => r.ok && r.tokenSource === 'tokenize' && r.outputTokens === 3)).toBe(true);
    expect(tokenizeStalled).toBe(false);
    expect(gate.state.stalls).toBe(0);
    expect(completionsBeforeFirstCount).toBe(12);
    expect(server.maxInFlight).toBe(2);
    // Every arrival after the first two came while the other slot's stream was still open.
    expect(gate.state.othersOpenAtArrival).toEqual([0, 1, ...Array.from({length: 10}, () => 1)]);
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
    // Streams that never end; the abort comes once the server holds all 3.
    const abort = new AbortController();
    server = await startServer((_req, res) => {
      startStream(res);
      res.write(sse(completionChunk('a')));
      if (server!.received.length === 3) abort.abort();
    });
    let started = 0;
    const before = performance.now();
    const result = await runWorkload(
      options({template: template(server.url), prompts: prompts(10), mode: {kind: 'closed', concurrency: 3}, signal: abort.signal, onStart: () => started++}),
    );
    // The streams would never end by themselves (a 10 s timeout would say 'timeout'): the abort
    // ended them, at once (≤ 15 ms seen with both cores busy; the bound catches any wait).
    expect(performance.now() - before).toBeLessThan(2_000);
    expect(result.records).toHaveLength(3);
    expect(result.records.every((r) => r.error?.kind === 'aborted')).toBe(true);
    // Nothing sent after the abort: the driver started 3.
    expect(started).toBe(3);
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
  it('sends on the seeded Poisson schedule against an instant server, never early', async () => {
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
    expect(result.records.every((r) => r.sendMs >= r.scheduledMs)).toBe(true);
    // How late sends are is a figure for the benchmark (scripts/bench-driver.mjs), not a bound
    // here: with both cores busy this run saw p50 up to 61 ms. Drift is caught by the test that
    // holds the event loop up, below. The figures themselves:
    const lag = summarize(result.records.map((r) => r.sendMs - r.scheduledMs))!;
    expect(result.sendLagMs).toEqual({mean: lag.mean, p50: lag.p50, p99: lag.p99, max: lag.max});
    const sends = result.records.map((r) => r.sendMs);
    expect(result.achievedRatePerS).toBeCloseTo(((n - 1) * 1000) / (Math.max(...sends) - Math.min(...sends)), 9);
    expect(result.targetRatePerS).toBe(ratePerS);
    // Steady state: from arrival ⌈0.1·N⌉ = 8 (index 7) to the last arrival.
    expect(result.steadyState).toEqual({startMs: result.records[7]!.scheduledMs, endMs: result.records[n - 1]!.scheduledMs});
  });

  it('sends every arrival that fell due while the event loop was held up at once, without shifting the rest', async () => {
    // Seed 1 at 100/s: arrivals at 0, 8.9, 9.6, 18.6, 25.0, 29.3, 45.5, 81.4, … ms. Request 2's
    // onStart holds the loop until requests 3–6 are all overdue; they must go in that same turn.
    // A loop that slept each gap after the previous send (drift), sent one request per wake-up,
    // or judged what was due by a clock read before the hold would wait again first.
    const schedule = poissonSchedule(12, 100, 1);
    const holdMs = schedule[6]! - schedule[2]! + 5;
    server = await startServer(streaming(0));
    const t0Ns = monoNs();
    let turnOver = false;
    let heldUntilMs = 0;
    /** For requests 3–6: sent in the turn that the hold ended, before any further wait. */
    const sentInHoldTurn: boolean[] = [];
    const result = await runWorkload(
      options({
        template: template(server.url),
        prompts: prompts(12),
        mode: {kind: 'open', ratePerS: 100, seed: 1},
        t0Ns,
        onStart: (id) => {
          if (id === 2) {
            const until = performance.now() + holdMs;
            while (performance.now() < until) {
              // a busy event loop (a slow renderer, a GC pause)
            }
            heldUntilMs = msSince(t0Ns);
            setImmediate(() => (turnOver = true));
          }
          if (id >= 3 && id <= 6) sentInHoldTurn.push(!turnOver);
        },
      }),
    );
    expect(result.records.every((r) => r.ok)).toBe(true);
    expect(sentInHoldTurn).toEqual([true, true, true, true]);
    // They went as soon as the loop was free, after their due times, and the schedule is unshifted.
    const start = result.records[0]!.scheduledMs;
    result.records.forEach((r, i) => expect(r.scheduledMs - start).toBeCloseTo(schedule[i]!, 6));
    for (const r of result.records.slice(3, 7)) {
      expect(r.scheduledMs).toBeLessThan(heldUntilMs);
      expect(r.sendMs).toBeGreaterThanOrEqual(heldUntilMs);
    }
  });

  it('sends at the scheduled times whatever is still in flight', async () => {
    // The server answers nothing until all 20 have arrived: a loop that waited for responses
    // before sending would stall it.
    const gate = turnstile(20, 20);
    server = await startServer(gate.handler);
    const result = await runWorkload(options({template: template(server.url), prompts: prompts(20), mode: {kind: 'open', ratePerS: 100, seed: 1}}));
    gate.stop();
    expect(gate.state.stalls).toBe(0);
    expect(server.maxInFlight).toBe(20);
    expect(result.maxInFlight).toBe(20);
    expect(result.records.every((r) => r.ok && r.sendMs >= r.scheduledMs)).toBe(true);
  });

  it('stops sending on abort, and wakes from the wait for the next arrival at once', async () => {
    // Seed 3 at 1/s: the second arrival is 2.6 s after the first. The abort comes when the server
    // has the first, so the driver is waiting for the second: it must resolve before that is due.
    const schedule = poissonSchedule(3, 1, 3);
    expect(schedule[1]!).toBeGreaterThan(2_000);
    const abort = new AbortController();
    const t0Ns = monoNs();
    let abortAtMs = 0;
    server = await startServer((req, res) => {
      startStream(res);
      res.end(sse(completionChunk('a')) + sse(usageChunk(1, 1)) + sse('[DONE]'));
      abortAtMs = msSince(t0Ns);
      abort.abort();
    });
    let started = 0;
    const result = await runWorkload(
      options({template: template(server.url), prompts: prompts(3), mode: {kind: 'open', ratePerS: 1, seed: 3}, signal: abort.signal, t0Ns, onStart: () => started++}),
    );
    const resolvedMs = msSince(t0Ns);
    expect(started).toBe(1);
    expect(result.records).toHaveLength(1);
    expect(result.records[0]!.sendMs).toBeLessThanOrEqual(abortAtMs);
    expect(result.records.every((r) => r.ok || r.error?.kind === 'aborted')).toBe(true);
    expect(resolvedMs).toBeLessThan(result.records[0]!.scheduledMs + schedule[1]!);
    expect(server.received).toHaveLength(1);
  });

  it('rejects a rate that is not positive', async () => {
    const error = await runWorkload(options({template: template('http://127.0.0.1:1'), prompts: prompts(1), mode: {kind: 'open', ratePerS: -1, seed: 1}})).catch((e: unknown) => e);
    expect((error as {code: string}).code).toBe('E_CONFIG_INVALID');
  });
});

describe('runWorkload measure-window hooks', () => {
  const modes: Array<[string, WorkloadOptions['mode']]> = [
    ['closed', {kind: 'closed', concurrency: 2}],
    ['open', {kind: 'open', ratePerS: 200, seed: 4}],
    ['burst', {kind: 'burst'}],
  ];

  it.each(modes)('%s loop: awaits beforeFirstSend before the first send, and calls onLastStreamEnd once at the last end', async (_name, mode) => {
    server = await startServer(streaming(10));
    const t0Ns = monoNs();
    const events: string[] = [];
    let hookDoneMs = 0;
    let receivedDuringHook = -1;
    const lastEnds: Array<{atMs: number; calledMs: number; done: number}> = [];
    const result = await runWorkload(
      options({
        template: template(server.url),
        prompts: prompts(6),
        mode,
        t0Ns,
        beforeFirstSend: async () => {
          events.push('before');
          // A boundary read takes a while; the first send must wait for it.
          await sleep(50);
          receivedDuringHook = server!.received.length;
          hookDoneMs = msSince(t0Ns);
        },
        onStart: (id) => events.push(`start ${id}`),
        onDone: (r) => events.push(`done ${r.id}`),
        onLastStreamEnd: (atMs) => {
          events.push('last');
          lastEnds.push({atMs, calledMs: msSince(t0Ns), done: events.filter((e) => e.startsWith('done')).length});
        },
      }),
    );
    expect(result.records.every((r) => r.ok)).toBe(true);
    expect(events[0]).toBe('before');
    expect(events[1]).toBe('start 0');
    expect(receivedDuringHook).toBe(0);
    expect(result.firstSendMs).toBeGreaterThanOrEqual(hookDoneMs);
    // Open loop: the schedule starts once the hook is done, so its first arrival is not late by the hook.
    expect(Math.min(...result.records.map((r) => r.scheduledMs))).toBeGreaterThanOrEqual(hookDoneMs);
    expect(lastEnds).toHaveLength(1);
    expect(lastEnds[0]!.atMs).toBe(result.lastEndMs);
    expect(lastEnds[0]!.calledMs).toBeGreaterThanOrEqual(result.lastEndMs!);
    // Every send came before it, and it came before the last record was handed over.
    expect(events.lastIndexOf('start 5')).toBeLessThan(events.indexOf('last'));
    expect(lastEnds[0]!.done).toBeLessThan(6);
  });

  it('calls onLastStreamEnd when the last stream is over, without waiting for a slow token count', async () => {
    const t0Ns = monoNs();
    const countsAnsweredMs: number[] = [];
    server = await startServer(
      async (req, res) => {
        if (req.path === '/tokenize') {
          // Slow token counting: it must not stretch the measure window.
          await sleep(300);
          countsAnsweredMs.push(msSince(t0Ns));
          res.writeHead(200, {'content-type': 'application/json'});
          res.end(JSON.stringify({tokens: [1, 2]}));
          return;
        }
        startStream(res);
        await writeScheduled(res, [
          {atMs: 0, data: sse(completionChunk('a'))},
          {atMs: 10, data: sse(completionChunk('b')) + sse('[DONE]')},
        ]);
      },
      {countPath: (path) => path !== '/tokenize'},
    );
    let last: {atMs: number; calledMs: number} | null = null;
    const result = await runWorkload(
      options({
        template: template(server.url, {tokenizePath: '/tokenize'}),
        prompts: prompts(4),
        mode: {kind: 'closed', concurrency: 2},
        t0Ns,
        onLastStreamEnd: (atMs) => (last = {atMs, calledMs: msSince(t0Ns)}),
      }),
    );
    expect(result.records.every((r) => r.ok && r.tokenSource === 'tokenize')).toBe(true);
    expect(last).not.toBeNull();
    const {atMs, calledMs} = last!;
    expect(atMs).toBe(result.lastEndMs);
    expect(atMs).toBe(Math.max(...result.records.map((r) => r.endMs)));
    // Called before the last token count was even answered: it did not wait for counting.
    expect(countsAnsweredMs).toHaveLength(4);
    expect(calledMs).toBeLessThan(Math.max(...countsAnsweredMs));
  });

  it('does not call onLastStreamEnd when the run is aborted before the end, nor the hooks for no prompts', async () => {
    const gate = turnstile(3, 10);
    server = await startServer((req, res) => {
      gate.handler(req, res);
      if (gate.state.arrived === 3) abort.abort();
    });
    const abort = new AbortController();
    let lastCalls = 0;
    const result = await runWorkload(
      options({template: template(server.url), prompts: prompts(10), mode: {kind: 'closed', concurrency: 4}, signal: abort.signal, onLastStreamEnd: () => lastCalls++}),
    );
    gate.stop();
    expect(result.records.some((r) => r.error?.kind === 'aborted')).toBe(true);
    expect(lastCalls).toBe(0);

    let hooks = 0;
    const empty = await runWorkload(
      options({template: template(server.url), prompts: [], mode: {kind: 'closed', concurrency: 2}, beforeFirstSend: async () => void hooks++, onLastStreamEnd: () => hooks++}),
    );
    expect(empty.records).toEqual([]);
    expect(hooks).toBe(0);
  });

  it('rejects with the error of a failing beforeFirstSend, having sent nothing', async () => {
    server = await startServer(streaming(0));
    const error = await runWorkload(
      options({
        template: template(server.url),
        prompts: prompts(3),
        mode: {kind: 'open', ratePerS: 100, seed: 1},
        beforeFirstSend: () => Promise.reject(new Error('meter read failed')),
      }),
    ).catch((e: unknown) => e);
    expect((error as Error).message).toBe('meter read failed');
    expect(server.received).toHaveLength(0);
  });
});

describe('runWorkload burst', () => {
  it('sends every prompt at once', async () => {
    // Nothing is answered until all 20 have arrived: a burst that waited for a response (or for a
    // free socket) before its next send would stall the server.
    const gate = turnstile(20, 20);
    server = await startServer(gate.handler);
    // "At once": every send in the same turn of the event loop as the first.
    let firstTurnOver = false;
    const sentInFirstTurn: boolean[] = [];
    const result = await runWorkload(
      options({
        template: template(server.url),
        prompts: prompts(20),
        mode: {kind: 'burst'},
        onStart: () => {
          if (sentInFirstTurn.length === 0) setImmediate(() => (firstTurnOver = true));
          sentInFirstTurn.push(!firstTurnOver);
        },
      }),
    );
    gate.stop();
    expect(gate.state.stalls).toBe(0);
    expect(sentInFirstTurn).toEqual(Array.from({length: 20}, () => true));
    expect(server.maxInFlight).toBe(20);
    expect(result.maxInFlight).toBe(20);
    const scheduledMs = result.records[0]!.scheduledMs;
    expect(result.records.every((r) => r.ok && r.scheduledMs === scheduledMs)).toBe(true);
    expect(result.sendLagMs!.max).toBeCloseTo(Math.max(...result.records.map((r) => r.sendMs)) - scheduledMs, 9);
    expect(result).toMatchObject({achievedRatePerS: null, targetRatePerS: null, steadyState: null});
  });
});
