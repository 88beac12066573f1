/** Messages between the sampler (main thread) and its worker; plain data only. */
import type {MessagePort} from 'node:worker_threads';
import type {Boundary, TimelineSample} from '../measure/types.js';
import type {JitterStats} from './schedule.js';
import type {ChannelInfo, MeterTarget, SamplerConfig} from './types.js';

export const DEFAULT_INTERVAL_MS = 100;

/** What the worker is started with (workerData). */
export interface SamplerWorkerInit {
  lemSampler: true;
  config: SamplerConfig;
  /** Both directions of messages; the worker reads it synchronously. */
  port: MessagePort;
  /** Word 0 is bumped and notified by the main thread after every request it posts. */
  signal: Int32Array;
  /** How often collected samples are handed to the main thread, ms. */
  flushEveryMs: number;
}

export type ToWorker = {type: 'boundary'; id: number; label: string} | {type: 'setTarget'; target: MeterTarget} | {type: 'stop'};

export interface ReadError {
  meter: string;
  message: string;
  count: number;
}

export type FromWorker =
  | {type: 'ready'; channels: ChannelInfo[]; firstTick: number}
  | {type: 'error'; error: {code?: string; message: string; try?: string[]}}
  | {type: 'boundary'; id: number; boundary: Boundary}
  | {type: 'samples'; samples: TimelineSample[]}
  | {type: 'stopped'; jitterMs: JitterStats | null; missedTicks: number; ticks: number; readErrors: ReadError[]; timelineRows: number | null};
