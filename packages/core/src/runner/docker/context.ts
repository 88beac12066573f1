/**
 * What both container strategies share: the runner's options and identity, the checks before a
 * server starts, readiness through the runners' common code, the idempotent stop, and the seam's
 * view of a started server.
 */
import type Docker from 'dockerode';
import type {Mount, StopSpec} from '@lem/plugin-kit';
import {configError, runError} from '../../errors.js';
import {monoNs, msSince} from '../../measure/types.js';
import type {MeterTarget} from '../../meters/types.js';
import {writeSpecFiles} from '../local.js';
import {assertPortFree} from '../ports.js';
import {processStartTime} from '../proc.js';
import {awaitReadiness, interruptedError, type LaunchingServer} from '../readiness.js';
import type {ContainerInfo, LaunchBackend, LaunchedServer, LaunchRequest, ServerExit, ServerStopResult} from '../types.js';
import {cgroupTarget, unmeasuredTarget, type ContainerFacts} from './containers.js';
import {machineId, ownerLabels, serverHost, type DockerEngine} from './engine.js';

export type ContainerStrategy = 'ephemeral' | 'persistent';

export interface DockerRunnerOptions {
  engine: DockerEngine;
  /** `ephemeral`: a container per launch; `persistent`: a long-lived container per key, a server exec'd per launch. */
  strategy: ContainerStrategy;
  /** Persistent only: `eager` starts the containers in `prepare()`, `lazy` on their first launch. */
  startup: 'eager' | 'lazy';
  /** `docker.warmup_delay_s`: handed to the pipeline after each container start (or adoption). */
  warmupDelayS: number;
  /** Persistent only: false keeps the containers (`lem.keep=true`) for a later run to adopt. */
  autoTeardown: boolean;
  /** `docker.mounts`: added to every container, beside the backend's own. */
  mounts: Mount[];
  /**
   * The folder launch work folders are made in (`<project>/.lem-state/work`): persistent
   * containers, which outlive single launches, mount it at its own path so each launch's
   * `spec.files` are visible in them. Default: the parent of the launch's work folder.
   */
  workRoot?: string;
  /** Goes on the `lem.campaign` label (else the launch's own `labels.campaign`). */
  campaign?: string;
  /** This host's id on the `lem.host` label; default {@link machineId}. */
  hostId?: string;
  /** Containers created, started, adopted, removed or kept, for the display. */
  onEvent?: (event: DockerRunnerEvent) => void;
  /**
   * Host settings added to every container (tests: a real memory limit). Not a user setting;
   * part of a persistent container's key.
   */
  extraHostConfig?: Docker.HostConfig;
}

export interface DockerRunnerEvent {
  type: 'container';
  action: 'created' | 'started' | 'adopted' | 'removed' | 'kept';
  id: string;
  name: string;
  backend: string;
  strategy: ContainerStrategy;
}

/** A server of this runner that may still run: what `close()` interrupts and stops. */
export interface LiveServer {
  interrupt(): void;
  stop(maxGraceS?: number): Promise<unknown>;
}

/** The runner-wide state both strategies read. */
export interface RunnerContext {
  options: DockerRunnerOptions;
  engine: DockerEngine;
  hostId: string;
  /** {@link ownerLabels} of this lem, computed once. */
  owner: Record<string, string>;
  ownerId: {pid: number; startTime: number};
  live: Set<LiveServer>;
  emit(action: DockerRunnerEvent['action'], container: {id: string; name: string}, backend: string, strategy: ContainerStrategy): void;
}

export function runnerContext(options: DockerRunnerOptions): RunnerContext {
  const hostId = options.hostId ?? machineId();
  return {
    options,
    engine: options.engine,
    hostId,
    owner: ownerLabels(hostId),
    ownerId: {pid: process.pid, startTime: processStartTime(process.pid) ?? 0},
    live: new Set(),
    emit: (action, container, backend, strategy) => options.onEvent?.({type: 'container', action, id: container.id, name: container.name, backend, strategy}),
  };
}

/** A launch's backend with the image its server runs in. */
export type ImageBackend = LaunchBackend & {image: string};

