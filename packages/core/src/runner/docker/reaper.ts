/**
 * lem's containers on an engine: the reaper that runs at every lem start, and what `lem
 * containers list|prune` show and remove. A container belongs to the lem named by its labels —
 * host, pid and that pid's start time (pids are reused, and a DOCKER_HOST may be shared) — and
 * only this host's containers of a lem that is gone are ever touched.
 */
import {isProcessAlive} from '../proc.js';
import {removeQuietly} from './containers.js';
import {Labels, machineId, type DockerEngine} from './engine.js';
import {execQuiet} from './exec.js';
import {killServersScript} from './wrapper.js';

export interface LemContainer {
  id: string;
  name: string;
  image: string;
  backend: string | null;
  strategy: string | null;
  campaign: string | null;
  /** `running`, `exited`, … as the engine says. */
  state: string;
  kept: boolean;
  host: string | null;
  thisHost: boolean;
  pid: number | null;
  /** The owning lem still runs (this host only; false for another host's). */
  ownerAlive: boolean;
  createdAt: string;
}

export interface ContainerReapResult {
  /** Containers removed (their lem is gone). */
  removed: string[];
  /** Kept containers whose servers were stopped. */
  stopped: string[];
}

export interface PruneResult {
  removed: string[];
}

export async function listContainers(engine: DockerEngine, hostId: string = machineId()): Promise<LemContainer[]> {
  const list = await engine.docker.listContainers({all: true, filters: {label: [`${Labels.managed}=true`]}});
  return list.map((c) => {
    const labels = c.Labels ?? {};
    const thisHost = labels[Labels.host] === hostId;
    const pid = labels[Labels.pid] ? Number(labels[Labels.pid]) : null;
    const start = labels[Labels.pidStart] ? Number(labels[Labels.pidStart]) : undefined;
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
  });
}

/**
 * Removes this host's containers whose lem is gone; in kept ones (`lem.keep=true`) only the
 * servers of a gone lem are stopped, and the container is left for a later run to adopt.
 */
export async function reapContainers(engine: DockerEngine, options: {hostId?: string} = {}): Promise<ContainerReapResult> {
  const containers = (await listContainers(engine, options.hostId)).filter((c) => c.thisHost);
  const result: ContainerReapResult = {removed: [], stopped: []};
  const live = new Set(containers.filter((c) => c.ownerAlive).map((c) => c.id));
  await Promise.all(
    containers
      .filter((c) => !live.has(c.id))
      .map(async (c) => {
        const container = engine.docker.getContainer(c.id);
        if (!c.kept) {
          await removeQuietly(container);
          result.removed.push(c.name);
        } else if (c.state === 'running') {
          await stopDeadOwnersServers(container);
          result.stopped.push(c.name);
        }
      }),
  );
  return result;
}

/** In a kept container, the servers whose pid files name a lem that is no longer running. */
async function stopDeadOwnersServers(container: ReturnType<DockerEngine['docker']['getContainer']>): Promise<void> {
  const listing = await execOutput(container, 'ls /tmp/lem-server-*.pid 2>/dev/null; true');
  for (const file of listing.split('\n').filter(Boolean)) {
    const match = /lem-server-([^-]+)-(\d+)-(\d+)-\d+\.pid$/.exec(file);
    if (match && match[1] === machineId().slice(0, 12) && isProcessAlive(Number(match[2]), Number(match[3]))) continue;
    await execQuiet({container}, killServersScript(file, 'TERM')).catch(() => undefined);
  }
}

async function execOutput(container: ReturnType<DockerEngine['docker']['getContainer']>, script: string): Promise<string> {
  const exec = await container.exec({Cmd: ['sh', '-c', script], AttachStdout: true, AttachStderr: false});
  const stream = await exec.start({hijack: true, stdin: false});
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  await new Promise<void>((resolve) => (stream.once('end', resolve), stream.once('close', resolve), stream.once('error', () => resolve())));
  // Multiplexed frames: 8-byte headers before each payload.
  const raw = Buffer.concat(chunks);
  const out: Buffer[] = [];
  for (let at = 0; at + 8 <= raw.length; ) {
    const size = raw.readUInt32BE(at + 4);
    out.push(raw.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  return Buffer.concat(out).toString('utf8');
}

/** `lem containers prune`: this host's containers of a gone lem (kept ones too with `kept`). Never a live lem's, never another host's. */
export async function pruneContainers(engine: DockerEngine, options: {kept?: boolean; hostId?: string} = {}): Promise<PruneResult> {
  const containers = (await listContainers(engine, options.hostId)).filter((c) => c.thisHost && !c.ownerAlive && (!c.kept || options.kept));
  await Promise.all(containers.map((c) => removeQuietly(engine.docker.getContainer(c.id))));
  return {removed: containers.map((c) => c.name)};
}
