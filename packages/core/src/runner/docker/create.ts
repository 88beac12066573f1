/**
 * What a server's container is made of (DESIGN §4), as pure functions of the launch: host
 * networking (servers listen on 127.0.0.1:<port>), an init, GPUs by UUID as device requests with
 * the `utility` capability (NVML inside), the mounts, shared memory, IPC and ulimits, the CPUs lem
 * leaves to servers, and the labels that say whose container it is.
 */
import {createHash, randomBytes} from 'node:crypto';
import type Docker from 'dockerode';
import stableStringify from 'fast-json-stable-stringify';
import type {Mount, ServerSpec} from '@lem/plugin-kit';
import {Labels} from './engine.js';

/** The spec fields that shape a container (not only a process in it). */
export type ContainerShape = Pick<ServerSpec, 'shmSizeBytes' | 'ipcHost' | 'ulimits'>;

export interface ContainerPlan {
  image: string;
  name: string;
  cmd: string[];
  env: Record<string, string>;
  /** The main process's working directory. */
  workingDir?: string;
  mounts: Mount[];
  /** GPU UUIDs; none: no device request at all. */
  gpus: string[];
  /** `CpusetCpus`; absent or empty: not restricted. */
  cpus?: number[];
  shape: ContainerShape;
  labels: Record<string, string>;
  /**
   * lem holds a stream on the main process's stdin (`OpenStdin`, `StdinOnce`): when lem closes
   * it or dies, stdin ends, and the wrapper or the hold stops (wrapper.ts).
   */
  holdStdin: boolean;
  /** What `docker stop` sends (docker-init passes it on to the main process). Default SIGTERM. */
  stopSignal?: string;
  /** Host settings added last (tests: a memory limit); part of a persistent container's key. */
  extraHostConfig?: Docker.HostConfig;
}

/** A container's name: `lem-<backend>-<8 hex digits>`. */
export const containerName = (backendId: string): string => `lem-${backendId.replace(/[^a-zA-Z0-9_.-]/g, '-')}-${randomBytes(4).toString('hex')}`;

/** The capabilities the NVIDIA runtime must give: `compute`, and `utility` so NVML works inside. */
const GPU_CAPABILITIES = ['compute', 'utility'];

export function containerCreateOptions(plan: ContainerPlan): Docker.ContainerCreateOptions {
  return {
    name: plan.name,
    Image: plan.image,
    Cmd: plan.cmd,
    Env: envList(containerEnv(plan.env, plan.gpus)),
    Labels: plan.labels,
    ...(plan.workingDir ? {WorkingDir: plan.workingDir} : {}),
    ...(plan.stopSignal ? {StopSignal: plan.stopSignal} : {}),
    OpenStdin: plan.holdStdin,
    StdinOnce: plan.holdStdin,
    AttachStdin: plan.holdStdin,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    HostConfig: {...hostConfig(plan), ...plan.extraHostConfig},
  };
}

function hostConfig(plan: ContainerPlan): Docker.HostConfig {
  const {shape} = plan;
  return {
    NetworkMode: 'host',
    Init: true,
    Mounts: distinctMounts(plan.mounts).map((m) => ({Type: 'bind' as const, Source: m.hostPath, Target: m.containerPath, ReadOnly: m.readOnly ?? false})),
    ...(plan.gpus.length > 0 ? {DeviceRequests: [{Driver: 'nvidia', DeviceIDs: [...plan.gpus], Capabilities: [['gpu']]}]} : {}),
    ...(plan.cpus && plan.cpus.length > 0 ? {CpusetCpus: cpusetOf(plan.cpus)} : {}),
    ...(shape.shmSizeBytes ? {ShmSize: shape.shmSizeBytes} : {}),
    ...(shape.ipcHost ? {IpcMode: 'host'} : {}),
    ...(shape.ulimits && shape.ulimits.length > 0 ? {Ulimits: shape.ulimits.map((u) => ({Name: u.name, Soft: u.soft, Hard: u.hard}))} : {}),
  };
}

