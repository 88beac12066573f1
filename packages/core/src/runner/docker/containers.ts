/**
 * Creating, starting, inspecting and removing containers, and finding what to measure in them
 * (their cgroup). lem attaches to a container before starting it and keeps that stream for the
 * container's life: no output is missed, and closing the stream is how a container learns that
 * lem is gone.
 */
import {readFileSync} from 'node:fs';
import {constants} from 'node:os';
import type {Duplex} from 'node:stream';
import type Docker from 'dockerode';
import {configError, runError} from '../../errors.js';
import type {MeterTarget} from '../../meters/types.js';
import type {ServerExit} from '../types.js';
import {cgroupPathOf} from './create.js';
import {Labels, unreachable, type DockerEngine} from './engine.js';

/** What lem needs to know of a started container. */
export interface ContainerFacts {
  id: string;
  name: string;
  /** `sha256:…` */
  imageId: string;
  /** Its main process on the engine's host (0 when not running). */
  pid: number;
  running: boolean;
  labels: Record<string, string>;
  /** `CpusetCpus` as the engine has it; empty: not restricted. */
  cpuset: string;
}

export interface HeldContainer {
  container: Docker.Container;
  facts: ContainerFacts;
  /** lem's stream on its stdin and output; null when nothing was attached. */
  stream: Duplex | null;
}

/** Connection failures (no statusCode): the engine itself is not there. */
const isConnectionError = (error: unknown): boolean => {
  const code = (error as {code?: string}).code;
  return (error as {statusCode?: number}).statusCode === undefined && typeof code === 'string' && /^(ECONNREFUSED|ENOENT|EACCES|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH)$/.test(code);
};

/** An engine failure while `doing` something: unreachable, or the engine's own answer as a runtime error. */
export function engineError(engine: DockerEngine, error: unknown, doing: string): Error {
  if (isConnectionError(error)) return unreachable(engine, error);
  const said = (error as {json?: {message?: string}}).json?.message ?? (error as Error).message;
  return runError('E_DOCKER_ENGINE', `the Docker engine at ${engine.host} failed ${doing}: ${said}`, ['docker info   # is the engine healthy?', 'lem containers list   # what lem left on it'], 'runtime', undefined, error);
}

async function createContainer(engine: DockerEngine, options: Docker.ContainerCreateOptions): Promise<Docker.Container> {
  try {
    return await engine.docker.createContainer(options);
  } catch (error) {
    const status = (error as {statusCode?: number}).statusCode;
    if (status === 404 && /no such image/i.test(String((error as Error).message))) {
      const backend = options.Labels?.[Labels.backend] ?? '<backend>';
      throw configError('E_IMAGE_MISSING', `the image ${options.Image} is not on the Docker engine at ${engine.host}`, [`lem images build ${backend}`, 'lem images list   # what each backend needs']);
    }
    const missingMount = /bind source path does not exist: (\S+)/.exec(String((error as Error).message));
    if (missingMount) {
      throw configError('E_MOUNT_MISSING', `the folder ${missingMount[1]} to be mounted into the container does not exist on the engine's host`, ['create it, or fix docker.mounts in .lem-config.yaml (host:container[:ro])']);
    }
    throw engineError(engine, error, `to create a container from ${options.Image}`);
  }
}

/**
 * Creates, attaches (stdin when the plan holds it, and the output when `output`), starts and
 * inspects; when any step fails, the container is removed before the error is raised.
 * `onStep` hears `created` and `started`.
 */
export async function startContainer(engine: DockerEngine, options: Docker.ContainerCreateOptions, how: {output: boolean; onStep?: (step: 'created' | 'started', id: string) => void}): Promise<HeldContainer> {
  const container = await createContainer(engine, options);
  how.onStep?.('created', container.id);
  let stream: Duplex | null = null;
  try {
    const stdin = options.OpenStdin === true;
    if (stdin || how.output) stream = (await container.attach({stream: true, hijack: true, stdin, stdout: how.output, stderr: how.output})) as unknown as Duplex;
    // A dropped connection is read through wait and inspect, not as an error here.
    stream?.on('error', () => undefined);
    await container.start();
    how.onStep?.('started', container.id);
    return {container, facts: await inspectFacts(container), stream};
  } catch (error) {
    stream?.destroy();
    await removeQuietly(container);
    throw engineError(engine, error, `to start a container from ${options.Image}`);
  }
}

export async function inspectFacts(container: Docker.Container): Promise<ContainerFacts> {
  const info = await container.inspect();
  return {id: info.Id, name: info.Name.replace(/^\//, ''), imageId: info.Image, pid: info.State.Pid, running: info.State.Running, labels: info.Config.Labels ?? {}, cpuset: info.HostConfig.CpusetCpus ?? ''};
}

/**
 * What meters attribute a container's server to: its cgroup, read from the host's
 * /proc/<main pid>/cgroup. Null when that cannot be read from here (a remote engine's container,
 * or no such line): nothing of it is measurable.
 */
export function cgroupTarget(engine: DockerEngine, facts: ContainerFacts, procRoot = '/proc'): MeterTarget | null {
  if (engine.remote || facts.pid <= 0) return null;
  try {
    const path = cgroupPathOf(readFileSync(`${procRoot}/${facts.pid}/cgroup`, 'utf8'));
    return path ? {kind: 'cgroup', path} : null;
  } catch {
    return null;
  }
}

/**
 * The target a launch reports when there is no cgroup to read: a path no cgroup has, so a meter
 * given it reads nothing (never the root cgroup, which is the whole machine).
 */
export const unmeasuredTarget = (id: string): MeterTarget => ({kind: 'cgroup', path: `/lem.unmeasured/${id}`});

export async function removeQuietly(container: Docker.Container): Promise<void> {
  await container.remove({force: true}).catch(() => undefined);
}

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/**
 * An exit status as the seam reports it: 128+n is signal n (docker-init and the shell report a
 * signalled process so). `oomKilled` is the engine's word, or null where it has none.
 */
export function exitOf(code: number | null, oomKilled: boolean | null): ServerExit {
  const signal = code !== null && code > 128 && code < 128 + 65 ? (SIGNAL_NAMES.get(code - 128) ?? null) : null;
  return {code, signal, oomKilled};
}
