/**
 * The launch step: starts the backend's server through the runner seam (runner/types.ts) and
 * waits until it is ready, or attaches to an endpoint lem does not start. Nothing here knows
 * whether the server is a host process or a container: the runner says what to measure, and
 * says it as soon as the server exists, so the energy of loading the model is the server's.
 */
import {rmSync, mkdirSync} from 'node:fs';
import {join} from 'node:path';
import {reportedSettingsReader, type ServerSpec} from '@lem/plugin-kit';
import {isCodedError, runError, type RunError} from '../errors.js';
import {probeEngineVersion, type EngineVersion} from '../provenance/index.js';
import {classifyFailure, findFreePort, localRunner} from '../runner/index.js';
import type {ContainerInfo, LaunchedServer, Runner, ServerExit} from '../runner/types.js';
import {launchBackend, workRootOf} from '../runner/session.js';
import {phase, type Run} from './context.js';
import {wait} from './idle.js';
import type {Devices} from './devices.js';
import type {RunPlan} from './preflight.js';

/** Attempts at a port: a port picked free can be taken by another process before the server binds it. */
export const MAX_PORT_ATTEMPTS = 3;

/** The server the workload is driven against: started by lem (with a spec), or an endpoint (without). */
export interface Server {
  baseUrl: string;
  /** The launched spec (request extras, tokenize path, error patterns); null for an endpoint. */
  spec: ServerSpec | null;
  /** What was executed; null for an endpoint. */
  argv: string[] | null;
  runnerId: string | null;
  outputTail(): string[];
  /** Stops it (nothing for an endpoint); after this, its exit is not a failure. */
  stop(): Promise<void>;
  engineVersion: EngineVersion | null;
  /** The launch's private folder (removed at teardown); null for an endpoint. */
  workdir: string | null;
  /** The container it ran in; null for a host process or an endpoint. */
  container: ContainerInfo | null;
  /** True when the server was kept running by the previous run (`reuse_server`). */
  reused: boolean;
  /** Seconds waited after readiness for the container to settle (`docker.warmup_delay_s`), excluded from every figure. */
  warmupDelayS: number;
  /** What the engine reported choosing at start-up (its `reportedSettings`), so far. */
  reported(): Record<string, number | string>;
}

export function runnerOf(run: Run): Runner {
  return run.opts.runner ?? localRunner;
}

export async function launch(run: Run, plan: RunPlan, devices: Devices): Promise<Server> {
  if (!plan.server) {
    const baseUrl = plan.endpoint!.baseUrl;
    return phase(run, 'launch', async () => endpointServer(baseUrl), {detail: `endpoint ${baseUrl}`});
  }
  const server = plan.server;
  return phase(run, 'launch', async () => {
    const workdir = join(workRootOf(run.stateDir), `${run.settings.name}-${process.pid}-${run.anchor.wallMs}`);
    mkdirSync(workdir, {recursive: true});
    try {
      const {launched, spec, reported} = await launchOnFreePort(run, plan, server.backend, devices, workdir);
      return {...(await startedServer(run, launched, spec, ownedWorkdir(run, launched, workdir))), reported: reported.values};
    } catch (error) {
      rmSync(workdir, {recursive: true, force: true});
      throw error;
    }
  });
}

/**
 * The launch folder teardown removes: this launch's, unless its server outlives the run (kept
 * for the next run: removed when that server ends) or is a kept one (its folder is its first run's).
 */
function ownedWorkdir(run: Run, launched: LaunchedServer, workdir: string): string | null {
  if (launched.reused) {
    rmSync(workdir, {recursive: true, force: true});
    return null;
  }
  if (!run.opts.reuse?.keep) return workdir;
  void launched.exited.then(() => rmSync(workdir, {recursive: true, force: true}));
  return null;
}

function endpointServer(baseUrl: string): Server {
  return {baseUrl, spec: null, argv: null, runnerId: null, outputTail: () => [], stop: async () => undefined, engineVersion: null, workdir: null, container: null, warmupDelayS: 0, reused: false, reported: () => ({})};
}

