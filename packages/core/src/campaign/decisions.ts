/**
 * The campaign's judgements between runs, as pure functions of the plan and the manifest: which
 * entry runs next and whether it is a retry, whether the failure threshold is crossed, whether
 * adaptive cycles have reached their target, and the ETA.
 */
import type {FailureCategory} from '../errors.js';
import {ciWithinTarget, describe} from './stats.js';
import type {CampaignPlan, Manifest, ManifestEntry, PlannedRun} from './types.js';

/** Categories worth another attempt with the same settings (an OOM is often transient). */
export const RETRYABLE: ReadonlySet<FailureCategory> = new Set(['runtime', 'resource']);

const FINAL = new Set(['completed', 'failed', 'skipped']);

/** True when the entry's outcome is settled in this session (resume may still re-run a failure). */
export function isFinal(entry: ManifestEntry): boolean {
  return FINAL.has(entry.status);
}

/** Whether an entry still needs running: pending, interrupted, left running by a kill, or (on resume, by default) failed for a reason other than its config. */
export function needsRun(entry: ManifestEntry, retryFailed: boolean): boolean {
  if (entry.status === 'pending' || entry.status === 'interrupted' || entry.status === 'running') return true;
  return entry.status === 'failed' && retryFailed && entry.category !== 'config';
}

/** After a failed attempt: whether another attempt is due (`retry.max_attempts` additional ones). */
export function retryDue(entry: ManifestEntry, maxAttempts: number): boolean {
  return entry.status === 'failed' && entry.category !== null && RETRYABLE.has(entry.category) && entry.attempts < 1 + maxAttempts;
}

export interface ThresholdState {
  scope: string;
  failed: number;
  finished: number;
  ratio: number;
}

/**
 * The failure threshold after `entry` settled: failed ÷ finished runs in its scope (the whole
 * campaign, or its cycle), counted by final outcome only, once `minFinished` have finished; null
 * when not crossed or when that scope was disarmed by a `continue`.
 */
export function thresholdCrossed(plan: CampaignPlan, manifest: Manifest, entry: ManifestEntry): ThresholdState | null {
  const {ratio, scope, minFinished} = plan.failureThreshold;
  const name = scope === 'campaign' ? 'campaign' : `cycle:${entry.cycle}`;
  if (manifest.disarmed.includes(name)) return null;
  const inScope = scope === 'campaign' ? manifest.entries : manifest.entries.filter((e) => e.cycle === entry.cycle);
  let failed = 0;
  let finished = 0;
  for (const e of inScope) {
    if (e.status === 'completed') finished++;
    if (e.status === 'failed') {
      finished++;
      failed++;
    }
  }
  if (finished < minFinished || failed / finished <= ratio) return null;
  return {scope: name, failed, finished, ratio: failed / finished};
}

/**
 * Adaptive cycles: once every entry of cycles 1..c is settled, with c ≥ min, each
 * configuration's CI half-width of the metric relative to its mean; `done` when all are within
 * the target (or c is the last cycle). Null when c is not such a boundary.
 */
export function adaptiveCheck(
  plan: CampaignPlan,
  manifest: Manifest,
  cycle: number,
  metricOf: (entry: ManifestEntry) => number | null,
): {done: boolean; configurations: Manifest['adaptive']} | null {
  if (plan.cycles.kind !== 'adaptive' || cycle < plan.cycles.min) return null;
  if (manifest.entries.some((e) => e.cycle <= cycle && !isFinal(e))) return null;
  const {targetCiPct, max} = plan.cycles;
  const configurations: Manifest['adaptive'] = {};
  let all = true;
  for (const c of plan.configurations) {
    const values = manifest.entries.filter((e) => e.configuration === c.name && e.cycle <= cycle && e.status === 'completed').map(metricOf).filter((v): v is number => v !== null);
    const stats = describe(values);
    const reached = ciWithinTarget(stats, targetCiPct);
    const halfWidthPct = stats?.halfWidth != null && stats.mean !== 0 ? (stats.halfWidth / Math.abs(stats.mean)) * 100 : null;
    configurations[c.name] = {reached, atCycle: reached ? (manifest.adaptive[c.name]?.atCycle ?? cycle) : null, halfWidthPct};
    all &&= reached;
  }
  return {done: all || cycle >= max, configurations};
}

/**
 * Seconds left: the remaining gaps plus each remaining run × the mean duration of the completed
 * runs of its configuration (of all completed runs when it has none yet, else the plan's
 * estimate). Conditional (adaptive) runs are counted: the ETA is an upper bound then.
 */
export function etaS(plan: CampaignPlan, manifest: Manifest, fromPosition: number): number {
  const durations = new Map<string, number[]>();
  const all: number[] = [];
  for (const e of manifest.entries) {
    if (e.status !== 'completed' || e.durationS === null) continue;
    const list = durations.get(e.configuration) ?? [];
    list.push(e.durationS);
    durations.set(e.configuration, list);
    all.push(e.durationS);
  }
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const estimates = new Map(plan.configurations.map((c) => [c.name, c.estimateS]));
  const byKey = new Map(manifest.entries.map((e) => [e.key, e]));
  let total = 0;
  for (const run of plan.runs) {
    const entry = byKey.get(run.key);
    if (run.position < fromPosition || !entry || entry.status === 'completed' || entry.status === 'skipped') continue;
    const own = durations.get(run.configuration);
    total += run.gapBeforeS + (own ? mean(own) : all.length > 0 ? mean(all) : estimates.get(run.configuration)!);
  }
  return Math.round(total);
}

/** Whether the sequence enters a new cycle (`grouped`: a new configuration) at `run`. */
export function headerAt(plan: CampaignPlan, run: PlannedRun, previous: PlannedRun | null): boolean {
  if (!previous) return true;
  return plan.order === 'grouped' ? previous.configuration !== run.configuration : previous.cycle !== run.cycle;
}
