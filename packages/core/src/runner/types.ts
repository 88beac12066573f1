/**
 * The runner seam (DESIGN §4): the experiment pipeline launches servers through this interface
 * only, and never knows whether a server is a host process or a container. The local runner is
 * its first implementation; the docker runner implements it next; a cluster executor runs lem
 * itself on the node and uses it there.
 */
import type {ServerSpec} from '@lem/plugin-kit';
import type {MeterTarget} from '../meters/types.js';

export type {MeterTarget} from '../meters/types.js';

export interface ServerExit {
  code: number | null;
  signal: string | null;
  /**
   * Killed for want of memory: true or false where the runner can tell (a container's state
   * says), null where it cannot (a host process's SIGKILL may or may not be the OOM killer's).
   */
  oomKilled: boolean | null;
}

export interface ServerStopResult extends ServerExit {
  /** True when the grace ran out and the server was killed. */
  forced: boolean;
  /** From the stop request until the server was gone, ms. */
  durationMs: number;
}

export interface LaunchRequest {
  /** From the backend's `server(cfg, ctx)`; its port is the one the server must listen on. */
  spec: ServerSpec;
  /** Sent as `model` in the readiness probe. */
  model: string;
  /** `<project root>/.lem-state`: where a runner records what it started, so a later lem can reap it. */
  stateDir: string;
  /** `spec.files` are written here; private to this launch. */
  workdir: string;
  /** Pin the server to these CPUs. Absent or empty: no pinning. */
  cpus?: number[];
  /** Abort = stop the launch and the server; the launch rejects as `interrupted`. */
  signal?: AbortSignal;
  /** Every output line of the server. */
  onLine?(line: string): void;
  /** Non-fatal problems of the runner itself (a missing tool, no pinning). */
  onWarning?(message: string): void;
  /**
   * Called as soon as the server exists, before it is ready, with what meters attribute to: the
   * energy of loading the model is the server's, not idle.
   */
  onTarget?(target: MeterTarget): void;
  /** The backend whose server this is (container runners pick its image and label by it). */
  backend?: LaunchBackend;
  /** UUIDs of the GPUs this server gets (container runners pass them as device requests). */
  gpus?: string[];
  /** Names the container runner puts on its labels. */
  labels?: {campaign?: string; experiment: string};
  /** Server reuse as the plan decided it (`reuse_server`); carried out by `withServerReuse` (reuse.ts). */
  reuse?: ReuseRequest;
}

/** What the plan decided for one launch. */
export interface ReuseRequest {
  /** Identity of the launch (backend, its settings, model, GPUs, runner): only an equal key may take a kept server. */
  key: string;
  /** This run takes the server its predecessor kept, when there is one. */
  take: boolean;
  /** This run leaves its server running for the next one. */
  keep: boolean;
}

/** A launch the plan will make, as far as a container needs to know it ahead (for `startup: eager`). */
export interface PlannedLaunch {
  backend: LaunchBackend;
  /** GPU UUIDs. */
  gpus: string[];
  /** What of the backend's spec shapes its container: its mounts (the model folder), shared memory, IPC, ulimits. */
  spec: Pick<ServerSpec, 'mounts' | 'shmSizeBytes' | 'ipcHost' | 'ulimits'>;
}

export interface LaunchBackend {
  id: string;
  /** The image the backend's server runs in (container runners). */
  image?: string;
  /** `<plugin>@<version>`'s version, for the `lem.plugin.version` label. */
  pluginVersion: string;
}

/** Where a containerised server ran, for the result. */
export interface ContainerInfo {
  id: string;
  name: string;
  /** The image's id (`sha256:…`), which a tag does not pin. */
  imageId: string;
  imageRef: string;
  strategy: 'ephemeral' | 'persistent';
  /** True when a persistent container was started for this run (false: it already ran, or was adopted). */
  started: boolean;
  /** True when this run adopted a container a previous lem kept (`docker.auto_teardown: false`). */
  adopted: boolean;
  /** CPUs the container may use (`CpusetCpus`), or null when not restricted. */
  cpusetCpus: number[] | null;
}

export interface LaunchedServer {
  /** `http://127.0.0.1:<port>` or wherever the runner makes the server reachable. */
  baseUrl: string;
  /** What meters attribute to. */
  target: MeterTarget;
  /** What was actually executed (after any wrapper), for provenance. */
  argv: string[];
  /** Settles when the server ends, for any reason. */
  exited: Promise<ServerExit>;
  /** The last 100 lines of the server's output, in arrival order. */
  outputTail(): string[];
  /** Stops the server: its stop signal, at most `graceS` (default: the backend's), then a kill. Idempotent. */
  stop(graceS?: number): Promise<ServerStopResult>;
  /** True when this is the server a previous run kept running for this one (`reuse_server`). */
  reused?: boolean;
  /** The container the server ran in; absent for a host process. */
  container?: ContainerInfo;
  /**
   * Seconds the pipeline waits after readiness and before warm-up (`docker.warmup_delay_s` after
   * a container start), excluded from every figure. Absent or 0: none.
   */
  warmupDelayS?: number;
}

export interface Runner {
  /** `local`, `docker`, … as in the `runner` setting. */
  readonly id: string;
  /** What this runner's servers are measured as: a process group or a cgroup (fixes the CPU estimate's scope). */
  readonly targetKind: MeterTarget['kind'];
  /**
   * Set when this runner's servers cannot be measured from here (`remote-docker-host`: an engine
   * on another machine): every run's energy is then null with this reason.
   */
  readonly energyNullReason?: string;
  /** Starts the server and resolves once it is ready (health and probe); rejects with a run error, leaving nothing behind. */
  launch(request: LaunchRequest): Promise<LaunchedServer>;
  /**
   * Starts ahead what the coming launches need (persistent containers under `startup: eager`).
   * Absent: nothing to prepare.
   */
  prepare?(launches: PlannedLaunch[]): Promise<void>;
  /** Ends what outlives single launches (persistent containers, unless kept). Idempotent. */
  close?(): Promise<void>;
}
