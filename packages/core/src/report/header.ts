/**
 * The report's header and closing sections: the machines and GPUs the runs measured on, the lem
 * versions, the dates, the warnings (the runs' own, counted, and the report's), the metric
 * definitions and every channel with its energy scope — all as result.json and summary.json say.
 */
import type {ChannelInfo} from '../meters/types.js';
import type {MachineInfo, ReportComparison, ReportWarning, RunView} from './model.js';
import type {LoadedSource} from './sources.js';

const GIB = 1024 ** 3;

function gpuText(gpu: Record<string, unknown>): string {
  const parts = [gpu.name ?? 'GPU', gpu.uuid, gpu.driverVersion ? `driver ${String(gpu.driverVersion)}` : null, typeof gpu.powerLimitW === 'number' ? `limit ${gpu.powerLimitW} W` : null];
  return parts.filter((p) => p !== null && p !== undefined).map(String).join(', ');
}

/** The distinct machines (by host name and CPU), each with the GPUs its runs measured. */
export function machinesOf(runs: readonly RunView[]): MachineInfo[] {
  const machines = new Map<string, MachineInfo>();
  for (const r of runs) {
    const env = r.environment;
    if (!env) continue;
    const key = `${env.hostname}\u0000${env.cpuModel}`;
    let m = machines.get(key);
    if (!m) machines.set(key, (m = {hostname: env.hostname, cpu: env.cpuModel, logicalCpus: env.logicalCpus, memoryBytes: env.memoryBytes, os: `${env.osRelease ?? env.platform}, kernel ${env.kernel}, Node ${env.node}`, gpus: []}));
    for (const g of r.gpus) if (!m.gpus.includes(gpuText(g))) m.gpus.push(gpuText(g));
  }
  return [...machines.values()];
}

export const memoryText = (bytes: number): string => `${(bytes / GIB).toFixed(1)} GiB`;

/** First start and last end over the runs (ISO 8601), null without any. */
export function datesOf(runs: readonly RunView[]): {firstStart: string | null; lastEnd: string | null} {
  const starts = runs.map((r) => r.startedAt).filter((s): s is string => s !== null).sort();
  const ends = runs.map((r) => r.endedAt).filter((s): s is string => s !== null).sort();
  return {firstStart: starts[0] ?? null, lastEnd: ends.at(-1) ?? null};
}

/** The runs' warnings by code: the first message and how many runs carry it. */
function runWarnings(runs: readonly RunView[]): ReportWarning[] {
  const byCode = new Map<string, ReportWarning>();
  for (const r of runs) {
    for (const code of new Set(r.warnings.map((w) => w.code))) {
      const w = byCode.get(code);
      if (w) w.runs += 1;
      else byCode.set(code, {code, message: r.warnings.find((x) => x.code === code)!.message, runs: 1});
    }
  }
  return [...byCode.values()];
}

/** What the report itself must say: failures, unreadable runs, few cycles, a missing summary, single runs. */
function reportWarnings(sources: readonly LoadedSource[], runs: readonly RunView[]): ReportWarning[] {
  const out: ReportWarning[] = [];
  const say = (code: string, message: string) => out.push({code, message, runs: 0});
  const failed = runs.filter((r) => r.status === 'failed');
  if (failed.length > 0) say('W_RUNS_FAILED', `${failed.length} of ${runs.length} runs failed: ${[...new Set(failed.map((r) => `${r.configuration} (${r.failureCode ?? 'no code'})`))].join(', ')}; their figures are gaps, never 0`);
  for (const r of runs.filter((x) => x.status === 'unreadable')) say('W_RUN_UNREADABLE', `${r.path}: ${r.failure}`);
  for (const {source, summary} of sources) {
    if (source.kind === 'run') continue;
    if (!summary) say('W_NO_SUMMARY', `${source.id} has no summary.json (running or interrupted): its statistics are computed from the ${runs.filter((r) => r.source === source.id).length} run folders found`);
    if (source.status && source.status !== 'completed') say('W_CAMPAIGN_UNFINISHED', `${source.id} is ${source.status}${source.stopReason ? `: ${source.stopReason}` : ''}`);
    const cycles = Math.max(0, ...runs.filter((r) => r.source === source.id).map((r) => r.cycles ?? 0));
    if (cycles > 0 && cycles < 3) say('W_FEW_CYCLES', `${source.id} has ${cycles} cycle${cycles === 1 ? '' : 's'}: with fewer than 3, the 95 % intervals are very wide (t(0.975, 1) = 12.7) or absent`);
    for (const change of summary?.envChanges ?? []) say('W_ENV_CHANGED', `${source.id}: the environment changed during the campaign: ${JSON.stringify(change)}`);
  }
  if (sources.some((s) => s.source.kind === 'run')) say('W_SINGLE_RUNS', 'runs given on their own: n = 1 each, no confidence interval (a campaign repeats configurations over cycles to give one)');
  return out;
}

export function warningsOf(sources: readonly LoadedSource[], runs: readonly RunView[]): ReportWarning[] {
  return [...reportWarnings(sources, runs), ...runWarnings(runs)];
}

/** The definitions of the runs' result.json (the same text in every run of one lem version; the first run's wins on a clash). */
export function definitionsOf(runs: readonly RunView[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of runs) for (const [k, v] of Object.entries(r.definitions)) out[k] ??= v;
  return out;
}

/** Every channel measured, once per meter and channel. */
export function channelsOf(runs: readonly RunView[]): ChannelInfo[] {
  const seen = new Map<string, ChannelInfo>();
  for (const r of runs) for (const c of r.channels) if (!seen.has(`${c.meter}\u0000${c.channel}`)) seen.set(`${c.meter}\u0000${c.channel}`, c);
  return [...seen.values()];
}

/** The paired differences of every campaign's summary.json (B − A by cycle). */
export function comparisonsOf(sources: readonly LoadedSource[]): ReportComparison[] {
  return sources.flatMap(({source, summary}) => (summary?.summary.comparisons ?? []).map((c) => ({source: source.id, a: c.a, b: c.b, metric: c.metric, diff: c.diff})));
}
