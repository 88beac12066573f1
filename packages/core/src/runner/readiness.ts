/**
 * Readiness, shared by every runner (DESIGN §5 phase 1): a started server is ready once `GET
 * healthPath` answers 200 and the probe succeeds; until then the launch also ends when the server
 * exits, the readiness timeout passes, the server neither prints nor answers for the watchdog's
 * time, or the launch is interrupted. A launch that does not end ready becomes one run error,
 * raised only once the server is gone.
 */
import type {ServerSpec, StopSpec} from '@lem/plugin-kit';
import {runError, type RunError} from '../errors.js';
import {monoNs, msSince} from '../measure/types.js';
import {diagnoseFailure} from './failure.js';
import {tailDetails, type CollectedOutput} from './output.js';
import {portInUseError} from './ports.js';
import {sleepMs} from './proc.js';
import type {ServerExit} from './types.js';

/** Seconds without output or an HTTP answer after which a launching server counts as hung. */
export const DEFAULT_WATCHDOG_S = 60;
/** How a server is stopped when its backend does not say. */
export const DEFAULT_STOP: Readonly<StopSpec> = {signal: 'SIGTERM', graceS: 10};

/** Interval between readiness polls, ms. */
const POLL_INTERVAL_MS = 100;
/** Longest wait for one health answer, ms (the probe may take until the deadline). */
const HEALTH_REQUEST_TIMEOUT_MS = 2_000;
/** How long to wait for the last output after the server exited, ms. */
const OUTPUT_DRAIN_MS = 500;

/** The backend's stop signal and grace, or the defaults. */
export function stopSpecOf(spec: Pick<ServerSpec, 'stop'>): StopSpec {
  return {signal: spec.stop?.signal ?? DEFAULT_STOP.signal, graceS: spec.stop?.graceS ?? DEFAULT_STOP.graceS};
}

/** What readiness and the launch-failure diagnosis need of a launch. */
export interface ReadinessOptions {
  /** From the backend's `server(cfg, ctx)`. */
  spec: ServerSpec;
  /** Sent as `model` in the 1-token readiness probe. */
  model: string;
  /** Overrides `spec.readiness.timeoutS`. */
  readinessTimeoutS?: number;
  /**
   * The launch fails with `E_SERVER_HUNG` when the server neither prints a line nor answers
   * HTTP for this long while not ready. Default {@link DEFAULT_WATCHDOG_S}.
   */
  watchdogS?: number;
  /** Abort = stop the launch, stop the server, reject with category `interrupted`. Ignored once ready. */
  signal?: AbortSignal;
}

/** A started server as readiness sees it, whatever runs it. */
export interface LaunchingServer {
  /** `http://127.0.0.1:<port>` or wherever the server is reachable. */
  baseUrl: string;
  /** Settles when the server ends, for any reason. */
  exited: Promise<ServerExit>;
  output: CollectedOutput;
  /**
   * Stops the server (at most `maxGraceS`, default its own grace) and settles once it and
   * whatever the runner made for it are gone.
   */
  stop(maxGraceS?: number): Promise<unknown>;
}

type Outcome = {kind: 'ready'} | {kind: 'exited'; exit: ServerExit} | {kind: 'timeout'} | {kind: 'hung'} | {kind: 'interrupted'; reason: string};

/** What readiness last saw, for the timeout message. */
interface ReadinessState {
  health?: string;
  probe?: string;
}

export const interruptedError = (when: string): RunError =>
  runError('E_INTERRUPTED', `server launch interrupted ${when}`, ['run it again (a campaign continues with `lem resume`)'], 'interrupted');

/**
 * Resolves once the server is ready. Otherwise stops it and rejects with its run error:
 * - `E_PORT_IN_USE` (`config`): the server exited saying its port was taken;
 * - `E_SERVER_EXITED`: the server exited; category from its output (`spec.errorPatterns`, core's
 *   known texts), `resource` when the runner knows it was killed for want of memory; details =
 *   its last output lines;
 * - `E_SERVER_NOT_READY` (`runtime`): not ready within the readiness timeout;
 * - `E_SERVER_HUNG` (`runtime`): no output and no HTTP answer for the watchdog's time;
 * - `E_INTERRUPTED` (`interrupted`): `options.signal` aborted, or the interrupt handed to
 *   `register` was called (a runner stopping all its servers).
 */
