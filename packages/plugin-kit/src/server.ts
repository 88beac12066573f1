/**
 * The part of the contract that describes one server launch: what lem tells a backend
 * (`ServerContext`) and what the backend answers (`ServerSpec`). Pure data.
 */

/** What lem tells a backend about the launch it is preparing. */
export interface ServerContext {
  /**
   * Model to serve: a local path (GGUF file or folder), resolved to an absolute path, or a hub id as
   * configured. Requests name the model by this same string, so a server that checks the name must serve it under it.
   */
  model: string;
  /** TCP port the server must listen on (chosen by lem; the returned `port` must equal it or say where it listens instead). */
  port: number;
  /** UUIDs of the GPUs given to this experiment (empty on CPU). */
  gpus: string[];
  /** A scratch folder, private to this launch, for generated files. */
  workdir: string;
  /** Number of CPU threads the server may use (after lem reserves its own). */
  threads: number;
  /** `local` (a host process) or `docker` (a container); argv is run there. */
  runner: 'local' | 'docker';
}

/** How lem knows the server is ready to take the workload. */
export interface Readiness {
  /** Path answering HTTP 200 once the server is up, e.g. `/health`. */
  healthPath: string;
  /**
   * A request that proves the model is loaded, since some servers answer health first.
   * `'completion'` (the default) sends a 1-token completion; `{path}` a GET that must answer 200.
   */
  probe?: 'completion' | {path: string};
  /** Seconds to wait for health and probe before the launch fails (`runtime`). */
  timeoutS: number;
}

/** How lem stops the server. Defaults: SIGTERM, 10 s grace, then SIGKILL. */
export interface StopSpec {
  signal: NodeJS.Signals;
  graceS: number;
}

/** A file the backend needs written before launch (e.g. an engine options YAML). */
export interface GeneratedFile {
  /** Path relative to `ServerContext.workdir`. */
  path: string;
  contents: string;
  /** Octal file mode, default 0o644. */
  mode?: number;
}

/** A host folder or file made visible to the server (used by container runners). */
export interface Mount {
  hostPath: string;
  containerPath: string;
  readOnly?: boolean;
}

/** A request that reports the engine's version, recorded as provenance. */
export interface VersionProbe {
  /** `http`: GET `path` on the running server; `exec`: run `argv` next to the server. */
  kind: 'http' | 'exec';
  path?: string;
  argv?: string[];
  /** A dotted path into a JSON answer, or a regular expression with one group over text. */
  pick?: string;
}

/**
 * Where the engine's own figures are in its metrics. Each entry is a series name (Prometheus: the
 * sum of that name's samples over all label sets; JSON: a dotted path into the answer, or into
 * its last element when the answer is an array), or `A/B`, the ratio of two such values.
 */
export interface MetricsSpec {
  /** `prometheus` text exposition (the default) or a JSON document. */
  format?: 'prometheus' | 'json';
  /** Requests being decoded now: the engine's running batch. */
  running?: string;
  /** Requests waiting for a slot. */
  waiting?: string;
  /** KV-cache use as a fraction 0–1 (after `kvCacheUsageScale`). */
  kvCacheUsage?: string;
  /** Factor turning `kvCacheUsage` into a fraction, e.g. 0.01 for a percentage. Default 1. */
  kvCacheUsageScale?: number;
}

/** A value the engine reports in its output at start-up. */
export interface ReportedSetting {
  /** Name recorded in the result, e.g. `max_num_seqs`. */
  name: string;
  /** Regular expression (JavaScript syntax) over one output line; its first group is the value. The last matching line wins. */
  pattern: string;
}

/** Everything lem needs to start one OpenAI-compatible server. Pure data. */
export interface ServerSpec {
  /** Full command line; `argv[0]` is the executable (inside the container when containerised). */
  argv: string[];
  /** Extra environment variables for the server process. */
  env: Record<string, string>;
  /** The port the server listens on. */
  port: number;
  files?: GeneratedFile[];
  mounts?: Mount[];
  /** `/dev/shm` size for containers, bytes. */
  shmSizeBytes?: number;
  /** Share the host's IPC namespace (some multi-GPU engines need it). */
  ipcHost?: boolean;
  ulimits?: Array<{name: string; soft: number; hard: number}>;
  readiness: Readiness;
  stop?: StopSpec;
  /** A llama.cpp-style `POST {content}` → `{tokens}` endpoint, used to count tokens when `usage` is absent. */
  tokenizePath?: string;
  /** The engine's metrics endpoint, scraped every second during measure when present. */
  metricsPath?: string;
  /** How to read `metricsPath` and which of its series are the engine's batch, queue and KV-cache figures. */
  metrics?: MetricsSpec;
  /**
   * Values the engine computes at start-up from the hardware (e.g. vLLM's `max_num_seqs` when not
   * given), read from its output and recorded as `backend.effective` in the result.
   */
  reportedSettings?: ReportedSetting[];
  versionProbe?: VersionProbe;
  /**
   * Substrings of the server's output that classify a failure:
   * `resource` (e.g. the engine's out-of-memory text) or `config`.
   */
  errorPatterns?: {resource?: string[]; config?: string[]};
  /** Fields merged into every request body, e.g. `{ignore_eos: true}` to fix the output length. */
  requestExtras?: Record<string, unknown>;
}
