/**
 * The persistent strategy (DESIGN §4): a long-lived container per key — backend, image, GPU set,
 * mounts and create options (create.ts) — running docker-init and a hold process; each launch
 * execs the wrapped server in it. Under `auto_teardown: true` the hold lives while lem's stream on
 * its stdin is open, so the container ends with lem; under `false` it holds forever, the
 * container is labelled `lem.keep=true`, and a later lem with the same key on this host adopts it.
 */
import {mkdirSync} from 'node:fs';
import {dirname, isAbsolute, relative} from 'node:path';
import type {Mount, ServerSpec} from '@lem/plugin-kit';
import {stopSpecOf} from '../readiness.js';
import type {LaunchedServer, LaunchRequest, PlannedLaunch} from '../types.js';
import {engineError, inspectFacts, removeQuietly, startContainer, type HeldContainer} from './containers.js';
import {containerCreateOptions, containerKey, containerLabels, containerName, cpusetOf, type ContainerPlan, type ContainerShape} from './create.js';
import {beforeStart, containerInfo, imageBackend, launchedServer, readyOrGone, reportTarget, serverUrl, type ContainerServer, type ImageBackend, type RunnerContext} from './context.js';
import {Labels} from './engine.js';
import {execServer, isContainerGone} from './exec.js';
import {HOLD_FOREVER, HOLD_WHILE_ATTACHED, serverPidFile, wrappedArgv, wrapperArgs} from './wrapper.js';

/** What a launch needs of a persistent container: its key and what it is made of. */
interface Need {
  key: string;
  backend: ImageBackend;
  gpus: string[];
  mounts: Mount[];
  shape: ContainerShape;
  /** CPUs of the launch that makes it (later launches update the cpuset). */
  cpus?: number[];
  /** The work root it mounts, made on the host before the container is (a bind source must exist). */
  workRoot?: string;
}

interface Entry {
  held: HeldContainer;
  backend: ImageBackend;
  /** Made by this runner (false: adopted). */
  createdHere: boolean;
  /** True once a launch got the warm-up delay: only the launch that started or adopted the container does. */
  greeted: boolean;
  /** Its cpuset now (null: not restricted). */
  cpuset: string | null;
}

export interface PersistentPool {
  launch(request: LaunchRequest, backend: ImageBackend): Promise<LaunchedServer>;
  prepare(launches: PlannedLaunch[]): Promise<void>;
  /** Removes the containers this runner made (auto_teardown), or leaves them kept. */
  close(): Promise<void>;
}

export function persistentPool(ctx: RunnerContext): PersistentPool {
  const entries = new Map<string, Promise<Entry>>();
  let serial = 0;
  const ensure = (need: Need): Promise<Entry> => {
    let entry = entries.get(need.key);
    if (!entry) {
      entry = openEntry(ctx, need);
      entries.set(need.key, entry);
      entry.catch(() => entries.delete(need.key));
    }
    return entry;
  };
  const forget = (key: string) => entries.delete(key);
  return {
    launch: (request, backend) => launchIn(ctx, {ensure, forget, serial: () => ++serial}, request, backend),
    async prepare(launches) {
      // The same spec terms a launch's key is made of, so that the launch finds the container made here.
      const needs = launches.map((l) => needOf(ctx, imageBackend(l.backend), l.gpus, l.spec, ctx.options.workRoot));
      await Promise.all(needs.map(ensure));
    },
    async close() {
      const all = [...entries.values()];
      entries.clear();
      for (const settled of await Promise.allSettled(all)) if (settled.status === 'fulfilled') await closeEntry(ctx, settled.value);
    },
  };
}

/**
 * The work root a launch's folder is mounted through: the configured one when the folder is in
 * it, else the folder's parent.
 */
function workRootOf(ctx: RunnerContext, workdir: string): string {
  const root = ctx.options.workRoot;
  const rel = root ? relative(root, workdir) : '..';
  return root && rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? root : dirname(workdir);
}

function needOf(ctx: RunnerContext, backend: ImageBackend, gpus: string[], spec: Partial<Pick<ServerSpec, 'mounts' | 'shmSizeBytes' | 'ipcHost' | 'ulimits'>>, workRoot: string | undefined, cpus?: number[]): Need {
  const mounts = [...(spec.mounts ?? []), ...ctx.options.mounts, ...(workRoot ? [{hostPath: workRoot, containerPath: workRoot}] : [])];
  const shape: ContainerShape = {shmSizeBytes: spec.shmSizeBytes, ipcHost: spec.ipcHost, ulimits: spec.ulimits};
  const key = containerKey({backendId: backend.id, image: backend.image, gpus, mounts, shape, extraHostConfig: ctx.options.extraHostConfig});
  return {key, backend, gpus, mounts, shape, cpus, workRoot};
}

interface PoolAccess {
  ensure(need: Need): Promise<Entry>;
  forget(key: string): void;
  serial(): number;
}

