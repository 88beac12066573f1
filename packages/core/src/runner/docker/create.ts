/**
 * What a server's container is made of (DESIGN §4), as a pure function of the launch: host
 * networking (servers listen on 127.0.0.1), an init, GPUs by UUID as device requests with the
 * `utility` capability (NVML inside), the backend's mounts, shared memory, IPC and ulimits, the
 * CPUs lem leaves to servers, and the labels that say whose container it is.
 */
import type Docker from 'dockerode';
import type {Mount, ServerSpec} from '@lem/plugin-kit';

export interface ContainerInput {
  image: string;
  name: string;
  cmd: string[];
  env: Record<string, string>;
  mounts: Mount[];
  gpus: string[];
  cpus?: number[];
  spec: Pick<ServerSpec, 'shmSizeBytes' | 'ipcHost' | 'ulimits'>;
  labels: Record<string, string>;
  /** Extra host settings (tests: a memory limit). */
  hostConfig?: Docker.HostConfig;
}

export function containerOptions(input: ContainerInput): Docker.ContainerCreateOptions {
  const env = {...input.env, ...(input.gpus.length > 0 ? {NVIDIA_DRIVER_CAPABILITIES: 'compute,utility'} : {})};
  return {
    name: input.name,
    Image: input.image,
    Cmd: input.cmd,
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Labels: input.labels,
    // lem's stream on the container's stdin: when it closes (lem is gone), the wrapper stops the server.
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    HostConfig: {
      NetworkMode: 'host',
      Init: true,
      Binds: input.mounts.map((m) => `${m.hostPath}:${m.containerPath}:${m.readOnly ? 'ro' : 'rw'}`),
      ...(input.gpus.length > 0 ? {DeviceRequests: [{Driver: 'nvidia', DeviceIDs: input.gpus, Capabilities: [['gpu']]}]} : {}),
      ...(input.cpus && input.cpus.length > 0 ? {CpusetCpus: input.cpus.join(',')} : {}),
      ...(input.spec.shmSizeBytes ? {ShmSize: input.spec.shmSizeBytes} : {}),
      ...(input.spec.ipcHost ? {IpcMode: 'host'} : {}),
      ...(input.spec.ulimits ? {Ulimits: input.spec.ulimits.map((u) => ({Name: u.name, Soft: u.soft, Hard: u.hard}))} : {}),
      ...input.hostConfig,
    },
  };
}

/** A container's CPU-time cgroup, from `/proc/<pid>/cgroup`: v1's cpuacct line, else v2's unified one. */
export function cgroupPathOf(procCgroup: string): string | null {
  const lines = procCgroup.split('\n').map((l) => l.split(':'));
  const v1 = lines.find((parts) => parts.length >= 3 && parts[1]!.split(',').includes('cpuacct'));
  if (v1) return parts2path(v1);
  const v2 = lines.find((parts) => parts.length >= 3 && parts[0] === '0' && parts[1] === '');
  return v2 ? parts2path(v2) : null;
}

const parts2path = (parts: string[]) => parts.slice(2).join(':');