/** The environment with, when there are GPUs, `NVIDIA_DRIVER_CAPABILITIES` including `compute` and `utility`. */
export function containerEnv(env: Record<string, string>, gpus: string[]): Record<string, string> {
  if (gpus.length === 0) return {...env};
  const asked = (env.NVIDIA_DRIVER_CAPABILITIES ?? '').split(',').filter(Boolean);
  const capabilities = asked.includes('all') ? ['all'] : [...new Set([...GPU_CAPABILITIES, ...asked])];
  return {...env, NVIDIA_DRIVER_CAPABILITIES: capabilities.join(',')};
}

export const envList = (env: Record<string, string>): string[] => Object.entries(env).map(([k, v]) => `${k}=${v}`);

/** `CpusetCpus` for a CPU list: `0,1,5`. */
export const cpusetOf = (cpus: number[]): string => [...cpus].sort((a, b) => a - b).join(',');

/** Mounts without repeats (the same host path at the same place twice is one mount). */
export function distinctMounts(mounts: Mount[]): Mount[] {
  const seen = new Map<string, Mount>();
  for (const m of mounts) seen.set(`${m.hostPath}\0${m.containerPath}\0${m.readOnly ? 'ro' : 'rw'}`, m);
  return [...seen.values()];
}

export interface LabelInput {
  /** {@link ownerLabels}: host, lem pid and its start time. */
  owner: Record<string, string>;
  backend: {id: string; pluginVersion: string};
  strategy: 'ephemeral' | 'persistent';
  campaign?: string;
  /** Ephemeral containers only: a persistent one serves many experiments. */
  experiment?: string;
  /** Persistent containers: their {@link containerKey}. */
  key?: string;
  /** Persistent containers that outlive lem (`auto_teardown: false`). */
  keep?: boolean;
}

export function containerLabels(input: LabelInput): Record<string, string> {
  return {
    ...input.owner,
    [Labels.backend]: input.backend.id,
    [Labels.pluginVersion]: input.backend.pluginVersion,
    [Labels.strategy]: input.strategy,
    ...(input.campaign ? {[Labels.campaign]: input.campaign} : {}),
    ...(input.experiment ? {[Labels.experiment]: input.experiment} : {}),
    ...(input.key ? {[Labels.key]: input.key} : {}),
    ...(input.keep ? {[Labels.keep]: 'true'} : {}),
  };
}

export interface KeyInput {
  backendId: string;
  image: string;
  gpus: string[];
  mounts: Mount[];
  shape: ContainerShape;
  extraHostConfig?: Docker.HostConfig;
}

/**
 * A persistent container's key: what a launch must share with a container to be exec'd in it —
 * backend, image, GPU set, mounts and the create options a running container cannot change. The
 * order of GPUs and mounts does not matter; CPUs are not in it (a running container's cpuset is
 * updated per launch).
 */
export function containerKey(input: KeyInput): string {
  const identity = {
    backend: input.backendId,
    image: input.image,
    gpus: [...input.gpus].sort(),
    mounts: distinctMounts(input.mounts)
      .map((m) => `${m.hostPath}:${m.containerPath}:${m.readOnly ? 'ro' : 'rw'}`)
      .sort(),
    shm: input.shape.shmSizeBytes ?? null,
    ipcHost: input.shape.ipcHost ?? false,
    ulimits: [...(input.shape.ulimits ?? [])].sort((a, b) => a.name.localeCompare(b.name)),
    extra: input.extraHostConfig ?? {},
  };
  return createHash('sha256').update(stableStringify(identity)).digest('hex').slice(0, 16);
}

/**
 * A container's CPU-time cgroup from `/proc/<its main pid>/cgroup`: v1's `cpuacct` line (e.g.
 * `/docker/<id>`), else v2's unified `0::` line; null when neither is there.
 */
export function cgroupPathOf(procCgroup: string): string | null {
  const lines = procCgroup
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id = '', controllers = '', ...path] = line.split(':');
      return {id, controllers: controllers.split(','), path: path.join(':')};
    });
  const v1 = lines.find((l) => l.controllers.includes('cpuacct'));
  if (v1) return v1.path;
  return lines.find((l) => l.id === '0' && l.controllers.join('') === '')?.path ?? null;
}
