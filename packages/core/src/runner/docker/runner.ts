/**
 * The docker runner (DESIGN §4): servers in containers, through dockerode. The orchestrator and
 * the meters stay on the host; a server is measured as its container's cgroup.
 *
 * - ephemeral: a container per launch whose command is the server (through the wrapper); no
 *   AutoRemove, so its exit can be inspected (OOMKilled, exit code) before it is removed.
 * - persistent: a long-lived container per (backend, image, GPU set, mounts, create options);
 *   each launch execs the server in it; stopping execs `kill -TERM`, waits the grace, then
 *   `kill -KILL`.
 * Either way lem holds a stream on the wrapper's stdin: when lem dies, the stream closes and the
 * server stops within its grace (wrapper.ts).
 */
import {createHash, randomBytes} from 'node:crypto';
import {mkdirSync} from 'node:fs';
import {dirname} from 'node:path';
import type Docker from 'dockerode';
import type {Mount, ServerSpec, StopSpec} from '@lem/plugin-kit';
import {configError} from '../../errors.js';
import {monoNs, msSince} from '../../measure/types.js';
import {DEFAULT_STOP, launchFailure, launchOutcome, writeSpecFiles, type ReadinessState} from '../local.js';
import {sleepMs} from '../proc.js';
import type {ContainerInfo, LaunchBackend, LaunchedServer, LaunchRequest, Runner, ServerExit, ServerStopResult} from '../types.js';
import {containerOptions} from './create.js';
import {Labels, machineId, ownerLabels, type DockerEngine} from './engine.js';
import {startContainer, removeQuietly, type Started} from './containers.js';
import {execServer} from './exec.js';
import {HOLD_FOREVER, HOLD_WHILE_ATTACHED, SERVER_WRAPPER, serverPidFile} from './wrapper.js';
import {collectStream, type ServerProcess} from './stream.js';

export type {ServerProcess} from './stream.js';

export type DockerRunnerEvent = {type: 'container'; action: 'created' | 'adopted' | 'removed' | 'kept'; id: string; name: string; backend: string};

export interface DockerRunnerOptions {
  engine: DockerEngine;
  strategy: 'ephemeral' | 'persistent';
  startup: 'eager' | 'lazy';
  warmupDelayS: number;
  autoTeardown: boolean;
  /** Extra mounts for every container (`docker.mounts`). */
  mounts: Mount[];
  /**
   * The folder launch work folders are made in (`<project>/.lem-state/work`): mounted at the same
   * path in persistent containers, which outlive single launches. Default: the first launch's parent folder.
   */
  workRoot?: string;
  campaign?: string;
  hostId?: string;
  onEvent?: (event: DockerRunnerEvent) => void;
  /** Extra host settings for every container (tests: a memory limit). */
  hostConfig?: Docker.HostConfig;
}

/** The owner part of pid-file names: host, pid and start of this lem. */
export function ownerTag(labels: Record<string, string>): string {
  return `${labels[Labels.host]!.slice(0, 12)}-${labels[Labels.pid]}-${labels[Labels.pidStart]}`;
}

export function createDockerRunner(options: DockerRunnerOptions): Runner & {containers(): ContainerInfo[]} {
  const hostId = options.hostId ?? machineId();
  const owner = ownerLabels(hostId);
  const pool = new PersistentPool(options, owner);
  let serial = 0;
  const seen: ContainerInfo[] = [];
  return {
    id: 'docker',
    targetKind: 'cgroup',
    energyNullReason: options.engine.remote ? 'remote-docker-host' : undefined,
    containers: () => [...seen],
    async prepare(backends, gpuSets) {
      if (options.strategy !== 'persistent') return;
      for (const backend of backends) for (const gpus of gpuSets) await pool.ensure(backend, gpus, [], null);
    },
    async close() {
      await pool.close();
    },
    async launch(request) {
      const backend = request.backend;
      if (!backend?.image) throw configError('E_NO_IMAGE', `backend ${backend?.id ?? '?'} has no container image`, ['--runner local   # where the backend can run as a host process', 'lem backends   # what each backend supports']);
      const launched = options.strategy === 'persistent' ? await pool.launch(request, backend, ++serial) : await launchEphemeral(options, owner, request, backend);
      if (launched.container) seen.push(launched.container);
      return launched;
    },
  };
}

// ---------------------------------------------------------------- readiness, shared

