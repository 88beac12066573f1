/**
 * The files of one run: result.json (versioned), requests.jsonl and timeline.csv, each written
 * atomically. result.json keeps the boundary reads, so every figure can be recomputed from the
 * raw files alone (`lem results recompute`).
 */
import {existsSync, readFileSync} from 'node:fs';
import {join} from 'node:path';
import {configError} from '../errors.js';
import {writeFileAtomic} from '../fs-atomic.js';
import type {ResolvedExperiment, Setting} from '../config/resolve.js';
import type {Boundary, ClockAnchor, PhaseName, RequestRecord, TimelineSample} from '../measure/types.js';
import {parseTimelineCsv, timelineCsv, type ChannelInfo} from '../meters/index.js';
import type {EnvironmentInfo, Pinning} from '../experiment/environment.js';
import type {ModelInfo} from '../flops/index.js';
import type {Provenance} from '../provenance/index.js';
import {computeMetrics, METRIC_DEFINITIONS, type PhaseEnergyInput, type RunMetrics} from '../experiment/metrics.js';
import {energyOf, idleInput} from '../experiment/run.js';

/** Bumped on any incompatible change to result.json; readers refuse versions they do not know. */
export const RESULT_SCHEMA_VERSION = 1;

export interface ResultWarning {
  code: string;
  message: string;
}

export interface PhaseRecord {
  name: PhaseName;
  startMs: number;
  endMs: number;
  durationMs: number;
  /** Energy between this phase's boundary reads (null with a reason when not measured). */
  energy?: PhaseEnergyInput;
}

/** How the measure phase's load was offered, as the driver measured it. */
export interface WorkloadInfo {
  mode: 'closed' | 'open' | 'burst';
  steadyWindow: {startMs: number; endMs: number} | null;
  targetRatePerS: number | null;
  achievedRatePerS: number | null;
  sendLagMs: {mean: number; p50: number; p99: number; max: number} | null;
  maxInFlight: number;
}

export interface ExperimentResult {
  schemaVersion: number;
  status: 'completed' | 'failed';
  failure: {category: string; code: string; message: string; try: string[]; serverOutput: string[]} | null;
  experiment: {name: string; file: string | null; description: string | null};
  /** Every effective setting with its source, secrets redacted. */
  settings: Setting[];
  backend: {id: string; plugin: string | null; argv: string[] | null; baseUrl: string};
  environment: EnvironmentInfo;
  clock: ClockAnchor;
  phases: PhaseRecord[];
  boundaries: Boundary[];
  meters: {
    channels: ChannelInfo[];
    sampling: {
      intervalMs: number;
      samples: number;
      jitterMs: {p50: number; p99: number; max: number};
      missedTicks: number;
      /** Sample ticks inside the measure window over the ticks the schedule promised. */
      coverage: {ticks: number; expectedTicks: number; fraction: number | null} | null;
    } | null;
    energyNullReason: string | null;
  };
  /** Warm-up as run: requests sent, and for convergence whether ITL settled and its final CV. */
  warmup: {mode: string; requests: number; warmupConverged: boolean | null; finalCv: number | null} | null;
  workload: WorkloadInfo | null;
  /** Versions, argv, model hash, machine: what it takes to say exactly what was measured. */
  provenance: Provenance | null;
  /** The model as measured: its reference and the shape read from it (FLOPs), or why unknown. */
  model: {ref: string; info: ModelInfo | null; reason?: string} | null;
  client: {eventLoopDelay: {p50Ms: number; p99Ms: number; maxMs: number} | null; clientCpuS: number | null; pinning: Pinning | null};
  metrics: RunMetrics | null;
  definitions: Record<string, string>;
  warnings: ResultWarning[];
  notes: string[];
}

export const SINGLE_RUN_NOTE = 'This is a single run: it has no confidence interval. Repeat it in a campaign (cycles ≥ 3) to get one.';

export function buildResult(input: {
  provenance?: Provenance | null;
  status: 'completed' | 'failed';
  failure: ExperimentResult['failure'];
  resolved: ResolvedExperiment;
  experimentFile: string | null;
  anchor: ClockAnchor;
  environment: EnvironmentInfo;
  server: {backend: string; plugin: string | null; argv: string[] | null; baseUrl: string};
  phases: PhaseRecord[];
  boundaries: Boundary[];
  channels: ChannelInfo[];
  sampling: ExperimentResult['meters']['sampling'];
  energyNullReason: string | null;
  warmup: ExperimentResult['warmup'];
  workload?: WorkloadInfo | null;
  model?: ExperimentResult['model'];
  client: ExperimentResult['client'];
  metrics: RunMetrics | null;
  warnings: ResultWarning[];
}): ExperimentResult {
  const {resolved} = input;
  const redact = <T>(v: T) => resolved.redactor.deep(v);
  return {
    schemaVersion: RESULT_SCHEMA_VERSION,
    status: input.status,
    failure: redact(input.failure),
    experiment: {name: resolved.settings.name, file: input.experimentFile, description: resolved.settings.description ?? null},
    settings: resolved.sources,
    backend: {id: input.server.backend, plugin: input.server.plugin, argv: redact(input.server.argv), baseUrl: redact(input.server.baseUrl)},
    environment: input.environment,
    clock: input.anchor,
    phases: input.phases,
    boundaries: input.boundaries,
    meters: {channels: input.channels, sampling: input.sampling, energyNullReason: input.energyNullReason},
    warmup: input.warmup,
    workload: input.workload ?? null,
    model: input.model ?? null,
    provenance: input.provenance ?? null,
    client: input.client,
    metrics: input.metrics,
    definitions: METRIC_DEFINITIONS,
    warnings: input.warnings,
    notes: [SINGLE_RUN_NOTE],
  };
}

