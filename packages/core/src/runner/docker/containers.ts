/**
 * Creating, starting and removing containers; finding what to measure in them (their cgroup).
 * lem attaches to a container's stdin before starting it and keeps that stream for the
 * container's life: closing it is how a container learns that lem is gone.
 */
import {readFileSync} from 'node:fs';
import type {Duplex} from 'node:stream';
import type Docker from 'dockerode';
import {configError, runError} from '../../errors.js';
import type {MeterTarget} from '../../meters/types.js';
import type {LaunchRequest} from '../types.js';
import {cgroupPathOf} from './create.js';
import type {DockerEngine} from './engine.js';

export interface Started {
  container: Docker.Container;
  id: string;
  name: string;
  imageId: string;
  /** lem's stream on the container's stdin (and its output). */
  stream: Duplex;
  target: MeterTarget;
}

/** Creates, attaches and starts; on any failure nothing is left behind. Reports the cgroup target as soon as the container runs. */
export async function startContainer(engine: DockerEngine, create: Docker.ContainerCreateOptions, request: Pick<LaunchRequest, 'onTarget'>): Promise<Started> {
  let container: Docker.Container;
  try {
    container = await engine.docker.createContainer(create);
  } catch (error) {
    throw createFailed(create, error);
  }
  try {
    const stream = (await container.attach({stream: true, stdin: true, stdout: true, stderr: true, hijack: true})) as unknown as Duplex;
    stream.on('error', () => undefined); // a closed connection is the container's business, read through wait/inspect
    await container.start();
    return await readStarted(engine, container, stream, request);
  } catch (error) {
    await removeQuietly(container);
    throw runError('E_CONTAINER_START', `the container for ${create.Image} could not start: ${(error as Error).message}`, ['docker info   # is the engine healthy?', 'lem images list   # is the image there?'], 'runtime', undefined, error);
  }
}

/** What a running container is: its id, name, image id and cgroup. `stream` null: attach one now (an adopted container). */
export async function readStarted(engine: DockerEngine, container: Docker.Container, stream: Duplex | null, request: Pick<LaunchRequest, 'onTarget'> = {}): Promise<Started> {
  const info = await container.inspect();
  const target = engine.remote ? ({kind: 'cgroup', path: ''} as const) : {kind: 'cgroup' as const, path: cgroupOfPid(info.State.Pid)};
  if (!engine.remote) request.onTarget?.(target);
  const held = stream ?? ((await container.attach({stream: true, stdin: true, stdout: false, stderr: false, hijack: true})) as unknown as Duplex);
  held.on('error', () => undefined);
  return {container, id: info.Id, name: info.Name.replace(/^\//, ''), imageId: info.Image, stream: held, target};
}

function cgroupOfPid(pid: number): string {
  try {
    return cgroupPathOf(readFileSync(`/proc/${pid}/cgroup`, 'utf8')) ?? '';
  } catch {
    return '';
  }
}

function createFailed(create: Docker.ContainerCreateOptions, error: unknown): Error {
  const status = (error as {statusCode?: number}).statusCode;
  if (status === 404) {
    const backend = create.Labels?.['lem.backend'] ?? '<backend>';
    return configError('E_IMAGE_MISSING', `the image ${create.Image} is not on this Docker engine`, [`lem images build ${backend}`]);
  }
  return runError('E_CONTAINER_CREATE', `the container for ${create.Image} could not be created: ${(error as Error).message}`, ['docker info   # is the engine healthy?'], 'runtime', undefined, error);
}

export async function removeQuietly(container: Docker.Container): Promise<void> {
  await container.remove({force: true}).catch(() => undefined);
}
