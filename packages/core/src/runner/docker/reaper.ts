/**
 * lem's containers on an engine: the reaper that runs before a docker session (and at every lem
 * start), and what `lem containers list|prune` show and remove. A container belongs to the lem
 * its labels name — host, pid and that pid's start time (pids are reused, and a DOCKER_HOST may be
 * shared) — and only this host's containers of a lem that is gone are ever touched. A kept
 * container (`lem.keep=true`) may serve a later lem that adopted it, so in it only the servers
 * whose pid files name a gone lem are stopped.
 */
import type Docker from 'dockerode';
import {isProcessAlive} from '../proc.js';
import {REAP_GRACE_MS} from '../reaper.js';
import {removeQuietly} from './containers.js';
import {Labels, machineId, type DockerEngine} from './engine.js';
import {execScript} from './exec.js';
import {LIST_SERVERS_SCRIPT, pidFileOwner, stopServersScript} from './wrapper.js';

export interface LemContainer {
  id: string;
  name: string;
  image: string;
  backend: string | null;
  strategy: string | null;
  campaign: string | null;
  /** `running`, `exited`, … as the engine says. */
  state: string;
  /** `lem.keep=true`: left for a later run to adopt. */
  kept: boolean;
  /** The `lem.host` label. */
  host: string | null;
  thisHost: boolean;
  /** The owning lem's pid (`lem.pid`). */
  pid: number | null;
  /** The owning lem still runs (judged on this host only: false for another host's). */
  ownerAlive: boolean;
  /** ISO 8601. */
  createdAt: string;
}

export interface HostOptions {
  /** This host's id (`lem.host`); default {@link machineId}. */
  hostId?: string;
}

export interface ContainerReapResult {
  /** Names of the containers removed (their lem is gone). */
  removed: string[];
  /** Servers stopped in kept containers, by container name. */
  stoppedServers: Array<{container: string; pid: number}>;
}

export interface PruneResult {
  /** Names of the containers removed. */
  removed: string[];
  /** Kept containers left because a running lem has a server in them. */
  inUse: string[];
}

/** Every container lem made on this engine, whoever's. */
export async function listContainers(engine: DockerEngine, options: HostOptions = {}): Promise<LemContainer[]> {
  const hostId = options.hostId ?? machineId();
  const list = await engine.docker.listContainers({all: true, filters: {label: [`${Labels.managed}=true`]}});
  return list.map((c) => describe(c, hostId));
}

function describe(c: Docker.ContainerInfo, hostId: string): LemContainer {
  const labels = c.Labels ?? {};
  const thisHost = labels[Labels.host] === hostId;
  const pid = Number(labels[Labels.pid]) || null;
  const start = labels[Labels.pidStart] === undefined ? undefined : Number(labels[Labels.pidStart]);
  return {
    id: c.Id,
    name: (c.Names[0] ?? '').replace(/^\//, ''),
    image: c.Image,
    backend: labels[Labels.backend] ?? null,
    strategy: labels[Labels.strategy] ?? null,
    campaign: labels[Labels.campaign] ?? null,
    state: c.State,
    kept: labels[Labels.keep] === 'true',
    host: labels[Labels.host] ?? null,
    thisHost,
    pid,
    ownerAlive: thisHost && pid !== null && isProcessAlive(pid, start),
    createdAt: new Date(c.Created * 1000).toISOString(),
  };
}

/** This host's containers whose lem is gone: the only ones the reaper and prune may touch. */
async function orphans(engine: DockerEngine, options: HostOptions): Promise<LemContainer[]> {
  return (await listContainers(engine, options)).filter((c) => c.thisHost && !c.ownerAlive);
}

/**
 * Removes this host's containers whose lem is gone; in kept ones only the servers of a gone lem
 * are stopped (SIGTERM, {@link REAP_GRACE_MS}, SIGKILL), and the container stays for adoption.
 */
export async function reapContainers(engine: DockerEngine, options: HostOptions & {graceMs?: number} = {}): Promise<ContainerReapResult> {
  const result: ContainerReapResult = {removed: [], stoppedServers: []};
  await Promise.all(
    (await orphans(engine, options)).map(async (c) => {
      const container = engine.docker.getContainer(c.id);
      if (!c.kept) {
        await removeQuietly(container);
        result.removed.push(c.name);
      } else if (c.state === 'running') {
        const pids = await stopGoneServers(engine, container, options.graceMs ?? REAP_GRACE_MS);
        result.stoppedServers.push(...pids.map((pid) => ({container: c.name, pid})));
      }
    }),
  );
  return result;
}

/** The servers recorded in a running container, split by whether the lem that started them still runs. */
async function serversIn(engine: DockerEngine, container: Docker.Container): Promise<{live: number; gone: Array<{pidFile: string; pid: number; startTime: number; running: boolean}>}> {
  const {stdout} = await execScript(engine.docker, container, LIST_SERVERS_SCRIPT);
  const servers = stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= 3)
    .map(([pidFile = '', pid = '', recorded = '', actual = '']) => ({pidFile, pid: Number(pid), startTime: Number(recorded), running: actual !== '' && actual === recorded, owner: pidFileOwner(pidFile)}));
  const alive = (s: (typeof servers)[number]) => s.owner !== null && isProcessAlive(s.owner.pid, s.owner.startTime);
  return {live: servers.filter((s) => s.running && alive(s)).length, gone: servers.filter((s) => !alive(s))};
}

/** Stops the servers of gone lems in a kept container, and drops their pid files; the pids that were running. */
async function stopGoneServers(engine: DockerEngine, container: Docker.Container, graceMs: number): Promise<number[]> {
  const {gone} = await serversIn(engine, container).catch(() => ({gone: []}));
  if (gone.length === 0) return [];
  await execScript(engine.docker, container, stopServersScript(gone, graceMs / 1_000)).catch(() => undefined);
  return gone.filter((s) => s.running).map((s) => s.pid);
}

/**
 * `lem containers prune`: removes this host's containers whose lem is gone, and with `kept` the
 * kept ones too — except a kept container in which a running lem (one that adopted it) has a
 * server. Never a live lem's container, never another host's.
 */
export async function pruneContainers(engine: DockerEngine, options: HostOptions & {kept?: boolean} = {}): Promise<PruneResult> {
  const result: PruneResult = {removed: [], inUse: []};
  const candidates = (await orphans(engine, options)).filter((c) => !c.kept || options.kept);
  await Promise.all(
    candidates.map(async (c) => {
      const container = engine.docker.getContainer(c.id);
      if (c.kept && c.state === 'running' && (await serversIn(engine, container).catch(() => ({live: 0}))).live > 0) {
        result.inUse.push(c.name);
        return;
      }
      await removeQuietly(container);
      result.removed.push(c.name);
    }),
  );
  return result;
}
