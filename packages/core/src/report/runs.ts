/**
 * One run's folder as the report shows it: its figures and failure from result.json, its power
 * timeline per channel (timeline.csv, read as a stream and downsampled for display) and the
 * latency distributions of its measured requests (requests.jsonl).
 */
import {basename} from 'node:path';
import {isCodedError} from '../errors.js';
import type {TimelineSample} from '../measure/types.js';
import type {ExperimentResult} from '../results/result.js';
import {readRunFiles, type RunFiles} from '../results/run-files.js';
import {requestMetrics} from '../workload/stats.js';
import {cdfPoints, MinMaxBuckets} from './downsample.js';
import type {ChannelTrace, PhaseSpan, RunView} from './model.js';

/**
 * Buckets per run timeline: a facet row is 560 px wide, so a bucket is ~11 px and its min and
 * max are drawn at most 11 px from their pixel column: every spike is there, a little wider. A
 * report of 500 runs draws 100,000 points per channel, not millions. Points per CDF line likewise.
 */
export const TRACE_BUCKETS = 50;
export const CDF_POINTS = 40;

/** The configurations table's key of a run: its campaign's configuration, or the run on its own. */
export const configurationKey = (source: string | null, configuration: string): string => (source === null ? `run:${configuration}` : `${source}/${configuration}`);

/** Reads a run folder; a folder lem cannot read becomes an `unreadable` run with the reason, not a failed report. */
export function loadRun(runDir: string, source: string | null): RunView {
  let files: RunFiles;
  try {
    files = readRunFiles(runDir);
  } catch (error) {
    if (!isCodedError(error)) throw error;
    return unreadableRun(runDir, source, `${error.code}: ${error.message}`);
  }
  return runView(runDir, source, files);
}

function unreadableRun(runDir: string, source: string | null, reason: string): RunView {
  const id = basename(runDir);
  const configuration = source === null ? id : (/^(.*)-c\d+-t\d+$/.exec(id)?.[1] ?? id);
  return {
    id, path: runDir, source, configuration, configurationKey: configurationKey(source, configuration), cycle: null, cycles: null, attempt: null,
    status: 'unreadable', failure: reason, failureCode: reason.split(':')[0] ?? null, metrics: null, energyReason: null, startedAt: null, endedAt: null, environment: null, gpus: [],
    channels: [], warnings: [], definitions: {}, phases: [], traces: [], latency: {ttftMs: null, itlMs: null},
  };
}

function runView(runDir: string, source: string | null, files: RunFiles): RunView {
  const {result} = files;
  const id = basename(runDir);
  // A run given on its own is its own configuration, named by its folder (experiment names repeat).
  const configuration = source === null ? id : (result.campaign?.configuration ?? result.experiment.name);
  const phases = phaseSpans(result);
  return {
    id, path: runDir, source, configuration, configurationKey: configurationKey(source, configuration),
    cycle: result.campaign?.cycle ?? null, cycles: result.campaign?.cycles ?? null, attempt: result.campaign?.attempt ?? null,
    status: result.status, failure: failureText(result), failureCode: result.failure?.code ?? null,
    metrics: result.metrics, energyReason: energyReason(result), ...wallTimes(result), environment: result.environment ?? null,
    gpus: result.provenance?.gpus ?? [], channels: result.meters?.channels ?? [], warnings: result.warnings ?? [], definitions: result.definitions ?? {},
    phases,
    traces: traces(files.timeline, spanOf(phases, files.timeline)),
    latency: latency(files),
  };
}

function failureText(result: ExperimentResult): string | null {
  if (result.status !== 'failed') return null;
  const f = result.failure;
  return f ? `${f.category}: ${f.code} ${f.message}` : 'failed (no reason recorded)';
}

function energyReason(result: ExperimentResult): string | null {
  const energy = result.metrics?.energy;
  if (energy === undefined) return result.meters?.energyNullReason ?? null;
  return energy.available ? null : energy.reason;
}

/** Wall-clock start (the run's anchor) and end (the anchor plus the last phase's end). */
function wallTimes(result: ExperimentResult): {startedAt: string | null; endedAt: string | null} {
  const anchor = result.clock;
  if (!anchor) return {startedAt: null, endedAt: null};
  const lastMs = Math.max(0, ...result.phases.map((p) => p.endMs));
  return {startedAt: anchor.wallIso, endedAt: new Date(anchor.wallMs + lastMs).toISOString()};
}

/** The phases, then the steady-state window (DESIGN §6) where the driver found one. */
function phaseSpans(result: ExperimentResult): PhaseSpan[] {
  const spans: PhaseSpan[] = result.phases.map((p) => ({name: p.name, startMs: p.startMs, endMs: p.endMs}));
  const steady = result.workload?.steadyWindow;
  if (steady) spans.push({name: 'steady state', startMs: steady.startMs, endMs: steady.endMs});
  return spans;
}

/** [first phase start, last phase end]; a run without phases (it failed at launch) spans its samples. */
function spanOf(phases: PhaseSpan[], timeline: () => Iterable<TimelineSample>): {fromMs: number; toMs: number} {
  let fromMs = Infinity;
  let toMs = -Infinity;
  const widen = (t: number) => {
    fromMs = Math.min(fromMs, t);
    toMs = Math.max(toMs, t);
  };
  for (const p of phases) {
    widen(p.startMs);
    widen(p.endMs);
  }
  if (phases.length === 0) for (const s of timeline()) widen(s.scheduledMs);
  return Number.isFinite(fromMs) ? {fromMs, toMs} : {fromMs: 0, toMs: 0};
}

/**
 * Each channel's power, downsampled in one pass over the timeline. A read's power is its own
 * (`power_w`: the source's reading, or a counter's mean since its previous read); where a
 * counter row has none, the mean power since the channel's previous row.
 */
function traces(timeline: () => Iterable<TimelineSample>, span: {fromMs: number; toMs: number}): ChannelTrace[] {
  const series = new Map<string, {meter: string; channel: string; acc: MinMaxBuckets; last: {t: number; e: number} | null}>();
  for (const {read} of timeline()) {
    const key = `${read.meter}\u0000${read.channel}`;
    let s = series.get(key);
    if (!s) series.set(key, (s = {meter: read.meter, channel: read.channel, acc: new MinMaxBuckets(span.fromMs, span.toMs, TRACE_BUCKETS), last: null}));
    const t = (read.readStartMs + read.readEndMs) / 2;
    const derived = s.last && read.energyJ !== null && t > s.last.t ? ((read.energyJ - s.last.e) * 1000) / (t - s.last.t) : null;
    const powerW = read.powerW ?? derived;
    if (powerW !== null) s.acc.push(t, powerW);
    if (read.energyJ !== null) s.last = {t, e: read.energyJ};
  }
  return [...series.values()].map(({meter, channel, acc}) => {
    const points = acc.points();
    return {meter, channel, tMs: points.map((p) => p.tMs), powerW: points.map((p) => p.value)};
  });
}

/** TTFT and ITL (DESIGN §6, one definition in workload/stats.ts) of the measured requests that succeeded. */
function latency(files: RunFiles): RunView['latency'] {
  const ttft: number[] = [];
  const itl: number[] = [];
  for (const record of files.records) {
    if (record.phase !== 'measure' || !record.ok) continue;
    const m = requestMetrics(record);
    if (m.ttftMs !== null) ttft.push(m.ttftMs);
    if (m.itlMs !== null) itl.push(m.itlMs);
  }
  return {ttftMs: cdfPoints(ttft, CDF_POINTS), itlMs: cdfPoints(itl, CDF_POINTS)};
}