export async function awaitReadiness(options: ReadinessOptions, server: LaunchingServer, register: (interrupt: () => void) => void = () => {}): Promise<void> {
  const state: ReadinessState = {};
  const outcome = await launchOutcome(options, server, state, register);
  if (outcome.kind !== 'ready') throw await launchFailure(options, outcome, server, state);
}

function describeFetchError(error: unknown): string {
  const cause = (error as {cause?: {code?: string}}).cause;
  if (cause?.code === 'ECONNREFUSED') return 'connection refused';
  if ((error as Error).name === 'TimeoutError' || (error as Error).name === 'AbortError') return 'no answer in time';
  return cause?.code ?? (error as Error).message;
}

/**
 * Polls `GET healthPath` until 200 (refused, 503 or any other answer: not yet), then the probe;
 * starts over while the probe fails. Resolves true when both answered 200, false once `signal`
 * aborts. Never rejects; what it last saw is left in `state`.
 */
async function pollReadiness(ctx: {
  baseUrl: string;
  readiness: ServerSpec['readiness'];
  model: string;
  deadlineNs: bigint;
  signal: AbortSignal;
  state: ReadinessState;
  onAnswer: () => void;
}): Promise<boolean> {
  const {readiness, state} = ctx;
  const request = async (path: string, init: RequestInit, timeoutMs: number): Promise<number> => {
    const timeout = AbortSignal.timeout(Math.max(1, Math.round(timeoutMs)));
    const response = await fetch(`${ctx.baseUrl}${path}`, {...init, signal: AbortSignal.any([ctx.signal, timeout])});
    ctx.onAnswer();
    await response.arrayBuffer().catch(() => undefined);
    return response.status;
  };
  const probe = readiness.probe ?? 'completion';
  const probeName = probe === 'completion' ? 'POST /v1/completions (1 token)' : `GET ${probe.path}`;
  const completion: RequestInit = {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify({model: ctx.model, prompt: 'Hello', max_tokens: 1, temperature: 0}),
  };
  while (!ctx.signal.aborted) {
    let asking: 'health' | 'probe' = 'health';
    try {
      const health = await request(readiness.healthPath, {}, HEALTH_REQUEST_TIMEOUT_MS);
      state.health = `GET ${readiness.healthPath} answered ${health}`;
      if (health === 200) {
        asking = 'probe';
        // The first generation may be slow (warm-up, graph capture): it may use all time left.
        const remainingMs = Number(ctx.deadlineNs - monoNs()) / 1e6;
        const status = probe === 'completion' ? await request('/v1/completions', completion, remainingMs) : await request(probe.path, {}, remainingMs);
        state.probe = `${probeName} answered ${status}`;
        if (status === 200) return !ctx.signal.aborted;
      }
    } catch (error) {
      if (ctx.signal.aborted) return false;
      if (asking === 'health') state.health = `GET ${readiness.healthPath}: ${describeFetchError(error)}`;
      else state.probe = `${probeName}: ${describeFetchError(error)}`;
    }
    await sleepMs(POLL_INTERVAL_MS);
  }
  return false;
}

