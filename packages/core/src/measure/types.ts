/**
 * Data shared by the runner, the workload driver, the meters and the experiment: plain objects
 * that go to disk as they are (requests.jsonl, timeline.csv, result.json).
 *
 * Time: every timestamp comes from one monotonic clock, `process.hrtime.bigint()` (the same in
 * every worker thread), and is stored as milliseconds (float) since the run's origin `t0Ns`.
 * One wall-clock anchor per run aligns it with outside tools.
 */

/** Nanoseconds on the shared monotonic clock. */
export const monoNs = (): bigint => process.hrtime.bigint();

/** Milliseconds since `t0Ns`, as a float with µs resolution. */
export const msSince = (t0Ns: bigint, ns: bigint = monoNs()): number => Number(ns - t0Ns) / 1e6;

/** The run's origin on the monotonic clock and the wall-clock time read right beside it. */
export interface ClockAnchor {
  /** `process.hrtime.bigint()` at the origin, as a decimal string (bigint does not fit JSON). */
  t0Ns: string;
  /** ISO 8601 wall-clock time read immediately after `t0Ns`. */
  wallIso: string;
  /** Unix epoch milliseconds of `wallIso`. */
  wallMs: number;
}

export function makeAnchor(): {t0Ns: bigint; anchor: ClockAnchor} {
  const t0Ns = monoNs();
  const wallMs = Date.now();
  return {t0Ns, anchor: {t0Ns: t0Ns.toString(), wallIso: new Date(wallMs).toISOString(), wallMs}};
}

export type PhaseName = 'launch' | 'warmup' | 'settle' | 'idle' | 'rewarm' | 'measure' | 'teardown';

/** Why a request did not succeed. */
export type RequestErrorKind = 'http' | 'timeout' | 'connection' | 'protocol' | 'aborted';

/**
 * One request as the client saw it. Times in ms since the run origin. A record is written to
 * requests.jsonl whatever its outcome.
 */
export interface RequestRecord {
  /** Sequence number within the run, from 0, in send order. */
  id: number;
  phase: PhaseName;
  /** Index of the prompt in its phase's list: the measured prompts for `measure`, the warm-up prompts (disjoint from them) for `warmup` and `rewarm`. */
  promptIndex: number;
  /** When the request was due (open loop: the Poisson arrival); equals `sendMs` in closed loop. */
  scheduledMs: number;
  /** When the request was written to the socket. */
  sendMs: number;
  /** First SSE chunk of any kind (role-only chunks included). */
  firstChunkMs: number | null;
  /** First chunk carrying generated content: TTFT = firstContentMs − sendMs. */
  firstContentMs: number | null;
  /** Last chunk carrying content. */
  lastContentMs: number | null;
  /** Response complete (`[DONE]` or end of stream): E2E = endMs − sendMs. */
  endMs: number;
  /** Gaps between consecutive content chunks, ms (n content chunks → n − 1 gaps). */
  chunkGapsMs: number[];
  /** Chunks carrying content (a chunk may carry several tokens). */
  contentChunks: number;
  promptTokens: number | null;
  outputTokens: number | null;
  /** Where token counts came from: the server's `usage`, the backend's tokenize path, or nowhere. */
  tokenSource: 'usage' | 'tokenize' | null;
  finishReason: string | null;
  ok: boolean;
  httpStatus: number | null;
  error: {kind: RequestErrorKind; message: string} | null;
}

/** One immediate read of a meter, timestamped before and after (DESIGN §5 boundary reads). */
export interface MeterRead {
  meter: string;
  /** Device or zone, e.g. `package-0`, `package-0/dram`, `cpu-estimate`, a GPU UUID. */
  channel: string;
  /** Cumulative energy in joules since an arbitrary origin (wraps already unfolded), or null for power-only channels. */
  energyJ: number | null;
  /** Instantaneous or averaged power in watts, when the source gives it. */
  powerW: number | null;
  readStartMs: number;
  readEndMs: number;
  /**
   * Why some fields of this read are null: the source answered a call with an error (e.g.
   * `nvmlDeviceGetPowerUsage: Timeout (NVML_ERROR_TIMEOUT)`), several joined with `; `. Absent
   * when every call succeeded.
   */
  error?: string;
  // GPU extras (the nvml meter). Absent where the meter does not measure them (another meter, or
  // the device does not support it); null when the device was asked and answered with an error.
  /** GPU core temperature, °C. */
  temperatureC?: number | null;
  /** SM clock, MHz. */
  smClockMhz?: number | null;
  /** Device memory in use, bytes (every process on the device). */
  memoryUsedBytes?: number | null;
  /**
   * NVML clock-event (throttle) reasons, the `nvmlClocksEventReason*` bitmask: 0x4 software power
   * cap, 0x8 hardware slowdown, 0x20 software thermal, 0x40 hardware thermal, 0x80 power brake, …
   */
  clockEventReasons?: number | null;
  /** Compute processes running on the device. */
  processes?: number | null;
  /** Of those, processes outside the server's process group (their energy is in the device's). */
  foreignProcesses?: number | null;
}

/** A boundary: every channel read at one instant (start or end of a phase). */
export interface Boundary {
  label: string;
  /** Midpoint of the whole set of reads, ms. */
  atMs: number;
  reads: MeterRead[];
}

/** One periodic sample row of the timeline (one row per channel per tick). */
export interface TimelineSample {
  /** Scheduled tick time t0 + k·Δ, ms. */
  scheduledMs: number;
  read: MeterRead;
}
