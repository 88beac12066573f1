/**
 * The Docker engine lem talks to (DESIGN §4): one dockerode client at `docker.host`, else
 * `$DOCKER_HOST`, else the local socket; who this lem is (the labels that let a reaper tell its
 * containers from another lem's, on this host or another); and whether the engine is on this
 * machine at all (a remote engine's containers cannot be measured from here).
 */
import {readFileSync} from 'node:fs';
import {hostname} from 'node:os';
import Docker from 'dockerode';
import {configError, type CodedError} from '../../errors.js';
import {processStartTime} from '../proc.js';

export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

/** The labels lem puts on every container it creates. */
export const Labels = {
  /** `true` on every container lem made; the reaper looks at nothing else. */
  managed: 'lem.managed',
  campaign: 'lem.campaign',
  experiment: 'lem.experiment',
  backend: 'lem.backend',
  pluginVersion: 'lem.plugin.version',
  /** The machine id of the host whose lem made the container (a `DOCKER_HOST` may be shared). */
  host: 'lem.host',
  /** The lem process that owns the container, and its start time (pids are reused). */
  pid: 'lem.pid',
  pidStart: 'lem.pid.start',
  /** `true`: a persistent container left for a later run to adopt (`docker.auto_teardown: false`). */
  keep: 'lem.keep',
  /** `ephemeral` or `persistent`. */
  strategy: 'lem.strategy',
  /** A persistent container's key: what a later run must match to adopt it. */
  key: 'lem.container.key',
  /** On images: the Dockerfile's hash when the image was built. */
  dockerfileHash: 'lem.dockerfile.hash',
} as const;

export interface DockerEngine {
  docker: Docker;
  /** The address, as configured (`unix:///…`, `tcp://host:port`). */
  host: string;
  /** True when the engine is on another machine: its containers' cgroups and processes are not ours to read. */
  remote: boolean;
}

/** The engine at `host` (the `docker.host` setting), else `$DOCKER_HOST`, else the local socket. */
export function dockerEngine(host?: string, env: NodeJS.ProcessEnv = process.env): DockerEngine {
  const address = host ?? (env.DOCKER_HOST || DEFAULT_DOCKER_HOST);
  return {docker: new Docker(clientOptions(address)), host: address, remote: isRemote(address)};
}

function clientOptions(address: string): Docker.DockerOptions {
  if (address.startsWith('unix://')) return {socketPath: address.slice('unix://'.length)};
  if (address.startsWith('/')) return {socketPath: address};
  const url = new URL(address.replace(/^tcp:/, 'http:'));
  const protocol = url.protocol === 'https:' ? 'https' : url.protocol === 'ssh:' ? 'ssh' : 'http';
  return {host: url.hostname, port: url.port || (protocol === 'https' ? 2376 : 2375), protocol};
}

/** An engine reached over a unix socket or a loopback address runs on this machine. */
export function isRemote(address: string): boolean {
  if (address.startsWith('unix://') || address.startsWith('/')) return false;
  try {
    const name = new URL(address.replace(/^tcp:/, 'http:')).hostname;
    return !['127.0.0.1', 'localhost', '::1', '[::1]'].includes(name);
  } catch {
    return true;
  }
}

/**
 * Where a host-networked server is reached: this machine's loopback, or the remote engine's host
 * (whose servers must then listen on an address this machine can reach).
 */
export function serverHost(engine: DockerEngine): string {
  if (!engine.remote) return '127.0.0.1';
  try {
    return new URL(engine.host.replace(/^tcp:/, 'http:')).hostname || '127.0.0.1';
  } catch {
    return '127.0.0.1';
  }
}

/** Rejects with E_DOCKER_UNREACHABLE unless the engine answers a ping within `timeoutMs`. */
export async function pingEngine(engine: DockerEngine, timeoutMs = 5_000): Promise<void> {
  try {
    await Promise.race([
      engine.docker.ping(),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
  } catch (error) {
    throw unreachable(engine, error);
  }
}

export function unreachable(engine: DockerEngine, error: unknown): CodedError {
  const reason = (error as {code?: string}).code ?? (error as Error).message;
  return configError('E_DOCKER_UNREACHABLE', `the Docker engine at ${engine.host} did not answer (${reason})`, [
    'start Docker, or point lem at an engine: DOCKER_HOST=unix:///path/to/docker.sock, or docker.host in .lem-config.yaml',
    '--runner local   # run the server as a host process instead',
  ]);
}

let cachedMachineId: string | undefined;
/** This host's identity for the `lem.host` label: /etc/machine-id, else the host name. */
export function machineId(): string {
  if (cachedMachineId !== undefined) return cachedMachineId;
  for (const path of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      const id = readFileSync(path, 'utf8').trim();
      if (id) return (cachedMachineId = id);
    } catch {
      // next
    }
  }
  return (cachedMachineId = `hostname:${hostname()}`);
}

/** The labels that say which lem owns a container: this host, this process, its start time. */
export function ownerLabels(hostId: string = machineId()): Record<string, string> {
  return {
    [Labels.managed]: 'true',
    [Labels.host]: hostId,
    [Labels.pid]: String(process.pid),
    [Labels.pidStart]: String(processStartTime(process.pid) ?? 0),
  };
}
