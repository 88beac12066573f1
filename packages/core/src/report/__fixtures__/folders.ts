/**
 * Campaign and run folders as lem writes them, small and made on the spot for the report's unit
 * tests: result.json (the fields a report reads), timeline.csv, requests.jsonl and, for a
 * campaign, summary.json from the summary's own functions. The end-to-end test makes real ones.
 */
import {mkdirSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {CAMPAIGN_METRICS, summarizeCampaign, type CompletedRun} from '../../campaign/summary.js';
import type {RunMetrics} from '../../experiment/metrics.js';
import {RESULT_SCHEMA_VERSION} from '../../results/result.js';

export interface RunSpec {
  configuration: string;
  cycle: number;
  /** Output tokens/s; energy per output token is 1 / (10 × speed) J unless `energy: false`. */
  speed: number;
  energy?: boolean;
  failed?: boolean;
}

const summary = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => s[Math.round(q * (s.length - 1))]!;
  return {n: s.length, mean: s.reduce((a, b) => a + b, 0) / s.length, p50: at(0.5), p90: at(0.9), p95: at(0.95), p99: at(0.99), min: s[0]!, max: s.at(-1)!};
};

function metricsOf(spec: RunSpec): RunMetrics {
  const energy = spec.energy === false ? {available: false, energyJ: null, reason: 'no-meter'} : {available: true, energyJ: 50, energyPerOutputTokenJ: 1 / (10 * spec.speed), avgPowerW: 20 + spec.speed / 10, nullReasons: {}};
  const ttft = [10, 12, 14, 30].map((x) => x / spec.speed);
  return {outputTokensPerS: spec.speed, requestsPerS: spec.speed / 8, ttftMs: summary(ttft), itlMs: summary([1, 1.2, 1.1, 3]), e2eMs: summary([40, 42]), energy, nullReasons: {}} as unknown as RunMetrics;
}

const PHASES = ['launch', 'warmup', 'settle', 'idle', 'rewarm', 'measure', 'teardown'];

function resultOf(spec: RunSpec, campaign: string | null) {
  const phases = PHASES.map((name, i) => ({name, startMs: i * 1000, endMs: (i + 1) * 1000, durationMs: 1000}));
  const failure = spec.failed ? {category: 'config', code: 'E_MODEL_INFO_INVALID', message: 'bad.gguf is not a readable GGUF file', try: [], serverOutput: []} : null;
  return {
    schemaVersion: RESULT_SCHEMA_VERSION,
    status: spec.failed ? 'failed' : 'completed',
    failure,
    experiment: {name: spec.configuration, file: null, description: null},
    environment: {lemVersion: '0.1.0', node: 'v20', platform: 'linux-x64', osRelease: 'Debian', kernel: '6', cpuModel: 'Test CPU', logicalCpus: 2, memoryBytes: 2 ** 33, hostname: 'host<1>'},
    clock: {t0Ns: '0', wallIso: '2026-12-03T10:00:00.000Z', wallMs: Date.parse('2026-12-03T10:00:00.000Z')},
    phases: spec.failed ? [] : phases,
    workload: spec.failed ? null : {steadyWindow: {startMs: 5200, endMs: 5800}},
    meters: {channels: spec.energy === false ? [] : [{meter: 'rapl', channel: 'package-0', kind: 'counter', estimated: false, scope: 'socket', source: 'powercap', updatePeriodMs: 1}], energyNullReason: spec.energy === false ? 'no-meter' : null},
    provenance: {gpus: []},
    metrics: spec.failed ? null : metricsOf(spec),
    definitions: {energyPerOutputTokenJ: 'energyJ / Σ output tokens'},
    warnings: [{code: 'W_SHORT_WINDOW', message: 'the measure window is 1 s (< 10 s)'}],
    campaign: campaign === null ? null : {id: campaign, name: 'c', configuration: spec.configuration, cycle: spec.cycle, cycles: 3, position: 1, total: 1, planHash: 'abc123', attempt: 1},
  };
}

function timeline(spec: RunSpec): string {
  const rows = ['scheduled_ms,read_start_ms,read_end_ms,meter,channel,energy_j,power_w'];
  if (spec.energy !== false && !spec.failed) for (let t = 100; t < 7000; t += 100) rows.push(`${t},${t},${t + 1},rapl,package-0,${t / 10},${t === 5500 ? 95 : 10 + spec.speed / 100}`);
  return `${rows.join('\n')}\n`;
}

function requests(spec: RunSpec): string {
  if (spec.failed) return '';
  const record = (i: number) => ({id: i, phase: 'measure', sendMs: 5000 + i, firstContentMs: 5010 + i + i / spec.speed, endMs: 5050 + i, outputTokens: 8, ok: true, chunkGapsMs: []});
  return `${Array.from({length: 4}, (_, i) => JSON.stringify(record(i))).join('\n')}\n`;
}

/** Writes one run's folder under `dir` and returns its path. */
export function writeRun(dir: string, name: string, spec: RunSpec, campaign: string | null = null): string {
  const run = join(dir, name);
  mkdirSync(run, {recursive: true});
  writeFileSync(join(run, 'result.json'), JSON.stringify(resultOf(spec, campaign)));
  writeFileSync(join(run, 'timeline.csv'), timeline(spec));
  writeFileSync(join(run, 'requests.jsonl'), requests(spec));
  return run;
}

/** A campaign folder `<resultsDir>/<id>/` with its runs and summary.json; returns the folder. */
export function writeCampaign(resultsDir: string, id: string, runs: RunSpec[]): string {
  const dir = join(resultsDir, id);
  for (const r of runs) writeRun(dir, `${r.configuration}-c${r.cycle}-t1`, r, id);
  const names = [...new Set(runs.map((r) => r.configuration))];
  const completed: CompletedRun[] = runs.filter((r) => !r.failed).map((r) => ({configuration: r.configuration, cycle: r.cycle, metrics: metricsOf(r)}));
  const report = {campaign: {id, name: 'c', planHash: 'abc123', status: 'completed', stopReason: null}, counts: {completed: completed.length, failed: runs.length - completed.length}};
  const metrics = CAMPAIGN_METRICS.map(({get: _get, ...m}) => m);
  writeFileSync(join(dir, 'summary.json'), JSON.stringify({schemaVersion: 1, metrics, ...report, summary: summarizeCampaign(names, completed), failures: [], adaptive: null, envChanges: []}));
  return dir;
}