export function imageBackend(backend: LaunchBackend | undefined): ImageBackend {
  if (backend?.image) return backend as ImageBackend;
  const id = backend?.id ?? 'the backend';
  throw configError('E_NO_IMAGE', `${id} has no container image, so it cannot run under the docker runner`, [
    '--runner local   # run the server as a host process',
    `lem backends   # which backends have an image (${id} does not)`,
  ]);
}

/** The checks and files before anything is created; rejects as the local runner does. */
export async function beforeStart(ctx: RunnerContext, request: LaunchRequest): Promise<void> {
  if (request.signal?.aborted) throw interruptedError('before the server started');
  if (request.spec.argv.length === 0) throw runError('E_SERVER_SPEC', 'the backend gave an empty command line', ['report this to the backend plugin'], 'config');
  // Host networking: the server binds this port on the engine's host, which is this one unless remote.
  if (!ctx.engine.remote) await assertPortFree(request.spec.port);
  writeSpecFiles(request.workdir, request.spec.files);
}

export const serverUrl = (ctx: RunnerContext, port: number): string => `http://${serverHost(ctx.engine)}:${port}`;

/**
 * What meters attribute the server to, reported through `onTarget` as soon as it is known; a
 * container that cannot be measured from here gets a target that reads nothing, and no report.
 */
export function reportTarget(ctx: RunnerContext, request: LaunchRequest, facts: ContainerFacts): MeterTarget {
  const target = cgroupTarget(ctx.engine, facts);
  if (target) {
    request.onTarget?.(target);
    return target;
  }
  if (!ctx.engine.remote) request.onWarning?.(`the cgroup of container ${facts.name} could not be read: its CPU time is not measured`);
  return unmeasuredTarget(facts.id);
}

/** A started server, as both strategies make it; stop() is idempotent and waits until it is gone. */
export interface ContainerServer extends LaunchingServer {
  stop(maxGraceS?: number): Promise<ServerStopResult>;
}

/**
 * The idempotent stop of a server: `halt(graceS)` (grace = the backend's, or `maxGraceS` when
 * shorter) unless it has already ended, says whether it had to kill; then the exit, then
 * `cleanup` (what the runner made for it). Later calls get the first call's result.
 */
export function stopper(stopSpec: StopSpec, exited: Promise<ServerExit>, halt: (graceS: number) => Promise<boolean>, cleanup: () => Promise<void> = async () => {}): (maxGraceS?: number) => Promise<ServerStopResult> {
  let ended = false;
  void exited.then(() => (ended = true));
  let result: Promise<ServerStopResult> | undefined;
  return (maxGraceS) =>
    (result ??= (async () => {
      const startNs = monoNs();
      const forced = ended ? false : await halt(Math.max(0, Math.min(stopSpec.graceS, maxGraceS ?? Infinity)));
      const exit = await exited;
      await cleanup();
      return {...exit, forced, durationMs: msSince(startNs)};
    })());
}

/**
 * Waits for readiness (readiness.ts); a launch that does not end ready is stopped and rejects.
 * From the start the server is one of this runner's live servers, until it is gone.
 */
export async function readyOrGone(ctx: RunnerContext, request: LaunchRequest, server: ContainerServer): Promise<void> {
  let interrupt = () => {};
  const entry: LiveServer = {interrupt: () => interrupt(), stop: (g) => server.stop(g)};
  ctx.live.add(entry);
  void server.exited
    .then(() => server.stop())
    .catch(() => undefined)
    .finally(() => ctx.live.delete(entry));
  await awaitReadiness(request, server, (fn) => (interrupt = fn));
}

export function containerInfo(facts: ContainerFacts, image: string, strategy: ContainerStrategy, how: {started: boolean; adopted: boolean}, cpus: number[] | undefined): ContainerInfo {
  return {id: facts.id, name: facts.name, imageId: facts.imageId, imageRef: image, strategy, ...how, cpusetCpus: cpus && cpus.length > 0 ? [...cpus].sort((a, b) => a - b) : null};
}

export function launchedServer(server: ContainerServer, fields: Pick<LaunchedServer, 'argv' | 'target' | 'container' | 'warmupDelayS'>): LaunchedServer {
  return {baseUrl: server.baseUrl, exited: server.exited, outputTail: server.output.lines, stop: server.stop, ...fields};
}