/** The spec with a port: the backend's own, plus exactly the experiment's GPUs for the server (CUDA accepts UUIDs; none without). */
function specFor(run: Run, plan: RunPlan, backend: NonNullable<RunPlan['server']>['backend'], port: number, workdir: string, devices: Devices, runner: Runner): ServerSpec {
  const planned = backend.contribution.server(run.resolved.backendConfig, {
    model: plan.modelRef,
    port,
    gpus: plan.gpus.uuids,
    workdir,
    threads: Math.max(1, devices.pinning?.serverCpus.length ?? 1),
    runner: runner.id === 'docker' ? 'docker' : 'local',
  });
  return {...planned, env: {...planned.env, CUDA_VISIBLE_DEVICES: plan.gpus.uuids.join(',')}};
}

/**
 * Launches on a port picked free; when that port was taken before the server bound it (a race
 * with another process, not a setting), picks another and tries again. A port the backend fixed
 * itself is its setting: taken, it is a `config` failure at once.
 */
async function launchOnFreePort(run: Run, plan: RunPlan, backend: NonNullable<RunPlan['server']>['backend'], devices: Devices, workdir: string): Promise<{launched: LaunchedServer; spec: ServerSpec; reported: ReturnType<typeof reportedSettingsReader>}> {
  const runner = runnerOf(run);
  const pickPort = run.opts.pickPort ?? (() => findFreePort());
  for (let attempt = 1; ; attempt++) {
    const port = await pickPort();
    const spec = specFor(run, plan, backend, port, workdir, devices, runner);
    const reported = reportedSettingsReader(spec.reportedSettings);
    try {
      const launched = await runner.launch({
        spec,
        model: plan.modelRef,
        stateDir: run.stateDir,
        workdir,
        cpus: devices.pinning?.applied ? devices.pinning.serverCpus : undefined,
        signal: run.abort.signal,
        onLine: (line) => {
          reported.push(line);
          run.emit({type: 'server-line', line});
        },
        onWarning: (message) => run.warn({code: 'W_RUNNER', message}),
        onTarget: (target) => run.sampler?.setTarget(target),
        backend: launchBackend(backend),
        gpus: plan.gpus.uuids,
        labels: {campaign: run.opts.campaign?.id, experiment: run.settings.name},
        reuse: run.opts.reuse,
      });
      return {launched, spec, reported};
    } catch (error) {
      const race = isCodedError(error) && error.code === 'E_PORT_IN_USE' && spec.port === port;
      if (!race || attempt >= MAX_PORT_ATTEMPTS) throw error;
      run.warn({code: 'W_PORT_TAKEN', message: `port ${port} was taken before the server could bind it; launching again on another port (attempt ${attempt + 1} of ${MAX_PORT_ATTEMPTS})`});
    }
  }
}

async function startedServer(run: Run, launched: LaunchedServer, spec: ServerSpec, workdir: string | null): Promise<Omit<Server, 'reported'>> {
  let stopping = false;
  // A server that dies mid-run aborts the workload at once instead of failing request by request.
  void launched.exited.then((exit) => {
    if (!run.abort.signal.aborted && !stopping) run.abort.abort(serverDied(launched, exit, spec));
  });
  return {
    baseUrl: launched.baseUrl,
    spec,
    argv: launched.argv,
    runnerId: runnerOf(run).id,
    outputTail: launched.outputTail,
    stop: async () => {
      stopping = true;
      await launched.stop();
    },
    engineVersion: await probeEngineVersion(launched.baseUrl, spec.versionProbe),
    workdir,
    container: launched.container ?? null,
    warmupDelayS: launched.warmupDelayS ?? 0,
    reused: launched.reused ?? false,
  };
}

/**
 * `docker.warmup_delay_s` after a container start: after readiness, before warm-up, in no phase
 * (so in no figure). Interrupted by the run's abort.
 */
export async function containerSettle(run: Run, server: Server): Promise<void> {
  if (server.warmupDelayS > 0) await wait(run, server.warmupDelayS);
}

function serverDied(server: LaunchedServer, exit: ServerExit, spec: ServerSpec): RunError {
  const tail = server.outputTail();
  const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
  return runError(
    'E_SERVER_DIED',
    `the server exited during the run (${how}${exit.oomKilled ? ', killed for want of memory' : ''})`,
    ['read the server output below; the run is recorded as failed'],
    // The runner's word on memory first, then the backend's error patterns and the common out-of-memory texts.
    exit.oomKilled ? 'resource' : classifyFailure(tail, exit.code, spec),
    tail.slice(-20).map((line) => ({message: line})),
  );
}

/** Removes a finished launch's private folder. */
export function removeWorkdir(server: Server | null): void {
  if (server?.workdir) rmSync(server.workdir, {recursive: true, force: true});
}
