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
import {runError} from '../errors.js';
import {monoNs, msSince} from '../measure/types.js';
import {collectOutput, type OutputStream} from './output.js';
import {assertPortFree} from './ports.js';
import {awaitReadiness, interruptedError, stopSpecOf, type ReadinessOptions} from './readiness.js';
import type {LaunchedServer, LaunchRequest, Runner, ServerExit, ServerStopResult} from './types.js';
import {groupAlive, pidFilePath, processStartTime, readProcStat, removeFileQuietly, serversDir, signalGroup, waitFor, writePidRecord} from './proc.js';

export {classifyFailure, diagnoseFailure, type FailureDiagnosis} from './failure.js';
export type {ServerExit, ServerStopResult} from './types.js';

export {OUTPUT_TAIL_LINES} from './output.js';
export {DEFAULT_STOP, DEFAULT_WATCHDOG_S} from './readiness.js';

/** How long SIGKILL may take to empty the group before stop() gives up waiting, ms. */
const KILL_WAIT_MS = 5_000;

export interface LocalLaunchOptions extends ReadinessOptions {
  /** `<project root>/.lem-state`; pid files go in `<stateDir>/servers/`. */
  stateDir: string;
  /** `spec.files` are written here before launch; the server's working directory. */
  workdir: string;
  /** Pin the server to these CPUs (`taskset -c`). Absent or empty: no pinning. */
  cpus?: number[];
  /** Every output line of the server, during launch and after. */
  onLine?: (line: string, stream: OutputStream) => void;
  /** Non-fatal problems (no setpriv, no taskset), each said once per process. Default: `process.emitWarning`. */
  onWarning?: (message: string) => void;
  /** Called right after the server is spawned, with its pid (= its process group), before readiness. */
  onSpawn?: (pid: number) => void;
}

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

// ---------------------------------------------------------------- launch

let lemStartTime: number | undefined;

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

/**
 * Starts the server described by `options.spec` and resolves once it is ready: `GET
 * healthPath` answers 200 and the probe succeeds (default: `POST /v1/completions` for one
 * token). Rejects with a run error, after making sure the server is gone: `E_PORT_IN_USE`
 * (`config`) when the port is taken before launch, else those of {@link awaitReadiness}
 * (`E_INTERRUPTED` also by {@link stopAllServers}).
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
  const stopSpec = stopSpecOf(spec);
  if (options.signal?.aborted) throw interruptedError('before the server started');

  const child = await spawnServer(options, command);
  const pid = child.pid;
  options.onSpawn?.(pid);
  // Read now: the process exists at least as an unreaped zombie until the event loop turns.
  const startTime = readProcStat(pid)?.startTime ?? 0;
  lemStartTime ??= processStartTime(process.pid) ?? 0;
  const output = collectOutput({stdout: child.stdout, stderr: child.stderr}, options.onLine);
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
  await awaitReadiness(options, {baseUrl, exited, output, stop}, (fn) => (interrupt = fn));
  // From here the interrupt hook is a no-op (the outcome is settled): stop() stops it.
  return {
    baseUrl,
    pid,
    argv: command.argv,
    pinnedCpus: command.pinnedCpus,
    readyAtMs: msSince(t0Ns),
    outputTail: output.lines,
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