/** Waits for readiness of a started server process; a launch that is not ready ends with its run error, the process stopped. */
async function untilReady(request: LaunchRequest, proc: ServerProcess, stopSpec: StopSpec, baseUrl: string): Promise<void> {
  let interrupt: () => void = () => undefined;
  const state: ReadinessState = {};
  const outcome = await launchOutcome(request, {exited: proc.exited, life: proc.output.life, baseUrl, state, register: (fn) => (interrupt = fn)});
  void interrupt;
  if (outcome.kind === 'ready') return;
  throw await launchFailure(request, outcome, {tail: proc.output.tail, closed: proc.output.closed, stop: (g?: number) => proc.stop(g ?? stopSpec.graceS), state});
}

function stopSpecOf(spec: ServerSpec): StopSpec {
  return {signal: spec.stop?.signal ?? DEFAULT_STOP.signal, graceS: spec.stop?.graceS ?? DEFAULT_STOP.graceS};
}

/** The seam's server from a ready process; stop() is idempotent and records how long it took. */
function launchedServer(proc: ServerProcess, base: {baseUrl: string; argv: string[]; target: LaunchedServer['target']; container: ContainerInfo; warmupDelayS: number}, stopSpec: StopSpec, after: () => Promise<void>): LaunchedServer {
  let stopping: Promise<ServerStopResult> | undefined;
  return {
    ...base,
    exited: proc.exited,
    outputTail: () => proc.output.tail.map((t) => t.line),
    stop(graceS?: number) {
      stopping ??= (async () => {
        const t0 = monoNs();
        const {forced} = await proc.stop(Math.min(stopSpec.graceS, graceS ?? Infinity));
        const exit = await proc.exited;
        await after();
        return {...exit, forced, durationMs: msSince(t0)};
      })();
      return stopping;
    },
  };
}

/** What provenance records: the server's command behind the wrapper's name (wrapper.ts), not the wrapper's text. */
const recordedArgv = (stopSpec: StopSpec, spec: ServerSpec) => ['lem-serve', String(stopSpec.graceS), ...spec.argv];

// ---------------------------------------------------------------- ephemeral

function labelsFor(options: DockerRunnerOptions, owner: Record<string, string>, request: LaunchRequest, backend: LaunchBackend, strategy: string): Record<string, string> {
  return {
    ...owner,
    [Labels.backend]: backend.id,
    [Labels.pluginVersion]: backend.pluginVersion,
    [Labels.strategy]: strategy,
    ...(options.campaign ?? request.labels?.campaign ? {[Labels.campaign]: (options.campaign ?? request.labels?.campaign)!} : {}),
    ...(request.labels?.experiment ? {[Labels.experiment]: request.labels.experiment} : {}),
  };
}

const containerName = (backend: string) => `lem-${backend}-${randomBytes(4).toString('hex')}`;

async function launchEphemeral(options: DockerRunnerOptions, owner: Record<string, string>, request: LaunchRequest, backend: LaunchBackend): Promise<LaunchedServer> {
  const {spec} = request;
  const stopSpec = stopSpecOf(spec);
  writeSpecFiles(request.workdir, spec.files);
  const create = containerOptions({
    image: backend.image!,
    name: containerName(backend.id),
    cmd: ['sh', '-c', SERVER_WRAPPER, 'lem-serve', String(stopSpec.graceS), '/tmp/lem-server.pid', ...spec.argv],
    env: spec.env,
    mounts: [...(spec.mounts ?? []), ...options.mounts, {hostPath: request.workdir, containerPath: request.workdir}],
    gpus: request.gpus ?? [],
    cpus: request.cpus,
    spec,
    labels: labelsFor(options, owner, request, backend, 'ephemeral'),
    hostConfig: options.hostConfig,
  });
  const started = await startContainer(options.engine, create, request);
  options.onEvent?.({type: 'container', action: 'created', id: started.id, name: started.name, backend: backend.id});
  const removed = async () => {
    await removeQuietly(started.container);
    options.onEvent?.({type: 'container', action: 'removed', id: started.id, name: started.name, backend: backend.id});
  };
  const proc = ephemeralProcess(options.engine, started, request);
  const baseUrl = `http://127.0.0.1:${spec.port}`;
  try {
    await untilReady(request, proc, stopSpec, baseUrl);
  } catch (error) {
    await proc.stop(0);
    await removed();
    throw error;
  }
  const container = containerInfo(started, backend, 'ephemeral', {started: true, adopted: false}, request.cpus);
  return launchedServer(proc, {baseUrl, argv: recordedArgv(stopSpec, spec), target: started.target, container, warmupDelayS: options.warmupDelayS}, stopSpec, removed);
}

