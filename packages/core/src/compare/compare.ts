/**
 * `lem results compare <A> <B>` (DESIGN §9): two configurations, campaigns or runs side by side on
 * every headline metric (every metric with `all`): each side's mean and 95 % CI, B − A with its
 * CI — paired by cycle for two configurations of one campaign, Welch's unequal-variance interval
 * otherwise —, the relative difference and a verdict in plain words.
 */
import {configError} from '../errors.js';
import {commonCycles, describe, pairedDifference, welchDifference} from '../campaign/stats.js';
import {CAMPAIGN_METRICS, type CampaignMetric, type CampaignMetricId} from '../campaign/summary.js';
import {resolveSide, sameSide, type Side, type SideConfiguration} from './sides.js';
import {verdict, type CompareDifference, type CompareSideStats, type CompareVerdict} from './verdict.js';

export interface CompareInput {
  resultsDir: string;
  a: string;
  b: string;
  /** A and B are configuration names of this campaign (an id or a folder). */
  campaign?: string;
  /** Every metric, not only the headline ones. */
  all?: boolean;
}

export interface MetricComparison {
  metric: CampaignMetricId;
  label: string;
  unit: string;
  better: CampaignMetric['better'];
  a: CompareSideStats;
  b: CompareSideStats;
  /** B − A; null when a side has no value (or, paired, no cycle in common). */
  difference: CompareDifference | null;
  verdict: CompareVerdict;
}

/** One configuration of A against one of B. */
export interface ComparedPair {
  /** `<campaign>:<configuration>`, or the run's folder name. */
  a: string;
  b: string;
  metrics: MetricComparison[];
}

export interface SideInfo {
  spec: string;
  kind: Side['kind'];
  id: string;
  path: string;
  configurations: Array<{name: string; runs: number}>;
}

export interface CompareReport {
  a: SideInfo;
  b: SideInfo;
  method: CompareDifference['method'];
  /** Two campaigns: one pair per configuration name both have (A's order); otherwise one pair. */
  pairs: ComparedPair[];
  /** Two campaigns: the configurations only one of them has (not compared). */
  unmatched: {a: string[]; b: string[]};
  definitions: Record<string, string>;
}

export const COMPARE_DEFINITIONS: Record<string, string> = {
  side: "each side: the mean over its cycles (runs) ± the 95 % Student-t half-width t(0.975, n − 1) · s / √n, as in summary.json; a run's figure that is unknown (energy not measured) is left out with its reason, never counted as 0",
  paired: 'two configurations of one campaign: B − A is the mean of the per-cycle differences B_c − A_c over the cycles both completed, with a 95 % Student-t interval on pairs − 1 degrees of freedom, as in comparisons.csv',
  welch: "anything else (two campaigns, configurations of different campaigns, runs): B − A = mean(B) − mean(A), 95 % interval ± t(0.975, df) · √(s_A²/n_A + s_B²/n_B) with Welch–Satterthwaite df; no interval when a side has fewer than 2 values",
  relative: 'relative difference = (B − A) / mean(A) × 100 (paired: A over the paired cycles); its interval is the interval of B − A divided by mean(A), an approximation that treats mean(A) as exact',
  verdict: "a difference is claimed only when the 95 % interval of B − A excludes 0; better or worse follows the metric's direction (lower energy and latency, higher throughput)",
  matching: 'two campaigns: configurations are matched by name (a campaign of one configuration matches any single configuration); the others are listed, not compared',
};

/** Compares A and B (see sides.ts for how they are named); refusals are coded errors with a Try line. */
export function compareResults(input: CompareInput): CompareReport {
  const a = resolveSide(input.resultsDir, input.a, input.campaign);
  const b = resolveSide(input.resultsDir, input.b, input.campaign);
  if (sameSide(a, b)) throw sameError(a);
  const {pairs, unmatched} = matchConfigurations(a, b);
  const method = a.kind === 'configuration' && b.kind === 'configuration' && a.campaignId === b.campaignId ? 'paired' : 'welch';
  const metrics = CAMPAIGN_METRICS.filter((m) => input.all || m.headline);
  return {
    a: sideInfo(a),
    b: sideInfo(b),
    method,
    pairs: pairs.map(([ca, cb]) => ({a: labelOf(a, ca), b: labelOf(b, cb), metrics: metrics.map((m) => compareMetric(m, ca, cb, method))})),
    unmatched,
    definitions: COMPARE_DEFINITIONS,
  };
}

const labelOf = (side: Side, c: SideConfiguration): string => (side.kind === 'run' ? side.id : `${side.id}:${c.name}`);
const names = (side: Side): string[] => side.configurations.map((c) => c.name);

function sideInfo(side: Side): SideInfo {
  return {spec: side.spec, kind: side.kind, id: side.id, path: side.path, configurations: side.configurations.map((c) => ({name: c.name, runs: c.runs}))};
}

