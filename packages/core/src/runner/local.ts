/**
 * The local runner's launcher (DESIGN §4, §5 phase 1): starts a backend's server as a host
 * process, waits until it is ready, and stops it — leaving nothing behind.
 *
 * How nothing is left behind:
 * - the server runs under `setpriv --pdeathsig SIGTERM`, so the kernel signals it when `lem`
 *   dies, even by `kill -9`;
 * - it leads its own process group, and stopping signals the whole group, so workers it started
 *   go too;
 * - `<stateDir>/servers/<pid>.json` records it with its start time, so a later `lem` can reap
 *   it when all else failed (reaper.ts);
 * - `registerCleanup()` kills live servers on `process.exit` and stops them on SIGINT, SIGTERM
 *   and SIGHUP.
 *
 * Caveat: pdeathsig fires when the *thread* that spawned the server ends, so launch from the
 * main thread (a worker thread's servers die with the worker).
 */
import {spawn, spawnSync, type ChildProcess} from 'node:child_process';
import {accessSync, chmodSync, constants, mkdirSync, writeFileSync} from 'node:fs';
import {delimiter, dirname, isAbsolute, join, relative, resolve} from 'node:path';
import type {ServerSpec, StopSpec} from '@lem/plugin-kit';
import {runError, type ErrorDetail, type RunError} from '../errors.js';
import {monoNs, msSince} from '../measure/types.js';
import {diagnoseFailure} from './failure.js';
import {assertPortFree, portInUseError} from './ports.js';
import type {LaunchedServer, LaunchRequest, Runner, ServerExit, ServerStopResult} from './types.js';
import {groupAlive, pidFilePath, processStartTime, readProcStat, removeFileQuietly, serversDir, signalGroup, sleepMs, waitFor, writePidRecord} from './proc.js';

export {classifyFailure, diagnoseFailure, type FailureDiagnosis} from './failure.js';
export type {ServerExit, ServerStopResult} from './types.js';

/** Lines of server output kept for failure records. */
export const OUTPUT_TAIL_LINES = 100;
/** Seconds without output or an HTTP answer after which a launching server counts as hung. */
export const DEFAULT_WATCHDOG_S = 60;
/** How a server is stopped when its backend does not say. */
export const DEFAULT_STOP: Readonly<StopSpec> = {signal: 'SIGTERM', graceS: 10};

/** Interval between readiness polls, ms. */
const POLL_INTERVAL_MS = 100;
/** Longest wait for one health answer, ms (the probe may take until the deadline). */
const HEALTH_REQUEST_TIMEOUT_MS = 2_000;
/** How long SIGKILL may take to empty the group before stop() gives up waiting, ms. */
const KILL_WAIT_MS = 5_000;
/** How long to wait for the last output after the server exited, ms. */
const OUTPUT_DRAIN_MS = 500;
/** Longest output line kept; longer ones are cut (progress bars without newlines). */
const MAX_LINE_CHARS = 4_096;

export interface LocalLaunchOptions {
  /** From the backend's `server(cfg, ctx)`. */
  spec: ServerSpec;
  /** Sent as `model` in the 1-token readiness probe. */
  model: string;
  /** `<project root>/.lem-state`; pid files go in `<stateDir>/servers/`. */
  stateDir: string;
  /** `spec.files` are written here before launch; the server's working directory. */
  workdir: string;
  /** Pin the server to these CPUs (`taskset -c`). Absent or empty: no pinning. */
  cpus?: number[];
  /** Overrides `spec.readiness.timeoutS`. */
  readinessTimeoutS?: number;
  /**
   * The launch fails with `E_SERVER_HUNG` when the server neither prints a line nor answers
   * HTTP for this long while not ready. Default {@link DEFAULT_WATCHDOG_S}.
   */
  watchdogS?: number;
  /** Every output line of the server, during launch and after. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Abort = stop the launch, stop the server, reject with category `interrupted`. Ignored once ready. */
  signal?: AbortSignal;
  /** Non-fatal problems (no setpriv, no taskset), each said once per process. Default: `process.emitWarning`. */
  onWarning?: (message: string) => void;
  /** Called right after the server is spawned, with its pid (= its process group), before readiness. */
  onSpawn?: (pid: number) => void;
}