/** An ephemeral container as a server process: its exit is the container's, read with `inspect` after `wait`. */
function ephemeralProcess(engine: DockerEngine, started: Started, request: LaunchRequest): ServerProcess {
  const output = collectStream(engine.docker, started.stream, request.onLine);
  const exited = (async (): Promise<ServerExit> => {
    await started.container.wait().catch(() => undefined);
    const info = await started.container.inspect().catch(() => null);
    await Promise.race([output.closed, sleepMs(500)]);
    return exitOf(info?.State.ExitCode ?? null, info?.State.OOMKilled ?? null);
  })();
  let done = false;
  void exited.then(() => (done = true));
  return {
    exited,
    output,
    async stop(graceS) {
      if (done) return {forced: false};
      await started.container.kill({signal: 'SIGTERM'}).catch(() => undefined);
      const inTime = await Promise.race([exited.then(() => true), sleepMs(graceS * 1000 + 1000).then(() => false)]);
      if (!inTime) await started.container.kill({signal: 'SIGKILL'}).catch(() => undefined);
      await exited;
      started.stream.destroy();
      return {forced: !inTime};
    },
  };
}

/** Exit status 128+n is signal n (the wrapper passes the server's status on). */
export function exitOf(code: number | null, oomKilled: boolean | null): ServerExit {
  const signal = code !== null && code > 128 && code < 160 ? signalName(code - 128) : null;
  return {code, signal, oomKilled: oomKilled ?? false};
}

function signalName(n: number): string {
  const names: Record<number, string> = {1: 'SIGHUP', 2: 'SIGINT', 6: 'SIGABRT', 9: 'SIGKILL', 11: 'SIGSEGV', 15: 'SIGTERM'};
  return names[n] ?? `SIG${n}`;
}

function containerInfo(started: Started, backend: LaunchBackend, strategy: 'ephemeral' | 'persistent', how: {started: boolean; adopted: boolean}, cpus: number[] | undefined): ContainerInfo {
  return {id: started.id, name: started.name, imageId: started.imageId, imageRef: backend.image!, strategy, ...how, cpusetCpus: cpus && cpus.length > 0 ? [...cpus] : null};
}

// ---------------------------------------------------------------- persistent

/** The container key: what a launch must share with a container to be exec'd in it. */
export function containerKey(backend: LaunchBackend, gpus: string[], mounts: Mount[], hostConfig: unknown): string {
  const identity = JSON.stringify({backend: backend.id, image: backend.image, gpus: [...gpus].sort(), mounts: mounts.map((m) => `${m.hostPath}:${m.containerPath}:${m.readOnly ? 'ro' : 'rw'}`).sort(), hostConfig: hostConfig ?? null});
  return createHash('sha256').update(identity).digest('hex').slice(0, 16);
}

interface Persistent {
  started: Started;
  adopted: boolean;
  /** True until a launch has used it: that launch gets the warm-up delay. */
  fresh: boolean;
}

class PersistentPool {
  private readonly containers = new Map<string, Promise<Persistent>>();
  constructor(
    private readonly options: DockerRunnerOptions,
    private readonly owner: Record<string, string>,
  ) {}

  /** The container for this key: an existing one, a kept one adopted, or a new one. */
  ensure(backend: LaunchBackend, gpus: string[], specMounts: Mount[], request: LaunchRequest | null): Promise<Persistent> {
    const mounts = [...specMounts, ...this.options.mounts];
    const key = containerKey(backend, gpus, mounts, this.options.hostConfig);
    let found = this.containers.get(key);
    if (!found) {
      found = this.open(key, backend, gpus, mounts, request);
      this.containers.set(key, found);
      found.catch(() => this.containers.delete(key));
    }
    return found;
  }

