/**
 * The sampler, main-thread side: starts the worker that owns the meters (sampler-worker.ts), asks
 * it for boundary reads, and collects its timeline.
 *
 * Why a worker: ticks and boundary reads must not wait behind the workload driver's event loop
 * (streaming parsers, rendering). The worker shares the monotonic clock, so its timestamps are in
 * the same ms-since-t0 as every request record.
 */
import {existsSync, readFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {createRequire} from 'node:module';
import {MessageChannel, receiveMessageOnPort, Worker} from 'node:worker_threads';
import {fileURLToPath, pathToFileURL} from 'node:url';
import {codedError, ExitCode, type CodedError} from '@lem/plugin-kit';
import type {Boundary, TimelineSample} from '../measure/types.js';
import type {JitterStats} from './schedule.js';
import {DEFAULT_INTERVAL_MS, type FromWorker, type ReadError, type SamplerWorkerInit, type ToWorker} from './sampler-protocol.js';
import {MeterErrorCodes, type ChannelInfo, type MeterTarget, type SamplerConfig} from './types.js';

export interface SamplerResult {
  /** Every periodic sample, in tick order (one row per channel per tick); empty when the worker wrote them to `config.timeline`. */
  samples: TimelineSample[];
  /** Rows the worker appended to `config.timeline`; null without one, or when the worker died. */
  timelineRows: number | null;
  /** Actual read start − scheduled tick time, ms; null when no tick was taken or the worker died (unknown, not zero). */
  jitterMs: JitterStats | null;
  /** Ticks skipped because a later tick was already due; null when the worker died. */
  missedTicks: number | null;
  /** Ticks taken; null when the worker died. */
  ticks: number | null;
  /** Reads that failed, grouped by meter and message. */
  readErrors: ReadError[];
  /** Set when the worker died instead of stopping; `samples` then holds what it had sent. */
  workerError?: string;
}

export interface Sampler {
  readonly channels: ChannelInfo[];
  /** Reads every channel now, in the worker, each read timestamped before and after. */
  boundary(label: string): Promise<Boundary>;
  /**
   * Points the attributing meters (cpu-estimate, NVML's foreign processes) at the server. Call it
   * as soon as the server exists, before it is ready: CPU time used before the call is not attributed.
   */
  setTarget(target: MeterTarget): void;
  /** Stops the worker and returns the timeline. Idempotent. Always call it (in a `finally`): the worker keeps the process alive until then. */
  stop(): Promise<SamplerResult>;
}

export interface SamplerOptions {
  /** Called with each batch of samples as the worker hands them over (e.g. to append to timeline.csv). */
  onSamples?: (samples: TimelineSample[]) => void;
  /** How often the worker hands samples over, ms. Default 1000. */
  flushEveryMs?: number;
  /** How long a boundary read may take before it is an error, ms. Default 5000. */
  boundaryTimeoutMs?: number;
}

function samplerError(message: string, cause?: unknown): CodedError {
  return codedError({
    code: MeterErrorCodes.sampler,
    message,
    try: ['Run with --log-level debug and report the log if it persists.'],
    exitCode: ExitCode.runsFailed,
    ...(cause === undefined ? {} : {cause}),
  });
}

/**
 * The worker entry next to this module: compiled `sampler-worker.js` in dist/; when running from
 * TypeScript sources (tests under vitest, tsx) only `sampler-worker.ts` exists, and the worker then
 * loads it through tsx, registered inside the worker (a worker does not inherit the parent's loader).
 */
function spawnWorker(init: SamplerWorkerInit): Worker {
  const js = new URL('./sampler-worker.js', import.meta.url);
  const options = {workerData: init, transferList: [init.port]};
  if (existsSync(fileURLToPath(js))) return new Worker(js, options);
  const ts = new URL('./sampler-worker.ts', import.meta.url);
  if (!existsSync(fileURLToPath(ts))) throw samplerError(`sampler worker not found next to ${fileURLToPath(import.meta.url)}`);
  // The ESM build of tsx's register API, found through its package.json "exports".
  const tsxPackage = createRequire(import.meta.url).resolve('tsx/package.json');
  const exportsMap = (JSON.parse(readFileSync(tsxPackage, 'utf8')) as {exports: Record<string, {import: {default: string}}>}).exports;
  const tsxApi = pathToFileURL(join(dirname(tsxPackage), exportsMap['./esm/api']!.import.default)).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(ts.href)}); });`;
  return new Worker(bootstrap, {...options, eval: true});
}

/** Starts the worker, builds its meters, and resolves once it is ticking. */
export async function startSampler(config: SamplerConfig, options: SamplerOptions = {}): Promise<Sampler> {
  const intervalMs = config.intervalMs ?? DEFAULT_INTERVAL_MS;
  if (!(intervalMs > 0)) throw new RangeError(`sampler intervalMs must be > 0, got ${intervalMs}`);
  if (!/^\d+$/.test(config.t0Ns)) throw new RangeError(`sampler t0Ns must be a decimal bigint, got ${JSON.stringify(config.t0Ns)}`);
  const boundaryTimeoutMs = options.boundaryTimeoutMs ?? 5000;

  const channel = new MessageChannel();
  const signal = new Int32Array(new SharedArrayBuffer(4));
  const worker = spawnWorker({lemSampler: true, config: {...config, intervalMs}, port: channel.port2, signal, flushEveryMs: options.flushEveryMs ?? 1000});
  const port = channel.port1;

  const samples: TimelineSample[] = [];
  const pending = new Map<number, {resolve: (b: Boundary) => void; reject: (e: Error) => void; timer: NodeJS.Timeout}>();
  let nextId = 0;
  let stopped: ((r: Extract<FromWorker, {type: 'stopped'}>) => void) | undefined;
  let ready: {resolve: (c: ChannelInfo[]) => void; reject: (e: Error) => void} | undefined;
  let dead: string | undefined;
  let finished: Promise<SamplerResult> | undefined;

  const send = (message: ToWorker) => {
    port.postMessage(message);
    // Wake the worker from its wait: the request is already queued on the port.
    Atomics.add(signal, 0, 1);
    Atomics.notify(signal, 0);
  };
  const die = (message: string) => {
    if (dead !== undefined) return;
    dead = message;
    ready?.reject(samplerError(message));
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(samplerError(message));
    }
    pending.clear();
  };

  const handle = (message: FromWorker) => {
    switch (message.type) {
      case 'ready':
        ready?.resolve(message.channels);
        break;
      case 'error': {
        const error = codedError({
          code: message.error.code ?? MeterErrorCodes.sampler,
          message: message.error.message,
          try: message.error.try ?? ['Check the meter configuration.'],
          exitCode: ExitCode.runsFailed,
        });
        ready?.reject(error);
        break;
      }
      case 'boundary': {
        const p = pending.get(message.id);
        if (p) {
          clearTimeout(p.timer);
          pending.delete(message.id);
          p.resolve(message.boundary);
        }
        break;
      }
      case 'samples':
        for (const s of message.samples) samples.push(s);
        options.onSamples?.(message.samples);
        break;
      case 'stopped':
        stopped?.(message);
        break;
    }
  };
  port.on('message', handle);
  const exited = new Promise<number>((resolve) =>
    worker.once('exit', (code) => {
      // Whatever the worker posted before it ended is still queued here: deliver it first.
      let left: {message: unknown} | undefined;
      while ((left = receiveMessageOnPort(port)) !== undefined) handle(left.message as FromWorker);
      resolve(code);
    }),
  );
  worker.on('error', (error) => die(`sampler worker failed: ${error.message}`));
  void exited.then((code) => die(`sampler worker exited (code ${code})`));

  let channels: ChannelInfo[];
  try {
    channels = await new Promise<ChannelInfo[]>((resolve, reject) => (ready = {resolve, reject}));
  } catch (error) {
    port.close();
    await worker.terminate();
    throw error;
  } finally {
    ready = undefined;
  }

  return {
    channels,
    boundary(label: string): Promise<Boundary> {
      if (dead !== undefined || finished) return Promise.reject(samplerError(finished ? 'sampler already stopped' : (dead as string)));
      const id = nextId++;
      return new Promise<Boundary>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(samplerError(`boundary "${label}" not answered within ${boundaryTimeoutMs} ms`));
        }, boundaryTimeoutMs);
        pending.set(id, {resolve, reject, timer});
        send({type: 'boundary', id, label});
      });
    },
    setTarget(target: MeterTarget): void {
      if (dead === undefined && !finished) send({type: 'setTarget', target});
    },
    stop(): Promise<SamplerResult> {
      finished ??= (async () => {
        let result: SamplerResult;
        if (dead === undefined) {
          const done = new Promise<Extract<FromWorker, {type: 'stopped'}>>((resolve) => (stopped = resolve));
          send({type: 'stop'});
          const message = await Promise.race([done, exited.then(() => undefined)]);
          result = message
            ? {samples, timelineRows: message.timelineRows, jitterMs: message.jitterMs, missedTicks: message.missedTicks, ticks: message.ticks, readErrors: message.readErrors}
            : {samples, timelineRows: null, jitterMs: null, missedTicks: null, ticks: null, readErrors: [], workerError: dead ?? 'sampler worker exited'};
        } else {
          result = {samples, timelineRows: null, jitterMs: null, missedTicks: null, ticks: null, readErrors: [], workerError: dead};
        }
        port.close();
        await worker.terminate();
        await exited;
        return result;
      })();
      return finished;
    },
  };
}
