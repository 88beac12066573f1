/**
 * The sampler's worker thread. It owns every meter (reads are sequential, so meters keep their
 * state without locks) and runs a synchronous loop:
 *
 *   wait (Atomics.wait on a shared word) until the next tick's absolute due time or until the
 *   main thread signals a request → drain requests (receiveMessageOnPort) → take due ticks.
 *
 * Blocking on a futex instead of timers gives sub-millisecond wake-up precision, and a boundary
 * request wakes the thread at once instead of waiting for the next tick.
 */
import {isMainThread, receiveMessageOnPort, workerData} from 'node:worker_threads';
import {monoNs, msSince, type MeterRead, type TimelineSample} from '../measure/types.js';
import {createMeter, isAttributing} from './create.js';
import {DEFAULT_INTERVAL_MS, type FromWorker, type ReadError, type SamplerWorkerInit, type ToWorker} from './sampler-protocol.js';
import {catchUp, firstTick, jitterStats, tickDueNs} from './schedule.js';
import {TimelineCsvAppender} from './timeline-csv.js';
import type {Meter} from './types.js';

export function runSamplerWorker(init: SamplerWorkerInit): void {
  const {config, port, signal} = init;
  const t0Ns = BigInt(config.t0Ns);
  const intervalMs = config.intervalMs ?? DEFAULT_INTERVAL_MS;
  const post = (message: FromWorker) => port.postMessage(message);

  let meters: Meter[];
  let appender: TimelineCsvAppender | null;
  try {
    meters = config.meters.map((m) => createMeter(m));
    appender = config.timeline ? new TimelineCsvAppender(config.timeline.path, config.timeline.extended) : null;
  } catch (error) {
    const e = error as {code?: string; message?: string; try?: string[]};
    post({type: 'error', error: {message: e.message ?? String(error), ...(e.code ? {code: e.code} : {}), ...(e.try ? {try: e.try} : {})}});
    port.close();
    return;
  }

  const readErrors = new Map<string, ReadError>();
  /** Reads every meter; a meter that throws yields null reads for its channels and is counted. */
  const readAll = (forBoundary: boolean): MeterRead[] => {
    const reads: MeterRead[] = [];
    for (const meter of meters) {
      try {
        reads.push(...meter.read(t0Ns));
      } catch (error) {
        const name = meter.channels[0]?.meter ?? 'unknown';
        const message = error instanceof Error ? error.message : String(error);
        const k = `${name}\u0000${message}`;
        const entry = readErrors.get(k) ?? {meter: name, message, count: 0};
        entry.count++;
        readErrors.set(k, entry);
        if (forBoundary) {
          const atMs = msSince(t0Ns);
          for (const c of meter.channels) reads.push({meter: c.meter, channel: c.channel, energyJ: null, powerW: null, readStartMs: atMs, readEndMs: atMs});
        }
      }
    }
    return reads;
  };

  let k = firstTick(t0Ns, monoNs(), intervalMs);
  post({type: 'ready', channels: meters.flatMap((m) => m.channels), firstTick: k});

  let missedTicks = 0;
  let ticks = 0;
  const jitters: number[] = [];
  let pending: TimelineSample[] = [];
  const flushEveryNs = BigInt(Math.round(init.flushEveryMs * 1e6));
  let lastFlushNs = monoNs();
  const flush = () => {
    if (pending.length > 0) post({type: 'samples', samples: pending});
    pending = [];
    lastFlushNs = monoNs();
  };

  for (;;) {
    // Loaded before draining: a request posted after the drain changes the word, so the wait
    // below returns at once instead of sleeping past it.
    const seen = Atomics.load(signal, 0);
    let received: {message: unknown} | undefined;
    while ((received = receiveMessageOnPort(port)) !== undefined) {
      const message = received.message as ToWorker;
      if (message.type === 'stop') {
        flush();
        appender?.close();
        // Close before answering: the main thread terminates the worker on 'stopped', and a meter
        // such as NVML must shut its library down first.
        for (const meter of meters) meter.close?.();
        post({type: 'stopped', jitterMs: jitterStats(jitters), missedTicks, ticks, readErrors: [...readErrors.values()], timelineRows: appender?.rows ?? null});
        port.close();
        return;
      }
      if (message.type === 'setTarget') {
        for (const meter of meters) if (isAttributing(meter)) meter.setTarget(message.target);
      } else if (message.type === 'boundary') {
        const reads = readAll(true);
        const first = reads[0];
        const last = reads[reads.length - 1];
        const atMs = first && last ? (first.readStartMs + last.readEndMs) / 2 : msSince(t0Ns);
        post({type: 'boundary', id: message.id, boundary: {label: message.label, atMs, reads}});
      }
    }

    const nowNs = monoNs();
    const dueNs = tickDueNs(t0Ns, k, intervalMs);
    if (nowNs < dueNs) {
      Atomics.wait(signal, 0, seen, Number(dueNs - nowNs) / 1e6);
      continue;
    }
    const next = catchUp(t0Ns, k, nowNs, intervalMs);
    missedTicks += next.missed;
    k = next.k;
    const scheduledMs = k * intervalMs;
    const reads = readAll(false);
    if (reads[0]) jitters.push(reads[0].readStartMs - scheduledMs);
    const rows = reads.map((read) => ({scheduledMs, read}));
    // To the file at once: a kill at any instant leaves every tick read before it.
    if (appender) appender.append(rows);
    else for (const row of rows) pending.push(row);
    ticks++;
    k++;
    if (monoNs() - lastFlushNs >= flushEveryNs) flush();
  }
}

if (!isMainThread && (workerData as Partial<SamplerWorkerInit> | null)?.lemSampler === true) {
  runSamplerWorker(workerData as SamplerWorkerInit);
}