function sameError(side: Side): Error {
  const others = names(side);
  const tryLines = side.kind !== 'run' && others.length > 1 ? [`lem results compare ${side.id}:${others[0]} ${side.id}:${others[1]}`] : ['lem results list  (and compare two different entries)'];
  return configError('E_COMPARE_SAME', `A and B are both ${side.kind === 'configuration' ? `${side.id}:${others[0]}` : side.id}: there is nothing to compare`, tryLines);
}

/**
 * Which configuration of A meets which of B: one each → that pair; two campaigns → by name; a
 * campaign of several configurations against one configuration or run is ambiguous and refused.
 */
function matchConfigurations(a: Side, b: Side): {pairs: Array<[SideConfiguration, SideConfiguration]>; unmatched: {a: string[]; b: string[]}} {
  if (a.configurations.length === 1 && b.configurations.length === 1) return {pairs: [[a.configurations[0]!, b.configurations[0]!]], unmatched: {a: [], b: []}};
  if (a.kind !== 'campaign' || b.kind !== 'campaign') throw ambiguousError(a.kind === 'campaign' ? a : b, a.kind === 'campaign' ? 'A' : 'B', a.kind === 'campaign' ? b : a);
  const inB = new Set(names(b));
  const pairs = a.configurations.filter((c) => inB.has(c.name)).map((c): [SideConfiguration, SideConfiguration] => [c, b.configurations.find((x) => x.name === c.name)!]);
  const unmatched = {a: names(a).filter((n) => !inB.has(n)), b: names(b).filter((n) => !names(a).includes(n))};
  if (pairs.length > 0) return {pairs, unmatched};
  throw configError(
    'E_COMPARE_NO_MATCH',
    `campaigns ${a.id} (${names(a).join(', ') || 'no configuration'}) and ${b.id} (${names(b).join(', ') || 'no configuration'}) have no configuration name in common`,
    [`lem results compare ${a.id}:${names(a)[0] ?? '<configuration>'} ${b.id}:${names(b)[0] ?? '<configuration>'}  (name one configuration of each)`],
  );
}

function ambiguousError(campaign: Side, which: 'A' | 'B', other: Side): Error {
  const several = names(campaign);
  // A suggestion must not name the other side again (that would compare it with itself).
  const choices = several.filter((n) => other.campaignId !== campaign.id || other.configurations[0]?.name !== n);
  return configError(
    'E_COMPARE_AMBIGUOUS',
    `${which} is campaign ${campaign.id} with ${several.length} configurations (${several.join(', ')}), ${which === 'A' ? 'B' : 'A'} is one ${other.kind}: say which configuration of ${campaign.id}`,
    choices.slice(0, 3).map((n) => (which === 'A' ? `lem results compare ${campaign.id}:${n} ${other.spec}` : `lem results compare ${other.spec} ${campaign.id}:${n}`)),
  );
}

function sideStats(c: SideConfiguration, metric: CampaignMetric): CompareSideStats {
  const reasons = [...c.missing.get(metric.id)!];
  const reason = reasons.length === 0 ? null : reasons.map(([why, runs]) => (runs > 0 && runs < c.runs ? `${runs} of ${c.runs} runs: ${why}` : why)).join('; ');
  return {stats: describe([...c.values.get(metric.id)!.values()]), reason};
}

function compareMetric(metric: CampaignMetric, ca: SideConfiguration, cb: SideConfiguration, method: CompareDifference['method']): MetricComparison {
  const va = ca.values.get(metric.id)!;
  const vb = cb.values.get(metric.id)!;
  const a = sideStats(ca, metric);
  const b = sideStats(cb, metric);
  const difference = method === 'paired' ? pairedOf(va, vb) : welchOf([...va.values()], [...vb.values()]);
  return {metric: metric.id, label: metric.label, unit: metric.unit, better: metric.better, a, b, difference, verdict: verdict(metric, a, b, difference)};
}

const relativeHalf = (halfWidth: number | null, baseline: number): number | null => (halfWidth === null || baseline === 0 ? null : (halfWidth / Math.abs(baseline)) * 100);

function pairedOf(va: ReadonlyMap<number, number>, vb: ReadonlyMap<number, number>): CompareDifference | null {
  const d = pairedDifference(va, vb);
  if (d === null) return null;
  const baselineMean = describe(commonCycles(va, vb).a)!.mean;
  const {meanDiff, halfWidth, ciLow, ciHigh, relativePct} = d;
  return {method: 'paired', pairs: d.n, nA: d.n, nB: d.n, df: d.n > 1 ? d.n - 1 : null, meanDiff, halfWidth, ciLow, ciHigh, baselineMean, relativePct, relativeHalfWidthPct: relativeHalf(halfWidth, baselineMean)};
}

function welchOf(va: readonly number[], vb: readonly number[]): CompareDifference | null {
  const d = welchDifference(va, vb);
  if (d === null) return null;
  const {nA, nB, df, meanDiff, halfWidth, ciLow, ciHigh, relativePct} = d;
  return {method: 'welch', pairs: null, nA, nB, df, meanDiff, halfWidth, ciLow, ciHigh, baselineMean: d.meanA, relativePct, relativeHalfWidthPct: relativeHalf(halfWidth, d.meanA)};
}
