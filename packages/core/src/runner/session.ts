/**
 * The runner an experiment or a campaign uses, made ready before its first run (DESIGN §4): for
 * `docker`, the engine is reached, this host's leftovers are reaped, every image the runs need
 * is checked (missing: stop before anything starts; stale: a warning), persistent mode is
 * confirmed by the user, and under `startup: eager` the persistent containers are started. The
 * session ends with `close()`, which takes down what outlives single runs.
 */
import {existsSync} from 'node:fs';
import {isAbsolute, join, resolve} from 'node:path';
import {STATE_DIR} from '../config/project.js';
import type {Mount} from '@lem/plugin-kit';
import {codedError, ExitCode} from '../errors.js';
import type {ExperimentSettings} from '../config/schemas.js';
import type {RegisteredBackend} from '../registry.js';
import type {ResultWarning} from '../results/result.js';
import {probeNvml, resolveGpus} from '../meters/nvml.js';
import {localRunner} from './local.js';
import {createDockerRunner, type DockerRunnerEvent} from './docker/runner.js';
import {reapContainers} from './docker/reaper.js';
import {checkImages} from './docker/images.js';
import {dockerEngine, pingEngine} from './docker/engine.js';
import type {LaunchBackend, PlannedLaunch, Runner} from './types.js';
import {withServerReuse, type ReusingRunner} from './reuse.js';

/** What the user is asked before persistent containers start. */
export interface PersistentConfirmation {
  backends: string[];
  /** Containers that will be started (one per backend, image and GPU set). */
  containers: number;
  autoTeardown: boolean;
}

export interface RunnerSessionOptions {
  runner: 'local' | 'docker';
  docker: ExperimentSettings['docker'];
  /**
   * The backends the runs start (endpoints excluded), each with its runs' launches: the GPUs
   * (`gpus:`, indices or UUIDs), the backend's section and the model path it serves.
   */
  backends: Array<{backend: RegisteredBackend; runs: SessionRun[]}>;
  /** NVML library that resolves GPU indices to UUIDs (default: $LEM_NVML_LIBRARY, else the system's). */
  nvmlLibrary?: string;
  projectRoot: string;
  campaign?: string;
  /**
   * Asks the user to confirm persistent containers; resolves true to go on. Absent: refused
   * with E_CONFIRMATION_REQUIRED (no TTY, `--quiet`, `--json` without `--yes`).
   */
  confirmPersistent?: (what: PersistentConfirmation) => Promise<boolean>;
  onWarning?: (warning: ResultWarning) => void;
  onEvent?: (event: DockerRunnerEvent) => void;
  env?: NodeJS.ProcessEnv;
}

export interface SessionRun {
  gpus: Array<number | string>;
  backendConfig: unknown;
  /** The model as the server is given it (an absolute path, or a hub id). */
  model: string;
}

export interface RunnerSession {
  runner: ReusingRunner;
  close(): Promise<void>;
}

/** Where launches make their private folders: `<state dir>/work` (persistent containers mount it whole). */
export function workRootOf(stateDir: string): string {
  return join(stateDir, 'work');
}

/** The backend as the seam's launch request names it. */
export function launchBackend(backend: RegisteredBackend): LaunchBackend {
  return {id: backend.contribution.id, image: backend.contribution.image?.ref, pluginVersion: backend.plugin.version};
}

export async function openRunnerSession(options: RunnerSessionOptions): Promise<RunnerSession> {
  if (options.runner === 'local') {
    const runner = withServerReuse(localRunner);
    return {runner, close: () => runner.close()};
  }
  const engine = dockerEngine(options.docker.host, options.env);
  await pingEngine(engine);
  await reapContainers(engine);
  const check = await checkImages(engine, options.backends.map((b) => b.backend));
  for (const warning of check.warnings) options.onWarning?.(warning);
  const strategy = options.docker.strategy;
  if (strategy === 'persistent') await confirm(options);
  const runner = withServerReuse(createDockerRunner({
    engine,
    strategy,
    startup: options.docker.startup,
    warmupDelayS: options.docker.warmup_delay_s,
    autoTeardown: options.docker.auto_teardown,
    mounts: parseMounts(options.docker.mounts, options.projectRoot),
    workRoot: workRootOf(join(options.projectRoot, STATE_DIR)),
    campaign: options.campaign,
    onEvent: options.onEvent,
  }));
  try {
    if (strategy === 'persistent' && options.docker.startup === 'eager') await prepareAll(runner, options);
  } catch (error) {
    await runner.close().catch(() => undefined);
    throw error;
  }
  return {runner, close: () => runner.close()};
}

