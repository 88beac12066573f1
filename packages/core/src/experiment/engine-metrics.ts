/**
 * The engine's own figures during measure: its metrics endpoint (`spec.metricsPath`) scraped
 * every second into engine-metrics.csv (raw, beside timeline.csv, which holds meter reads), and
 * summarised in the result as the batch the engine ran, its queue and its KV-cache use. Also the
 * values the engine reports in its output at start-up (`spec.reportedSettings`), recorded as
 * `backend.effective`.
 */
import {AppendOnlyFile} from '../fs-atomic.js';
import {msSince} from '../measure/types.js';
import type {MetricsSpec, ServerSpec} from '@lem/plugin-kit';

/** How often the endpoint is read, ms (DESIGN: every second). */
export const ENGINE_SCRAPE_INTERVAL_MS = 1_000;
/** A read slower than this is counted as failed; the next one starts on schedule. */
const SCRAPE_TIMEOUT_MS = 900;

export const ENGINE_METRICS_CSV_HEADER = 't_ms,running,waiting,kv_cache_usage,error';

export type EngineFigure = 'running' | 'waiting' | 'kvCacheUsage';

export interface EngineSample {
  /** ms since the run's start (the clock of timeline.csv's `scheduled_ms`). */
  tMs: number;
  running: number | null;
  waiting: number | null;
  kvCacheUsage: number | null;
  error?: string;
}

export interface FigureSummary {
  mean: number;
  max: number;
}

/** The result's `engineMetrics`: what the engine said about itself during measure. */
export interface EngineMetricsSummary {
  path: string;
  format: 'prometheus' | 'json';
  samples: number;
  failedSamples: number;
  /** Requests the engine was decoding (its running batch); null when it does not report it. */
  running: FigureSummary | null;
  /** Requests waiting for a slot. */
  waiting: FigureSummary | null;
  /** KV-cache use, a fraction 0–1. */
  kvCacheUsage: FigureSummary | null;
  /** The first read's error, when reads failed. */
  firstError: string | null;
}

/**
 * Sums of a Prometheus text exposition's samples by metric name (over every label set). Written by
 * hand: the figures need only names and values, and the format's sample line is
 * `name{labels} value [timestamp]`; label values are quoted strings that may hold `}` or spaces.
 */
export function parsePrometheus(text: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_:][\w:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const value = Number(m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : m[3]);
    if (!Number.isFinite(value)) continue;
    sums.set(m[1]!, (sums.get(m[1]!) ?? 0) + value);
  }
  return sums;
}

/** A dotted path into a JSON document; an array answer is read at its last (newest) element. */
function pickJson(doc: unknown, path: string): number | null {
  let at: unknown = Array.isArray(doc) ? doc.at(-1) : doc;
  for (const key of path.split('.')) {
    if (typeof at !== 'object' || at === null) return null;
    at = (at as Record<string, unknown>)[key];
  }
  return typeof at === 'number' && Number.isFinite(at) ? at : null;
}

/** One figure from a read: a series (or path), or `A/B`, the ratio of two. */
function figureOf(source: string, lookup: (name: string) => number | null): number | null {
  const [top, bottom] = source.split('/').map((s) => s.trim());
  const a = lookup(top!);
  if (bottom === undefined || a === null) return a;
  const b = lookup(bottom);
  return b === null || b === 0 ? null : a / b;
}

/** The three figures from one answer of the metrics endpoint. */
export function readEngineFigures(body: string, spec: MetricsSpec): Omit<EngineSample, 'tMs'> {
  let lookup: (name: string) => number | null;
  if ((spec.format ?? 'prometheus') === 'json') {
    const doc = JSON.parse(body) as unknown;
    lookup = (path) => pickJson(doc, path);
  } else {
    const sums = parsePrometheus(body);
    lookup = (name) => sums.get(name) ?? null;
  }
  const kv = spec.kvCacheUsage === undefined ? null : figureOf(spec.kvCacheUsage, lookup);
  return {
    running: spec.running === undefined ? null : figureOf(spec.running, lookup),
    waiting: spec.waiting === undefined ? null : figureOf(spec.waiting, lookup),
    kvCacheUsage: kv === null ? null : kv * (spec.kvCacheUsageScale ?? 1),
  };
}

function csvRow(s: EngineSample): string {
  const n = (v: number | null) => (v === null ? '' : String(v));
  const error = s.error === undefined ? '' : `"${s.error.replaceAll('"', '""')}"`;
  return `${s.tMs},${n(s.running)},${n(s.waiting)},${n(s.kvCacheUsage)},${error}\n`;
}

export function summariseEngineSamples(samples: EngineSample[], path: string, spec: MetricsSpec): EngineMetricsSummary {
  const summary = (figure: EngineFigure): FigureSummary | null => {
    const values = samples.map((s) => s[figure]).filter((v): v is number => v !== null);
    if (values.length === 0) return null;
    return {mean: values.reduce((a, b) => a + b, 0) / values.length, max: Math.max(...values)};
  };
  const failed = samples.filter((s) => s.error !== undefined);
  return {
    path,
    format: spec.format ?? 'prometheus',
    samples: samples.length - failed.length,
    failedSamples: failed.length,
    running: summary('running'),
    waiting: summary('waiting'),
    kvCacheUsage: summary('kvCacheUsage'),
    firstError: failed[0]?.error ?? null,
  };
}

export interface EngineScraper {
  /** Stops reading (waits for a read in flight) and summarises what was read. */
  stop(): Promise<EngineMetricsSummary>;
}

/**
 * Reads `baseUrl + spec.metricsPath` now and then every second until stopped, each read a row of
 * `csvPath`. A failed read (HTTP error, timeout, unreadable body) is a row with its error, never
 * a failure of the run: the engine's figures are context, not measurements.
 */
export function startEngineScraper(options: {baseUrl: string; spec: Pick<ServerSpec, 'metricsPath' | 'metrics'>; csvPath: string; t0Ns: bigint}): EngineScraper {
  const path = options.spec.metricsPath!;
  const metrics = options.spec.metrics ?? {};
  const url = new URL(path, options.baseUrl).toString();
  const file = new AppendOnlyFile(options.csvPath);
  file.append(`${ENGINE_METRICS_CSV_HEADER}\n`);
  const samples: EngineSample[] = [];
  let inFlight: Promise<void> = Promise.resolve();
  const read = async () => {
    const tMs = msSince(options.t0Ns);
    let sample: EngineSample;
    try {
      const response = await fetch(url, {signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS)});
      const body = await response.text();
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      sample = {tMs, ...readEngineFigures(body, metrics)};
    } catch (error) {
      sample = {tMs, running: null, waiting: null, kvCacheUsage: null, error: `GET ${path}: ${error instanceof Error ? error.message : String(error)}`};
    }
    samples.push(sample);
    file.append(csvRow(sample));
  };
  const tick = () => {
    inFlight = inFlight.then(read);
  };
  tick();
  const timer = setInterval(tick, ENGINE_SCRAPE_INTERVAL_MS);
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
      file.close();
      return summariseEngineSamples(samples, path, metrics);
    },
  };
}

