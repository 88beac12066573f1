import type http from 'node:http';
import {configError, ErrorCodes} from '../errors.js';
import {monoNs, msSince, type PhaseName, type RequestRecord} from '../measure/types.js';
import {createAgent, sendRequest, type Prompt, type RequestTemplate} from './client.js';
import {poissonSchedule} from './schedule.js';
import {summarize} from './stats.js';

/**
 * How requests are released (DESIGN §5 measure):
 * - `closed`: exactly `concurrency` requests in flight; each finished stream releases the next prompt.
 * - `open`: Poisson arrivals at `ratePerS`, seeded, each sent at its arrival whatever is still in flight.
 * - `burst`: every prompt at once (`request_rate: inf`).
 */
export type LoadMode = {kind: 'closed'; concurrency: number} | {kind: 'open'; ratePerS: number; seed: number} | {kind: 'burst'};

export interface WorkloadOptions {
  template: RequestTemplate;
  /** Each prompt is sent once, in this order. */
  prompts: readonly Prompt[];
  mode: LoadMode;
  phase: PhaseName;
  /** The run origin: every time in the result is ms since it. */
  t0Ns: bigint;
  /** Id of the first request; ids follow send order (= prompt order). */
  firstId: number;
  /**
   * Awaited once, right before the first request is sent (not at all when there are no
   * prompts): the measure window's first boundary read goes here. The open-loop schedule starts
   * when it resolves, so its time is not counted as send lag. A rejection rejects the workload,
   * with nothing sent.
   */
  beforeFirstSend?: () => Promise<void>;
  /** Called right before a request is sent. */
  onStart?(id: number): void;
  /**
   * Called synchronously, once, the moment the last stream is over (every prompt sent, none in
   * flight), with that moment — the latest `endMs`, equal to `lastEndMs` — in ms since t0: the
   * measure window's last boundary read goes here. It comes before any token counting on the
   * tokenize path, which never stretches the window. Not called when the run is aborted before
   * the last stream is over, nor when there are no prompts.
   */
  onLastStreamEnd?: (atMs: number) => void;
  /** Called with each record as it completes (completion order, not id order). */
  onDone?(record: RequestRecord): void;
  /** Aborting stops sending and aborts every request in flight (their records say `aborted`); unsent prompts get no record. */
  signal?: AbortSignal;
  /** A keep-alive agent to reuse across phases (its connections stay warm); by default one is made and destroyed. Needs maxSockets ≥ the in-flight count. */
  agent?: http.Agent;
}

export interface SendLagSummary {
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

export interface WorkloadResult {
  /** One record per request sent, in id order. */
  records: RequestRecord[];
  /** Earliest send, ms since t0; null when nothing was sent. With `lastEndMs`, the measure window. */
  firstSendMs: number | null;
  /** Latest response end, ms since t0; null when nothing was sent. */
  lastEndMs: number | null;
  /** Open loop and burst: send − scheduled, ms (how late the driver released requests); null in closed loop. */
  sendLagMs: SendLagSummary | null;
  /** Open loop: (sent − 1) / (last send − first send), requests/s; null otherwise or with fewer than 2 sends. */
  achievedRatePerS: number | null;
  /** Open loop: the requested Poisson rate; null otherwise (a burst has no finite rate). */
  targetRatePerS: number | null;
  /**
   * Steady state (DESIGN §6), ms since t0. Closed loop: from the moment `concurrency` requests
   * have completed (the batch is full and turning over; the ramp is left out) — the `endMs` of the
   * `concurrency`-th record in order of `endMs`, aborted ones not counted — to the last send.
   * Open loop: from the arrival of request ⌈0.1·N⌉ to the last arrival. Null for a burst, a
   * closed loop where fewer than `concurrency` completed or the `concurrency`-th completion is
   * not before the last send, or an open loop of one request.
   */
  steadyState: {startMs: number; endMs: number} | null;
  /** The most requests the driver had in flight at once (stream not yet ended). */
  maxInFlight: number;
}

function invalid(message: string): Error {
  return configError(ErrorCodes.configInvalid, message, ['check workload.concurrency and workload.request_rate in the experiment file']);
}

/** Resolves after `ms`, or at once when the signal aborts. */
function sleepMs(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, {once: true});
  });
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Drives one phase's prompts against the server and returns every record. Rejects only for
 * invalid options (a config error); failed requests are records with `ok: false`.
 */
