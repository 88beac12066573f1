/**
 * Meters: what a channel is, what a meter does, and the serialisable configuration the sampler's
 * worker thread is created from. Reads and samples are the shared records of `measure/types.ts`.
 */
import type {MeterRead} from '../measure/types.js';

/**
 * One measured quantity of one meter (a RAPL zone, an estimate, later a GPU).
 *
 * - `counter`: every read carries a cumulative `energyJ` (wraps unfolded); phase energy is the
 *   difference of two boundary reads. `powerW` on a read is the mean power since the previous read,
 *   or the source's own power reading where it has one (nvml: `nvmlDeviceGetPowerUsage`).
 * - `power`: reads carry only `powerW`; energy comes from integrating the timeline.
 */
export interface ChannelInfo {
  /** Meter id: `rapl`, `cpu-estimate`, … */
  meter: string;
  /** Zone or device within the meter, e.g. `package-0`, `package-0/dram`, `server`. */
  channel: string;
  kind: 'counter' | 'power';
  /** True when the figures come from a model rather than a hardware counter. */
  estimated: boolean;
  /**
   * What the energy covers (DESIGN §6): `device` (one GPU, every process on it), `socket` (a CPU
   * package or its DRAM: everything on the socket, lem itself included), `process-group` (the
   * server's process group only), `container` (the server's container cgroup only).
   */
  scope: EnergyScope;
  /** Where the numbers come from, in words (a file, a model and its coefficients' source). */
  source: string;
  /**
   * How often the underlying source changes, ms: the quantisation of a boundary read, used in
   * each edge's uncertainty (DESIGN §5: read time + update period × power).
   */
  updatePeriodMs: number;
  /**
   * For an estimate from a linear power model: its coefficients and their spread, so that each
   * energy figure can carry the model's own error range beside the read-time uncertainty.
   */
  model?: LinearPowerModel;
  /**
   * The channel whose energy already contains this one (e.g. `package-0/core` is part of
   * `package-0`). Totals add only channels without `partOf`, so nothing is counted twice.
   */
  partOf?: string;
}

/**
 * P = cpus × idleWPerVcpu + (maxWPerVcpu − idleWPerVcpu) × u, with u the CPU-seconds per second
 * attributed. `range` is the spread of published per-vCPU coefficients across CPU families: the
 * estimate's own error when the family of this machine is not modelled.
 */
export interface LinearPowerModel {
  cpus: number;
  idleWPerVcpu: number;
  maxWPerVcpu: number;
  range: {idleWPerVcpu: [number, number]; maxWPerVcpu: [number, number]; source: string};
}

export type EnergyScope = 'device' | 'socket' | 'process-group' | 'container';

/**
 * A meter as the sampler drives it, inside one thread: reads are sequential, so a meter may keep
 * state between reads (last raw value for wraps, last CPU times for an estimate).
 */
export interface Meter {
  readonly channels: ChannelInfo[];
  /**
   * Reads every channel now. Each read is timestamped just before and just after its own source
   * was read, in ms since `t0Ns`. Throws only when the meter as a whole cannot be read.
   */
  read(t0Ns: bigint): MeterRead[];
  close?(): void;
}

export interface RaplMeterConfig {
  kind: 'rapl';
  /** powercap root, default `/sys/class/powercap`. */
  root?: string;
}

/** What a server's CPU time is read from: its process group (a host process), or its container's cgroup. */
export type MeterTarget = {kind: 'process-group'; pgid: number} | {kind: 'cgroup'; path: string};

export interface CpuEstimateMeterConfig {
  kind: 'cpu-estimate';
  /** procfs root, default `/proc`. */
  procRoot?: string;
  /** cgroup file system root, default `/sys/fs/cgroup`. */
  cgroupRoot?: string;
  /** The server, once it exists; absent before (the idle share only). */
  target?: MeterTarget;
  /** The kind of target the runner will give, which fixes the channel's scope; default `target`'s, else process-group. */
  targetKind?: MeterTarget['kind'];
  /** vCPUs allocated to the server: its pinned set, else every vCPU of the machine. */
  cpus: number;
  idleWPerVcpu?: number;
  maxWPerVcpu?: number;
  /** USER_HZ, the unit of `/proc/<pid>/stat` CPU times; 100 on every mainstream Linux. */
  clockTicksPerS?: number;
}

export interface NvmlMeterConfig {
  kind: 'nvml';
  /** The NVML library to load, default `libnvidia-ml.so.1` (tests point it at a fake). */
  libraryPath?: string;
  /** The GPUs to measure, by UUID (resolve indices first with `resolveGpus`). */
  uuids: string[];
  /** The server's process group, for `foreignProcesses`; ≤ 0 or absent before the server exists (every process is then foreign). */
  pgid?: number;
  /** procfs root where process groups are looked up, default `/proc`. */
  procRoot?: string;
}

export type MeterConfig = RaplMeterConfig | CpuEstimateMeterConfig | NvmlMeterConfig;

/** What the sampler's worker is created from; plain data (it crosses a thread boundary). */
export interface SamplerConfig {
  meters: MeterConfig[];
  /** Δ of the absolute schedule t0 + k·Δ, ms. Default 100. */
  intervalMs?: number;
  /** The run origin, `process.hrtime.bigint()` as a decimal string. */
  t0Ns: string;
  /**
   * Where the worker appends every tick's rows itself, as they are read (timeline.csv); the
   * samples then never cross to the main thread, and nothing of them is held in memory.
   * `extended`: with the GPU extra columns. Absent: samples are handed to the main thread.
   */
  timeline?: {path: string; extended: boolean};
}

/** Stable codes of meter and sampler errors. */
export const MeterErrorCodes = {
  /** A configured meter cannot be read on this machine (no zones, no permission). */
  unavailable: 'E_METER_UNAVAILABLE',
  /** The sampler's worker thread failed or was used after stop. */
  sampler: 'E_SAMPLER',
  /** A timeline.csv is malformed. */
  timelineCsv: 'E_TIMELINE_CSV',
  /** A requested GPU (index or UUID) is not on this machine. */
  gpuNotFound: 'E_GPU_NOT_FOUND',
  /** A measured GPU fell off the bus during the run (NVML_ERROR_GPU_IS_LOST): the run fails. */
  gpuLost: 'E_GPU_LOST',
} as const;