/** The first of ready, exit, timeout, hang and interruption. */
async function launchOutcome(options: ReadinessOptions, server: LaunchingServer, state: ReadinessState, register: (interrupt: () => void) => void): Promise<Outcome> {
  const {spec} = options;
  let settle!: (outcome: Outcome) => void;
  const outcome = new Promise<Outcome>((resolve) => (settle = resolve));
  let settled = false;
  const launchAbort = new AbortController();
  const finish = (o: Outcome) => {
    if (settled) return;
    settled = true;
    launchAbort.abort();
    settle(o);
  };
  register(() => finish({kind: 'interrupted', reason: 'while lem was stopping its servers'}));
  void server.exited.then((exit) => finish({kind: 'exited', exit}));
  const onAbort = () => finish({kind: 'interrupted', reason: 'by request'});
  options.signal?.addEventListener('abort', onAbort, {once: true});
  if (options.signal?.aborted) onAbort();

  const timeoutS = options.readinessTimeoutS ?? spec.readiness.timeoutS;
  const watchdogS = options.watchdogS ?? DEFAULT_WATCHDOG_S;
  const life = server.output.life;
  const deadlineTimer = setTimeout(() => finish({kind: 'timeout'}), timeoutS * 1_000);
  const watchdogTimer = setInterval(
    () => {
      if (msSince(life.lastNs) >= watchdogS * 1_000) finish({kind: 'hung'});
    },
    Math.min(1_000, Math.max(10, (watchdogS * 1_000) / 10)),
  );
  void pollReadiness({
    baseUrl: server.baseUrl,
    readiness: spec.readiness,
    model: options.model,
    deadlineNs: monoNs() + BigInt(Math.round(timeoutS * 1e9)),
    signal: launchAbort.signal,
    state,
    onAnswer: () => (life.lastNs = monoNs()), // an HTTP answer of any status is a sign of life
  }).then((ready) => {
    if (ready) finish({kind: 'ready'});
  });
  try {
    return await outcome;
  } finally {
    clearTimeout(deadlineTimer);
    clearInterval(watchdogTimer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** The run error of a launch that did not end ready, once the server is gone. */
async function launchFailure(options: ReadinessOptions, result: Exclude<Outcome, {kind: 'ready'}>, server: LaunchingServer, state: ReadinessState): Promise<RunError> {
  const {spec} = options;
  const {tail} = server.output;
  if (result.kind === 'exited') {
    // The last lines may still be in the pipes.
    await Promise.race([server.output.closed, sleepMs(OUTPUT_DRAIN_MS)]);
    await server.stop(0); // sweep anything it left behind, then forget it
    return exitedError(spec, result.exit, server.output);
  }
  await server.stop();
  if (result.kind === 'timeout') {
    const timeoutS = options.readinessTimeoutS ?? spec.readiness.timeoutS;
    const seen = [state.health ?? 'no answer yet', state.probe].filter(Boolean).join('; ');
    return runError('E_SERVER_NOT_READY', `the server was not ready after ${timeoutS} s (${seen})`, ['read the server output in the details', 'a large model may need a longer readiness timeout'], 'runtime', tailDetails(tail));
  }
  if (result.kind === 'hung') {
    const watchdogS = options.watchdogS ?? DEFAULT_WATCHDOG_S;
    return runError(
      'E_SERVER_HUNG',
      `the server printed nothing and answered nothing for ${watchdogS} s while starting`,
      [`run the server by hand to see where it stops: ${spec.argv.join(' ')}`, 'raise the watchdog if this server is known to start silently'],
      'runtime',
      tailDetails(tail),
    );
  }
  const error = interruptedError(result.reason);
  error.details = tailDetails(tail);
  return error;
}

function describeExit(exit: ServerExit): string {
  if (exit.signal) return `was killed by ${exit.signal}${exit.signal === 'SIGKILL' && exit.oomKilled === null ? ' (possibly the out-of-memory killer)' : ''}`;
  return `exited with code ${exit.code}`;
}

/** A server that exited during launch: diagnosed from its output, and from the runner's word on memory. */
function exitedError(spec: ServerSpec, exit: ServerExit, output: CollectedOutput): RunError {
  const lines = output.lines();
  const diagnosed = diagnoseFailure(lines, exit.code, spec);
  // A container's state says for certain whether the out-of-memory killer ended it.
  const diagnosis = exit.oomKilled ? {...diagnosed, category: 'resource' as const} : diagnosed;
  const last = diagnosis.evidence ?? lines.findLast((line) => line.trim() !== '');
  const said = last === undefined ? ' without output' : `: ${last.trim()}`;
  if (diagnosis.code === 'E_PORT_IN_USE') {
    const inUse = portInUseError(spec.port);
    return runError(inUse.code, `the server could not listen: ${inUse.message}`, inUse.try, 'config', tailDetails(output.tail));
  }
  const tryLines =
    diagnosis.category === 'resource'
      ? ['free memory (or the GPU) for the server, or use a smaller model, quantisation or context size', 'the server output is in the details']
      : diagnosis.category === 'config'
        ? ['fix the setting the server output names (in the details)']
        : ['read the server output in the details', `run the server by hand to reproduce: ${spec.argv.join(' ')}`];
  const oom = exit.oomKilled ? ' (OOMKilled: out of memory)' : '';
  return runError('E_SERVER_EXITED', `the server ${describeExit(exit)}${oom} during launch${said}`, tryLines, diagnosis.category, tailDetails(output.tail));
}