export function requestsJsonl(records: RequestRecord[]): string {
  return records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : '');
}

export function writeRunFiles(runDir: string, result: ExperimentResult, records: RequestRecord[], samples: TimelineSample[]): void {
  // Raw files first: a result.json on disk always has its raw data beside it.
  writeFileAtomic(join(runDir, 'requests.jsonl'), requestsJsonl(records));
  writeFileAtomic(join(runDir, 'timeline.csv'), timelineCsv(samples));
  writeFileAtomic(join(runDir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
}

export interface RunFiles {
  result: ExperimentResult;
  records: RequestRecord[];
  samples: TimelineSample[];
}

/** Reads a run folder, refusing what it cannot read with a coded error. */
export function readRunFiles(runDir: string): RunFiles {
  const resultPath = join(runDir, 'result.json');
  if (!existsSync(resultPath)) {
    throw configError('E_RESULT_NOT_FOUND', `${runDir} has no result.json`, ['give the folder of one run, e.g. results/quickstart-20261128T140000123Z']);
  }
  let result: ExperimentResult;
  try {
    result = JSON.parse(readFileSync(resultPath, 'utf8')) as ExperimentResult;
  } catch (error) {
    throw configError('E_RESULT_INVALID', `${resultPath} is not valid JSON: ${(error as Error).message}`, ['the file was edited or truncated; it cannot be recomputed']);
  }
  if (result.schemaVersion !== RESULT_SCHEMA_VERSION) {
    throw configError('E_RESULT_VERSION', `${resultPath} has schema version ${String(result.schemaVersion)}; this lem reads version ${RESULT_SCHEMA_VERSION}`, ['use the lem version that wrote it']);
  }
  const records: RequestRecord[] = [];
  const lines = readFileSync(join(runDir, 'requests.jsonl'), 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      records.push(JSON.parse(line) as RequestRecord);
    } catch {
      throw configError('E_RESULT_INVALID', `requests.jsonl line ${i + 1} is not JSON`, ['the file was edited or truncated']);
    }
  });
  const samples = parseTimelineCsv(readFileSync(join(runDir, 'timeline.csv'), 'utf8'));
  return {result, records, samples};
}

/** Recomputes a run's figures from its raw files (requests, boundaries, timeline). */
export function recomputeRun(runDir: string): {stored: RunMetrics | null; recomputed: RunMetrics | null; differences: Array<{path: string; stored: unknown; recomputed: unknown}>} {
  const {result, records, samples} = readRunFiles(runDir);
  const measured = records.filter((r) => r.phase === 'measure');
  const reason = result.meters.energyNullReason;
  const recomputed =
    measured.length === 0
      ? null
      : computeMetrics({
          records: measured,
          energy: energyOf('measure', result.boundaries, result.meters.channels, reason, samples),
          idle: idleInput(result.phases, result.boundaries, result.meters.channels, reason, samples),
          samples,
          steadyWindow: result.workload?.steadyWindow ?? null,
          channels: result.meters.channels,
          energyNullReason: reason,
          boundaries: result.boundaries,
          model: result.model ? {info: result.model.info, reason: result.model.reason} : undefined,
          intervalMs: result.meters.sampling?.intervalMs,
        });
  const differences: Array<{path: string; stored: unknown; recomputed: unknown}> = [];
  diff(result.metrics, recomputed, 'metrics', differences);
  return {stored: result.metrics, recomputed, differences};
}

/** Leaf-by-leaf comparison; numbers equal within 1e-9 relative (JSON round-trips are exact, sums are not always). */
function diff(a: unknown, b: unknown, path: string, out: Array<{path: string; stored: unknown; recomputed: unknown}>): void {
  if (typeof a === 'number' && typeof b === 'number') {
    if (Math.abs(a - b) > 1e-9 * Math.max(1, Math.abs(a), Math.abs(b))) out.push({path, stored: a, recomputed: b});
    return;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) diff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], Array.isArray(a) ? `${path}[${k}]` : `${path}.${k}`, out);
    return;
  }
  if (a !== b && !(a === undefined && b === null) && !(a === null && b === undefined)) out.push({path, stored: a, recomputed: b});
}