async function prepareAll(runner: Runner, options: RunnerSessionOptions): Promise<void> {
  const launches = plannedLaunches(options);
  if (launches) await runner.prepare?.(launches);
}

/**
 * The launches the runs will make, as their containers see them: each backend's pure
 * `server()` asked with the runner `docker`, so the model folder it mounts is known ahead. Null
 * when NVML cannot resolve the GPUs (preflight then fails those runs with the reason).
 */
function plannedLaunches(options: RunnerSessionOptions): PlannedLaunch[] | null {
  const library = options.nvmlLibrary ?? (options.env ?? process.env).LEM_NVML_LIBRARY;
  const workdir = workRootOf(join(options.projectRoot, STATE_DIR));
  const launches: PlannedLaunch[] = [];
  for (const {backend, runs} of options.backends) {
    const sets = resolveGpuSets(runs.map((r) => r.gpus), library);
    if (!sets) return null;
    runs.forEach((run) => {
      const gpus = sets.get(JSON.stringify(run.gpus)) ?? [];
      const spec = backend.contribution.server(run.backendConfig, {model: run.model, port: 0, gpus, workdir, threads: 1, runner: 'docker'});
      launches.push({backend: launchBackend(backend), gpus, spec: {mounts: spec.mounts, shmSizeBytes: spec.shmSizeBytes, ipcHost: spec.ipcHost, ulimits: spec.ulimits}});
    });
  }
  return launches;
}

/**
 * GPU sets as UUIDs, the container key's terms; null when NVML cannot say (preflight then
 * fails the run with the reason, so nothing is started ahead for it).
 */
function resolveGpuSets(sets: Array<Array<number | string>>, libraryPath: string | undefined): Map<string, string[]> | null {
  const distinct = new Map(sets.map((s) => [JSON.stringify(s), s]));
  if ([...distinct.values()].every((s) => s.length === 0)) return new Map([...distinct.keys()].map((k) => [k, []]));
  const probe = probeNvml({libraryPath});
  if (!probe.available) return null;
  return new Map([...distinct].map(([k, s]) => [k, resolveGpus(s, probe)]));
}

async function confirm(options: RunnerSessionOptions): Promise<void> {
  const what: PersistentConfirmation = {
    backends: options.backends.map((b) => b.backend.contribution.id),
    containers: options.backends.reduce((n, b) => n + Math.max(1, new Set(b.runs.map((r) => JSON.stringify([r.gpus, r.model]))).size), 0),
    autoTeardown: options.docker.auto_teardown,
  };
  if (!options.confirmPersistent) {
    throw codedError({
      code: 'E_CONFIRMATION_REQUIRED',
      message: 'persistent containers keep a server’s container alive between runs and must be confirmed, and there is no one to ask (no terminal, --quiet or --json)',
      try: ['add --yes to confirm persistent containers', '--container-strategy ephemeral   # a fresh container per run needs no confirmation'],
      exitCode: ExitCode.usage,
    });
  }
  if (!(await options.confirmPersistent(what))) {
    throw codedError({code: 'E_CONFIRMATION_REFUSED', message: 'persistent containers were not confirmed: nothing was started', try: ['--container-strategy ephemeral', 'answer yes, or pass --yes'], exitCode: ExitCode.usage});
  }
}

/**
 * The reaper at every lem start (DESIGN §4): containers of this host whose lem is gone, on the
 * engine at $DOCKER_HOST (or the local socket), are removed — kept ones only have their servers
 * stopped. Cheap when there is no local engine (one stat), bounded when there is (`timeoutMs`),
 * silent on failure: a command that needs the engine says so itself. A remote engine is left to
 * the docker runner's own session, so that no command waits on a network.
 */
export async function reapContainersAtStart(env: NodeJS.ProcessEnv = process.env, timeoutMs = 2_000): Promise<void> {
  const engine = dockerEngine(undefined, env);
  if (engine.remote) return;
  const socket = engine.host.replace(/^unix:\/\//, '');
  if (!existsSync(socket)) return;
  const timer = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
  await Promise.race([reapContainers(engine).then(() => undefined, () => undefined), timer]);
}

/** `host:/container[:ro|rw]` (validated by the schema) as mounts; a relative host path hangs from the project root. */
export function parseMounts(specs: string[], projectRoot: string): Mount[] {
  return specs.map((spec) => {
    const [host, container, mode] = spec.split(':') as [string, string, string | undefined];
    return {hostPath: isAbsolute(host) ? host : resolve(projectRoot, host), containerPath: container, readOnly: mode === 'ro'};
  });
}