export async function runWorkload(options: WorkloadOptions): Promise<WorkloadResult> {
  const {template, prompts, mode, phase, t0Ns, firstId, signal} = options;
  const n = prompts.length;
  if (mode.kind === 'closed' && !(Number.isInteger(mode.concurrency) && mode.concurrency >= 1)) throw invalid(`concurrency must be an integer ≥ 1, got ${mode.concurrency}`);
  if (mode.kind === 'open' && !(Number.isFinite(mode.ratePerS) && mode.ratePerS > 0)) throw invalid(`request rate must be a positive number of requests per second, got ${mode.ratePerS}`);

  const cap = mode.kind === 'closed' ? Math.min(mode.concurrency, Math.max(n, 1)) : Math.max(n, 1);
  // Exactly one socket per slot: a closed loop refills from the finished response's 'end' handler,
  // one tick before Node frees that socket, so the next request waits that tick for the warm
  // connection instead of opening another. Tokenize calls use their own agent (client.ts).
  const ownAgent = options.agent === undefined;
  const agent = options.agent ?? createAgent(template.baseUrl, cap);

  const records: RequestRecord[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let sent = 0;
  /** The latest stream end so far, ms since t0, and whether `onLastStreamEnd` has had it. */
  let lastStreamEndMs = -Infinity;
  let lastStreamEndCalled = false;
  const completions: Promise<void>[] = [];
  // A throwing callback must neither stall the loop nor become an unhandled rejection: the first
  // error is kept and rethrown once every request has settled.
  let callbackError: {error: unknown} | null = null;
  const guard = (fn: () => void) => {
    try {
      fn();
    } catch (error) {
      callbackError ??= {error};
    }
  };

  /** Sends prompt `i`; `onStreamEnd` fires when its stream is over (before any tokenize call), `onRecord` after its record is stored. */
  const send = (i: number, scheduledMs: number | undefined, onStreamEnd?: () => void, onRecord?: () => void): void => {
    const id = firstId + i;
    inFlight++;
    sent++;
    if (inFlight > maxInFlight) maxInFlight = inFlight;
    let ended = false;
    const streamEnd = (endMs: number) => {
      if (ended) return;
      ended = true;
      inFlight--;
      if (endMs > lastStreamEndMs) lastStreamEndMs = endMs;
      if (inFlight === 0 && sent === n && !lastStreamEndCalled && !signal?.aborted) {
        lastStreamEndCalled = true;
        guard(() => options.onLastStreamEnd?.(lastStreamEndMs));
      }
      onStreamEnd?.();
    };
    guard(() => options.onStart?.(id));
    const done = sendRequest(template, prompts[i]!, {t0Ns, id, phase, scheduledMs, agent, signal, onStreamEnd: streamEnd}).then((record) => {
      streamEnd(record.endMs);
      records.push(record);
      guard(() => options.onDone?.(record));
      onRecord?.();
    });
    completions.push(done);
  };

  try {
    if (n > 0 && options.beforeFirstSend) await options.beforeFirstSend();
    if (mode.kind === 'closed') {
      let next = 0;
      let finished = 0;
      await new Promise<void>((resolveAll) => {
        // Done when every request sent has its record and nothing more will be sent.
        const settle = () => {
          if (finished === next && (next === n || signal?.aborted)) resolveAll();
        };
        const fill = () => {
          while (inFlight < mode.concurrency && next < n && !signal?.aborted) send(next++, undefined, fill, onRecord);
        };
        const onRecord = () => {
          finished++;
          fill();
          settle();
        };
        fill();
        settle();
      });
    } else if (mode.kind === 'open') {
      const offsetsMs = poissonSchedule(n, mode.ratePerS, mode.seed);
      const startNs = monoNs();
      const startMs = msSince(t0Ns, startNs);
      const elapsedMs = () => Number(monoNs() - startNs) / 1e6;
      let k = 0;
      while (k < n && !signal?.aborted) {
        // Everything already due goes now: a late timer never shifts later arrivals. The clock is
        // read again for each one, so a slow send or callback does not hold back what fell due
        // meanwhile behind one more wait.
        while (k < n && !signal?.aborted && offsetsMs[k]! <= elapsedMs()) {
          send(k, startMs + offsetsMs[k]!);
          k++;
        }
        if (k >= n || signal?.aborted) break;
        const waitMs = offsetsMs[k]! - elapsedMs();
        // Timers have 1 ms granularity and truncate: sleep the whole milliseconds, then yield
        // to I/O turn by turn for the fraction, so the send lands within the event loop's lag.
        if (waitMs >= 1) await sleepMs(Math.floor(waitMs), signal);
        else await nextTurn();
      }
      await Promise.all(completions);
    } else {
      const scheduledMs = msSince(t0Ns);
      for (let i = 0; i < n && !signal?.aborted; i++) send(i, scheduledMs);
      await Promise.all(completions);
    }
  } finally {
    if (ownAgent) agent.destroy();
  }

  if (callbackError !== null) throw (callbackError as {error: unknown}).error;
  records.sort((a, b) => a.id - b.id);
  return {records, ...windowOf(records, mode), maxInFlight};
}

function windowOf(records: readonly RequestRecord[], mode: LoadMode): Omit<WorkloadResult, 'records' | 'maxInFlight'> {
  if (records.length === 0) return {firstSendMs: null, lastEndMs: null, sendLagMs: null, achievedRatePerS: null, targetRatePerS: mode.kind === 'open' ? mode.ratePerS : null, steadyState: null};
  let firstSendMs = Infinity;
  let lastSendMs = -Infinity;
  let lastEndMs = -Infinity;
  for (const r of records) {
    if (r.sendMs < firstSendMs) firstSendMs = r.sendMs;
    if (r.sendMs > lastSendMs) lastSendMs = r.sendMs;
    if (r.endMs > lastEndMs) lastEndMs = r.endMs;
  }
  let sendLagMs: SendLagSummary | null = null;
  if (mode.kind !== 'closed') {
    const lag = summarize(records.map((r) => r.sendMs - r.scheduledMs))!;
    sendLagMs = {mean: lag.mean, p50: lag.p50, p99: lag.p99, max: lag.max};
  }
  let achievedRatePerS: number | null = null;
  let steadyState: WorkloadResult['steadyState'] = null;
  if (mode.kind === 'open') {
    if (records.length >= 2 && lastSendMs > firstSendMs) achievedRatePerS = ((records.length - 1) * 1000) / (lastSendMs - firstSendMs);
    // Request ⌈0.1·N⌉ counted from 1 is index ⌈0.1·N⌉ − 1 (records are in id = arrival order).
    const from = records[Math.max(Math.ceil(0.1 * records.length) - 1, 0)]!;
    const last = records[records.length - 1]!;
    if (records.length >= 2) steadyState = {startMs: from.scheduledMs, endMs: last.scheduledMs};
  } else if (mode.kind === 'closed') {
    const endsMs = records.filter((r) => r.error?.kind !== 'aborted').map((r) => r.endMs);
    if (endsMs.length >= mode.concurrency) {
      endsMs.sort((a, b) => a - b);
      const startMs = endsMs[mode.concurrency - 1]!;
      if (startMs < lastSendMs) steadyState = {startMs, endMs: lastSendMs};
    }
  }
  return {firstSendMs, lastEndMs, sendLagMs, achievedRatePerS, targetRatePerS: mode.kind === 'open' ? mode.ratePerS : null, steadyState};
}