/** What readiness and the launch-failure diagnosis need of a launch; shared by every runner. */
export type ReadinessOptions = Pick<LocalLaunchOptions, 'spec' | 'model' | 'readinessTimeoutS' | 'watchdogS' | 'signal'>;

export interface RunningServer {
  /** `http://127.0.0.1:<port>` */
  baseUrl: string;
  /** The server's pid, also its process group id. */
  pid: number;
  /** What was actually executed (after setpriv and taskset). */
  argv: string[];
  /** CPUs the server is pinned to, or null when it is not pinned. */
  pinnedCpus: number[] | null;
  /** Duration of the launch (call to ready), ms on the monotonic clock. */
  readyAtMs: number;
  /** The last {@link OUTPUT_TAIL_LINES} lines of stdout and stderr, in arrival order. */
  outputTail(): string[];
  /** True until the server process has exited. */
  isRunning(): boolean;
  /** Settles when the server process ends, for any reason. */
  exited: Promise<ServerExit>;
  /**
   * `spec.stop.signal` (default SIGTERM) to the group, `spec.stop.graceS` (default 10 s, or
   * `maxGraceS` when shorter) for the group to empty, then SIGKILL to the group. Idempotent:
   * later calls get the first call's result.
   */
  stop(maxGraceS?: number): Promise<ServerStopResult>;
}

// ---------------------------------------------------------------- live servers and cleanup

interface LiveServer {
  pid: number;
  pidFile: string;
  /** Ends a launch in progress as interrupted; no-op once ready. */
  interrupt(): void;
  stop(maxGraceS?: number): Promise<ServerStopResult>;
}

/** Servers this process started that may still run. */
const live = new Map<number, LiveServer>();

/** Pids of the servers this process started that may still run. */
export function liveServerPids(): number[] {
  return [...live.keys()];
}

/**
 * Stops every live server (launches in progress end as `interrupted`), each with its own stop
 * signal and grace, or at most `graceS` when given. Resolves with their pids once all are gone.
 */
export async function stopAllServers(options: {graceS?: number} = {}): Promise<number[]> {
  const servers = [...live.values()];
  for (const server of servers) server.interrupt();
  await Promise.all(servers.map((server) => server.stop(options.graceS).catch(() => undefined)));
  return servers.map((server) => server.pid);
}

/**
 * SIGKILL to every live server's group, now, and their pid files removed. Synchronous, so it
 * can run in a process 'exit' handler or on a second Ctrl+C.
 */
export function killAllServersNow(): number[] {
  const pids: number[] = [];
  for (const server of live.values()) {
    server.interrupt();
    signalGroup(server.pid, 'SIGKILL');
    removeFileQuietly(server.pidFile);
    pids.push(server.pid);
  }
  return pids;
}

const CLEANUP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
/** Grace for servers stopped because lem got a signal (DESIGN §7: 5 s). */
const SIGNAL_GRACE_S = 5;
let cleanupRegistered = false;
let signalStop: Promise<unknown> | undefined;

function onCleanupSignal(signal: NodeJS.Signals): void {
  // Alone on this signal, we stand in for Node's default (terminate): once servers are down,
  // re-raise it with our handlers gone. With other listeners (the CLI's), exiting is theirs.
  const alone = process.listenerCount(signal) === 1;
  const reraise = () => {
    if (!alone) return;
    for (const s of CLEANUP_SIGNALS) process.off(s, onCleanupSignal);
    process.kill(process.pid, signal);
  };
  if (signalStop) {
    // A second signal while stopping: kill at once.
    killAllServersNow();
    reraise();
    return;
  }
  signalStop = stopAllServers({graceS: SIGNAL_GRACE_S}).finally(reraise);
}

/**
 * Installs, once, the process handlers that keep servers from outliving `lem`: on 'exit',
 * {@link killAllServersNow}; on SIGINT, SIGTERM and SIGHUP, {@link stopAllServers} (5 s grace,
 * a second signal kills at once). These handlers never call `process.exit`: when they are the
 * only listeners of the signal they re-raise it after the servers are down, so the default
 * (terminate) still happens; when the caller listens too, exiting is the caller's decision.
 */
export function registerCleanup(): void {
  if (cleanupRegistered) return;
  cleanupRegistered = true;
  process.on('exit', killAllServersNow);
  for (const signal of CLEANUP_SIGNALS) process.on(signal, onCleanupSignal);
}

// ---------------------------------------------------------------- command line