  private async open(key: string, backend: LaunchBackend, gpus: string[], mounts: Mount[], request: LaunchRequest | null): Promise<Persistent> {
    const adopted = await adoptKept(this.options.engine, key, this.owner[Labels.host]!);
    if (adopted) {
      this.options.onEvent?.({type: 'container', action: 'adopted', id: adopted.id, name: adopted.name, backend: backend.id});
      return {started: adopted, adopted: true, fresh: true};
    }
    const workRoot = this.options.workRoot ?? (request ? dirname(request.workdir) : undefined);
    if (workRoot) mkdirSync(workRoot, {recursive: true});
    const labels: Record<string, string> = {...labelsFor(this.options, this.owner, request ?? ({} as LaunchRequest), backend, 'persistent'), [Labels.key]: key, ...(this.options.autoTeardown ? {} : {[Labels.keep]: 'true'})};
    delete labels[Labels.experiment];
    const create = containerOptions({
      image: backend.image!,
      name: containerName(backend.id),
      cmd: ['sh', '-c', this.options.autoTeardown ? HOLD_WHILE_ATTACHED : HOLD_FOREVER],
      env: {},
      mounts: [...mounts, ...(workRoot ? [{hostPath: workRoot, containerPath: workRoot}] : [])],
      gpus,
      cpus: request?.cpus,
      spec: {},
      labels,
      hostConfig: this.options.hostConfig,
    });
    const started = await startContainer(this.options.engine, create, request ?? {});
    this.options.onEvent?.({type: 'container', action: 'created', id: started.id, name: started.name, backend: backend.id});
    return {started, adopted: false, fresh: true};
  }

  async launch(request: LaunchRequest, backend: LaunchBackend, serial: number): Promise<LaunchedServer> {
    const {spec} = request;
    const stopSpec = stopSpecOf(spec);
    mkdirSync(request.workdir, {recursive: true});
    writeSpecFiles(request.workdir, spec.files);
    const persistent = await this.ensure(backend, request.gpus ?? [], spec.mounts ?? [], request);
    const first = persistent.fresh;
    persistent.fresh = false;
    request.onTarget?.(persistent.started.target);
    const pidFile = serverPidFile(ownerTag(this.owner), serial);
    const argv = ['sh', '-c', SERVER_WRAPPER, 'lem-serve', String(stopSpec.graceS), pidFile, ...spec.argv];
    const proc = await execServer(this.options.engine, persistent.started, {argv, env: spec.env, workdir: request.workdir, pidFile, onLine: request.onLine});
    const baseUrl = `http://127.0.0.1:${spec.port}`;
    try {
      await untilReady(request, proc, stopSpec, baseUrl);
    } catch (error) {
      await proc.stop(0);
      throw error;
    }
    const container = containerInfo(persistent.started, backend, 'persistent', {started: first && !persistent.adopted, adopted: persistent.adopted}, request.cpus);
    return launchedServer(proc, {baseUrl, argv: recordedArgv(stopSpec, spec), target: persistent.started.target, container, warmupDelayS: first ? this.options.warmupDelayS : 0}, stopSpec, async () => undefined);
  }

  /** Removes this runner's containers, or, with auto_teardown off, leaves them kept for adoption. */
  async close(): Promise<void> {
    const all = [...this.containers.values()];
    this.containers.clear();
    for (const p of await Promise.allSettled(all)) {
      if (p.status !== 'fulfilled') continue;
      const {started} = p.value;
      const labels = (await started.container.inspect().catch(() => null))?.Config.Labels ?? {};
      if (this.options.autoTeardown && labels[Labels.keep] !== 'true') {
        await removeQuietly(started.container);
        this.options.onEvent?.({type: 'container', action: 'removed', id: started.id, name: started.name, backend: labels[Labels.backend] ?? '?'});
      } else {
        started.stream.destroy();
        this.options.onEvent?.({type: 'container', action: 'kept', id: started.id, name: started.name, backend: labels[Labels.backend] ?? '?'});
      }
    }
  }
}

/** A kept container of this host with this key (`lem.keep=true`), started again if it stopped. */
async function adoptKept(engine: DockerEngine, key: string, hostId: string): Promise<Started | null> {
  const list = await engine.docker.listContainers({all: true, filters: {label: [`${Labels.key}=${key}`, `${Labels.keep}=true`, `${Labels.host}=${hostId}`]}});
  const [kept] = list;
  if (!kept) return null;
  const container = engine.docker.getContainer(kept.Id);
  if (kept.State !== 'running') await container.start();
  const {readStarted} = await import('./containers.js');
  return readStarted(engine, container, null);
}