async function launchIn(ctx: RunnerContext, pool: PoolAccess, request: LaunchRequest, backend: ImageBackend): Promise<LaunchedServer> {
  const {spec} = request;
  const stopSpec = stopSpecOf(spec);
  await beforeStart(ctx, request);
  const need = needOf(ctx, backend, request.gpus ?? [], spec, workRootOf(ctx, request.workdir), request.cpus);
  const pidFile = serverPidFile(ctx.ownerId, pool.serial());
  const command = {argv: wrappedArgv(spec.argv, {...stopSpec, pidFile}), env: spec.env, workdir: request.workdir, pidFile, stopSpec, baseUrl: serverUrl(ctx, spec.port), onLine: request.onLine};
  let entry = await pool.ensure(need);
  let server: ContainerServer;
  try {
    server = await execIn(ctx, entry, request, command);
  } catch (error) {
    if (!isContainerGone(error)) throw error;
    // The container went (removed or stopped by someone else): make it again, once; one made here
    // is removed first, so that no container this runner forgot is left behind.
    if (entry.createdHere) await removeQuietly(entry.held.container);
    pool.forget(need.key);
    entry = await pool.ensure(need);
    server = await execIn(ctx, entry, request, command);
  }
  const first = !entry.greeted;
  entry.greeted = true;
  const target = reportTarget(ctx, request, entry.held.facts);
  await readyOrGone(ctx, request, server);
  return launchedServer(server, {
    argv: wrapperArgs(spec.argv, {...stopSpec, pidFile}),
    target,
    container: containerInfo(entry.held.facts, backend.image, 'persistent', {started: first && entry.createdHere, adopted: !entry.createdHere}, request.cpus),
    warmupDelayS: first ? ctx.options.warmupDelayS : 0,
  });
}

/** The server exec'd in the entry's container; an engine failure other than a gone container is an engine error. */
async function execIn(ctx: RunnerContext, entry: Entry, request: LaunchRequest, command: Parameters<typeof execServer>[2]): Promise<ContainerServer> {
  try {
    await applyCpuset(ctx, entry, request.cpus);
    return await execServer(ctx.engine.docker, entry.held.container, command);
  } catch (error) {
    throw isContainerGone(error) ? error : engineError(ctx.engine, error, `to start the server in container ${entry.held.facts.name}`);
  }
}

/** A running container's cpuset follows each launch's CPUs (docker update), so CPUs are not part of the key. */
async function applyCpuset(ctx: RunnerContext, entry: Entry, cpus: number[] | undefined): Promise<void> {
  const wanted = cpus && cpus.length > 0 ? cpusetOf(cpus) : null;
  if (wanted === entry.cpuset) return;
  const all = async () => `0-${Math.max(0, ((await ctx.engine.docker.info()) as {NCPU: number}).NCPU - 1)}`;
  await entry.held.container.update({CpusetCpus: wanted ?? (await all())});
  entry.cpuset = wanted;
}

async function openEntry(ctx: RunnerContext, need: Need): Promise<Entry> {
  const kept = await adoptKept(ctx, need);
  if (kept) return kept;
  if (need.workRoot) mkdirSync(need.workRoot, {recursive: true});
  const plan = persistentPlan(ctx, need);
  const held = await startContainer(ctx.engine, containerCreateOptions(plan), {
    output: false,
    onStep: (step, id) => ctx.emit(step, {id, name: plan.name}, need.backend.id, 'persistent'),
  });
  return {held, backend: need.backend, createdHere: true, greeted: false, cpuset: held.facts.cpuset || null};
}

function persistentPlan(ctx: RunnerContext, need: Need): ContainerPlan {
  const {autoTeardown} = ctx.options;
  return {
    image: need.backend.image,
    name: containerName(need.backend.id),
    cmd: ['sh', '-c', autoTeardown ? HOLD_WHILE_ATTACHED : HOLD_FOREVER],
    env: {},
    mounts: need.mounts,
    gpus: need.gpus,
    cpus: need.cpus,
    shape: need.shape,
    labels: containerLabels({owner: ctx.owner, backend: need.backend, strategy: 'persistent', campaign: ctx.options.campaign, key: need.key, keep: !autoTeardown}),
    holdStdin: autoTeardown,
    extraHostConfig: ctx.options.extraHostConfig,
  };
}

/** A container a previous lem of this host kept with this key (`lem.keep=true`), started again if it had stopped. */
async function adoptKept(ctx: RunnerContext, need: Need): Promise<Entry | null> {
  const {docker} = ctx.engine;
  const labels = [`${Labels.managed}=true`, `${Labels.keep}=true`, `${Labels.key}=${need.key}`, `${Labels.host}=${ctx.hostId}`];
  const found = await docker.listContainers({all: true, filters: {label: labels}});
  for (const candidate of found.sort((a, b) => Number(b.State === 'running') - Number(a.State === 'running'))) {
    const container = docker.getContainer(candidate.Id);
    try {
      if (candidate.State !== 'running') await container.start();
      const facts = await inspectFacts(container);
      ctx.emit('adopted', facts, need.backend.id, 'persistent');
      return {held: {container, facts, stream: null}, backend: need.backend, createdHere: false, greeted: false, cpuset: facts.cpuset || null};
    } catch {
      // gone or broken meanwhile: the next one, else a new container (`lem containers prune --kept` removes it)
    }
  }
  return null;
}

/** Servers are already stopped (the runner's close). A container made here goes unless kept; an adopted one stays kept. */
async function closeEntry(ctx: RunnerContext, entry: Entry): Promise<void> {
  const {facts, container, stream} = entry.held;
  stream?.destroy();
  if (entry.createdHere && ctx.options.autoTeardown) {
    await removeQuietly(container);
    ctx.emit('removed', facts, entry.backend.id, 'persistent');
  } else {
    ctx.emit('kept', facts, entry.backend.id, 'persistent');
  }
}