const saidWarnings = new Set<string>();
function warnOnce(key: string, message: string, onWarning?: (message: string) => void): void {
  if (saidWarnings.has(key)) return;
  saidWarnings.add(key);
  if (onWarning) onWarning(message);
  else process.emitWarning(message, {code: key});
}

function findExecutable(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

let setprivPath: string | null | undefined;
/** setpriv, if present and new enough for `--pdeathsig` (util-linux ≥ 2.33). Checked once. */
function usableSetpriv(): string | null {
  if (setprivPath !== undefined) return setprivPath;
  const path = findExecutable('setpriv');
  setprivPath = path && spawnSync(path, ['--pdeathsig', 'SIGTERM', '--', 'true'], {stdio: 'ignore', timeout: 5_000}).status === 0 ? path : null;
  return setprivPath;
}

let tasksetPath: string | null | undefined;
function usableTaskset(): string | null {
  tasksetPath ??= findExecutable('taskset') ?? null;
  return tasksetPath;
}

/** The command actually run: [setpriv --pdeathsig SIGTERM --] [taskset -c CPUS] argv. */
function commandLine(argv: string[], cpus: number[] | undefined, onWarning?: (message: string) => void): {argv: string[]; pinnedCpus: number[] | null} {
  const prefix: string[] = [];
  const setpriv = usableSetpriv();
  if (setpriv) prefix.push(setpriv, '--pdeathsig', 'SIGTERM', '--');
  else {
    warnOnce(
      'LEM_NO_SETPRIV',
      'setpriv (util-linux) with --pdeathsig was not found: a server outlives lem if lem is killed with SIGKILL until the next lem reaps it',
      onWarning,
    );
  }
  let pinnedCpus: number[] | null = null;
  if (cpus && cpus.length > 0) {
    if (!cpus.every((cpu) => Number.isInteger(cpu) && cpu >= 0)) {
      throw runError('E_CPUS_INVALID', `CPU list ${JSON.stringify(cpus)} is not a list of CPU numbers`, ['give CPU numbers as whole numbers from 0'], 'config');
    }
    const taskset = usableTaskset();
    if (taskset) {
      prefix.push(taskset, '-c', cpus.join(','));
      pinnedCpus = [...cpus];
    } else {
      warnOnce('LEM_NO_TASKSET', 'taskset (util-linux) was not found: servers run without CPU pinning', onWarning);
    }
  }
  return {argv: [...prefix, ...argv], pinnedCpus};
}

/** Writes `spec.files` under `workdir`, refusing paths that leave it. */
export function writeSpecFiles(workdir: string, files: ServerSpec['files']): void {
  mkdirSync(workdir, {recursive: true});
  for (const file of files ?? []) {
    const path = resolve(workdir, file.path);
    const rel = relative(workdir, path);
    if (isAbsolute(file.path) || rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
      throw runError('E_SERVER_FILE', `the backend asked for a file outside its work folder: ${file.path}`, ['report this to the backend plugin: files must be relative to the work folder'], 'config');
    }
    mkdirSync(dirname(path), {recursive: true});
    const mode = file.mode ?? 0o644;
    writeFileSync(path, file.contents, {mode});
    chmodSync(path, mode); // writeFileSync's mode applies only to new files, and under the umask
  }
}

// ---------------------------------------------------------------- output

export interface TailLine {
  stream: 'stdout' | 'stderr';
  line: string;
}

/** Splits a text stream into lines at \n, \r\n or a lone \r (progress bars redraw with \r). */
export function lineSplitter(emit: (line: string) => void): {push(chunk: string): void; end(): void} {
  let partial = '';
  return {
    push(chunk) {
      const parts = (partial + chunk).split(/\r\n|\n|\r/);
      partial = parts.pop() ?? '';
      if (partial.length > MAX_LINE_CHARS) {
        emit(partial.slice(0, MAX_LINE_CHARS));
        partial = '';
      }
      for (const part of parts) emit(part.length > MAX_LINE_CHARS ? part.slice(0, MAX_LINE_CHARS) : part);
    },
    end() {
      if (partial !== '') emit(partial);
      partial = '';
    },
  };
}

export const tailDetails = (tail: TailLine[]): ErrorDetail[] => tail.map(({stream, line}) => ({path: stream, message: line}));

function describeExit(exit: ServerExit): string {
  if (exit.signal) return `was killed by ${exit.signal}${exit.signal === 'SIGKILL' ? ' (possibly the out-of-memory killer)' : ''}`;
  return `exited with code ${exit.code}`;
}

// ---------------------------------------------------------------- readiness

export type Outcome =
  | {kind: 'ready'}
  | {kind: 'exited'; exit: ServerExit}
  | {kind: 'timeout'}
  | {kind: 'hung'}
  | {kind: 'interrupted'; reason: string};

/** What readiness last saw, for the timeout message. */
export interface ReadinessState {
  health?: string;
  probe?: string;
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

// ---------------------------------------------------------------- launch

let lemStartTime: number | undefined;

export const interruptedError = (when: string): RunError =>
  runError('E_INTERRUPTED', `server launch interrupted ${when}`, ['run it again (a campaign continues with `lem resume`)'], 'interrupted');

/** Spawns the command in a process group of its own; rejects when it cannot be run at all. */
async function spawnServer(options: LocalLaunchOptions, command: {argv: string[]}): Promise<ChildProcess & {pid: number}> {
  const child = spawn(command.argv[0]!, command.argv.slice(1), {
    cwd: options.workdir,
    env: {...process.env, ...options.spec.env},
    detached: true, // setsid(): the server leads a new process group (pgid = pid)
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) {
    const error = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw runError('E_SERVER_SPAWN', `could not start ${command.argv[0]}: ${error.message}`, ['check that the backend is installed and its command exists'], 'config', undefined, error);
  }
  child.on('error', () => {}); // later errors (a failed kill) surface through exit and stop
  return child as ChildProcess & {pid: number};
}

/** The server's output: line by line to `onLine`, the last lines kept, and when it last said anything. */
function collectOutput(child: ChildProcess, onLine: LocalLaunchOptions['onLine']) {
  const tail: TailLine[] = [];
  const life = {lastNs: monoNs()};
  const closed: Promise<void>[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    const readable = child[stream]!;
    const splitter = lineSplitter((line) => {
      life.lastNs = monoNs();
      tail.push({stream, line});
      if (tail.length > OUTPUT_TAIL_LINES) tail.shift();
      onLine?.(line, stream);
    });
    readable.setEncoding('utf8');
    readable.on('data', (chunk: string) => splitter.push(chunk));
    closed.push(new Promise((resolve) => readable.once('close', () => (splitter.end(), resolve()))));
  }
  return {tail, life, closed: Promise.all(closed)};
}

/**
 * The server's exit and its stop: the exit promise, `stop(maxGraceS)` (signal, grace, SIGKILL to
 * the group; the first call decides) and the bookkeeping that forgets it once it is gone.
 */
function lifecycle(child: ChildProcess, pid: number, pidFile: string, stopSpec: StopSpec) {
  let exitInfo: ServerExit | undefined;
  let stopping = false;
  let stopFinished = false;
  let finalized = false;
  const finalize = () => {
    if (finalized) return;
    finalized = true;
    removeFileQuietly(pidFile);
    live.delete(pid);
  };
  const exited = new Promise<ServerExit>((resolve) => {
    child.once('exit', (code, signal) => {
      // A host process's SIGKILL may or may not be the out-of-memory killer's: unknown, not false.
      exitInfo = {code, signal, oomKilled: null};
      if (!stopping) {
        // Left without being asked: whatever it started cannot be stopped gracefully by anyone.
        signalGroup(pid, 'SIGKILL');
        finalize();
      } else if (stopFinished) {
        finalize(); // stop() gave up waiting before the exit came
      }
      resolve(exitInfo);
    });
  });
  const gone = () => exitInfo !== undefined && !groupAlive(pid);
  let stopResult: Promise<ServerStopResult> | undefined;
  const stop = (maxGraceS?: number): Promise<ServerStopResult> => {
    const graceS = Math.min(stopSpec.graceS, maxGraceS ?? Infinity);
    stopResult ??= (async () => {
      stopping = true;
      const startNs = monoNs();
      let forced = false;
      if (!gone()) {
        signalGroup(pid, stopSpec.signal);
        if (!(await waitFor(gone, graceS * 1_000))) {
          forced = true;
          signalGroup(pid, 'SIGKILL');
          await waitFor(gone, KILL_WAIT_MS);
        }
      }
      // Still there after SIGKILL (stuck in the kernel): keep the pid file until it exits.
      stopFinished = true;
      if (exitInfo !== undefined) finalize();
      return {...(exitInfo ?? {code: null, signal: null, oomKilled: null}), forced, durationMs: msSince(startNs)};
    })();
    return stopResult;
  };
  return {exited, stop, isRunning: () => exitInfo === undefined};
}

/** The first of ready, exit, timeout, hang and interruption; `register` hands out the interrupt used by {@link stopAllServers}. */
export async function launchOutcome(options: ReadinessOptions, server: {exited: Promise<ServerExit>; life: {lastNs: bigint}; baseUrl: string; state: ReadinessState; register(interrupt: () => void): void}): Promise<Outcome> {
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
  server.register(() => finish({kind: 'interrupted', reason: 'while lem was stopping its servers'}));
  void server.exited.then((exit) => finish({kind: 'exited', exit}));
  const onAbort = () => finish({kind: 'interrupted', reason: 'by request'});
  options.signal?.addEventListener('abort', onAbort, {once: true});
  if (options.signal?.aborted) onAbort();

  const timeoutS = options.readinessTimeoutS ?? spec.readiness.timeoutS;
  const watchdogS = options.watchdogS ?? DEFAULT_WATCHDOG_S;
  const deadlineTimer = setTimeout(() => finish({kind: 'timeout'}), timeoutS * 1_000);
  const watchdogTimer = setInterval(
    () => {
      if (msSince(server.life.lastNs) >= watchdogS * 1_000) finish({kind: 'hung'});
    },
    Math.min(1_000, Math.max(10, (watchdogS * 1_000) / 10)),
  );
  void pollReadiness({
    baseUrl: server.baseUrl,
    readiness: spec.readiness,
    model: options.model,
    deadlineNs: monoNs() + BigInt(Math.round(timeoutS * 1e9)),
    signal: launchAbort.signal,
    state: server.state,
    onAnswer: () => (server.life.lastNs = monoNs()), // an HTTP answer of any status is a sign of life
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
export async function launchFailure(options: ReadinessOptions, result: Exclude<Outcome, {kind: 'ready'}>, server: {tail: TailLine[]; closed: Promise<unknown>; stop(maxGraceS?: number): Promise<unknown>; state: ReadinessState}): Promise<RunError> {
  const {spec} = options;
  const {tail} = server;
  if (result.kind === 'exited') {
    // The last lines may still be in the pipes.
    await Promise.race([server.closed, sleepMs(OUTPUT_DRAIN_MS)]);
    await server.stop(0); // sweep anything it left in its group, then forget it
    const lines = tail.map((entry) => entry.line);
    const diagnosed = diagnoseFailure(lines, result.exit.code, spec);
    // A container's state says for certain whether the out-of-memory killer ended it.
    const diagnosis = result.exit.oomKilled ? {...diagnosed, category: 'resource' as const} : diagnosed;
    const last = diagnosis.evidence ?? lines.findLast((line) => line.trim() !== '');
    const said = last === undefined ? ' without output' : `: ${last.trim()}`;
    if (diagnosis.code === 'E_PORT_IN_USE') {
      const inUse = portInUseError(spec.port);
      return runError(inUse.code, `the server could not listen: ${inUse.message}`, inUse.try, 'config', tailDetails(tail));
    }
    const tryLines =
      diagnosis.category === 'resource'
        ? ['free memory (or the GPU) for the server, or use a smaller model, quantisation or context size', 'the server output is in the details']
        : diagnosis.category === 'config'
          ? ['fix the setting the server output names (in the details)']
          : ['read the server output in the details', `run the server by hand to reproduce: ${spec.argv.join(' ')}`];
    const oom = result.exit.oomKilled ? ' (OOMKilled: out of memory)' : '';
    return runError('E_SERVER_EXITED', `the server ${describeExit(result.exit)}${oom} during launch${said}`, tryLines, diagnosis.category, tailDetails(tail));
  }
  await server.stop();
  if (result.kind === 'timeout') {
    const timeoutS = options.readinessTimeoutS ?? spec.readiness.timeoutS;
    const seen = [server.state.health ?? 'no answer yet', server.state.probe].filter(Boolean).join('; ');
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

/**
 * Starts the server described by `options.spec` and resolves once it is ready: `GET
 * healthPath` answers 200 and the probe succeeds (default: `POST /v1/completions` for one
 * token). Rejects with a run error, after making sure the server is gone:
 * - `E_PORT_IN_USE` (`config`): the port is taken, before launch or as the server's exit reason;
 * - `E_SERVER_EXITED`: the server exited during launch; category from its output
 *   (`spec.errorPatterns`, core's known texts), details = its last output lines;
 * - `E_SERVER_NOT_READY` (`runtime`): not ready within the readiness timeout;
 * - `E_SERVER_HUNG` (`runtime`): no output and no HTTP answer for `watchdogS`;
 * - `E_INTERRUPTED` (`interrupted`): `options.signal` aborted, or {@link stopAllServers}.
 */
export async function launchLocalServer(options: LocalLaunchOptions): Promise<RunningServer> {
  const t0Ns = monoNs();
  const {spec} = options;
  if (options.signal?.aborted) throw interruptedError('before the server started');
  if (spec.argv.length === 0) throw runError('E_SERVER_SPEC', 'the backend gave an empty command line', ['report this to the backend plugin'], 'config');

  await assertPortFree(spec.port);
  writeSpecFiles(options.workdir, spec.files);
  mkdirSync(serversDir(options.stateDir), {recursive: true});
  const command = commandLine(spec.argv, options.cpus, options.onWarning);
  const stopSpec: StopSpec = {signal: spec.stop?.signal ?? DEFAULT_STOP.signal, graceS: spec.stop?.graceS ?? DEFAULT_STOP.graceS};
  if (options.signal?.aborted) throw interruptedError('before the server started');

  const child = await spawnServer(options, command);
  const pid = child.pid;
  options.onSpawn?.(pid);
  // Read now: the process exists at least as an unreaped zombie until the event loop turns.
  const startTime = readProcStat(pid)?.startTime ?? 0;
  lemStartTime ??= processStartTime(process.pid) ?? 0;
  const output = collectOutput(child, options.onLine);
  const pidFile = pidFilePath(options.stateDir, pid);
  const {exited, stop, isRunning} = lifecycle(child, pid, pidFile, stopSpec);

  let interrupt = () => {};
  live.set(pid, {pid, pidFile, interrupt: () => interrupt(), stop});
  try {
    writePidRecord(options.stateDir, {pid, pgid: pid, startTime, lemPid: process.pid, lemStartTime, argv: command.argv, startedAt: new Date().toISOString()});
  } catch (error) {
    signalGroup(pid, 'SIGKILL');
    await stop(0);
    throw runError('E_STATE_WRITE', `could not record the server in ${serversDir(options.stateDir)}: ${(error as Error).message}`, ['check that the project folder is writable'], 'runtime', undefined, error);
  }

  const baseUrl = `http://127.0.0.1:${spec.port}`;
  const state: ReadinessState = {};
  const result = await launchOutcome(options, {exited, life: output.life, baseUrl, state, register: (fn) => (interrupt = fn)});
  if (result.kind !== 'ready') throw await launchFailure(options, result, {tail: output.tail, closed: output.closed, stop, state});
  // From here the interrupt hook is a no-op (the outcome is settled): stop() stops it.
  return {
    baseUrl,
    pid,
    argv: command.argv,
    pinnedCpus: command.pinnedCpus,
    readyAtMs: msSince(t0Ns),
    outputTail: () => output.tail.map((entry) => entry.line),
    isRunning,
    exited,
    stop: (maxGraceS?: number) => stop(maxGraceS),
  };
}

/**
 * The local runner: servers as host processes (the seam's first implementation). A server is
 * measured as its process group, which it leads from the moment it is spawned.
 */
export const localRunner: Runner = {
  id: 'local',
  targetKind: 'process-group',
  async launch(request: LaunchRequest): Promise<LaunchedServer> {
    const server = await launchLocalServer({
      spec: request.spec,
      model: request.model,
      stateDir: request.stateDir,
      workdir: request.workdir,
      cpus: request.cpus,
      signal: request.signal,
      onLine: request.onLine,
      onWarning: request.onWarning,
      onSpawn: (pid) => request.onTarget?.({kind: 'process-group', pgid: pid}),
    });
    return {
      baseUrl: server.baseUrl,
      target: {kind: 'process-group', pgid: server.pid},
      argv: server.argv,
      exited: server.exited,
      outputTail: server.outputTail,
      stop: server.stop,
    };
  },
};
