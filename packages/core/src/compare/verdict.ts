/**
 * The plain-words verdict of one metric of `lem results compare`, and the number formats it and
 * the table share. Pure functions: a difference is claimed only when its 95 % interval excludes 0,
 * and better or worse follows the metric's direction.
 */
import type {CampaignMetric, CampaignMetricId} from '../campaign/summary.js';
import type {CycleStats} from '../campaign/stats.js';

/** One side's figures of one metric: the statistics across its cycles, or why it has none. */
export interface CompareSideStats {
  stats: CycleStats | null;
  /** Why some or all of its runs have no value (`energy not measured: no-meter`); null when none lacks one. */
  reason: string | null;
}

/** B − A of one metric with its 95 % interval, absolute and relative to A. */
export interface CompareDifference {
  /** `paired`: by cycle (two configurations of one campaign); `welch`: independent samples. */
  method: 'paired' | 'welch';
  /** Paired: the cycles both completed; null for Welch. */
  pairs: number | null;
  /** Values on each side that entered the difference. */
  nA: number;
  nB: number;
  /** Paired: pairs − 1; Welch: Welch–Satterthwaite; null without an interval. */
  df: number | null;
  meanDiff: number;
  halfWidth: number | null;
  ciLow: number | null;
  ciHigh: number | null;
  /** The mean of A the relative figures divide by (paired: over the paired cycles). */
  baselineMean: number;
  /** meanDiff / baselineMean × 100; null when baselineMean is 0. */
  relativePct: number | null;
  /** halfWidth / |baselineMean| × 100: the interval of B − A scaled by A's mean, taken as exact. */
  relativeHalfWidthPct: number | null;
}

export interface CompareVerdict {
  kind: 'better' | 'worse' | 'no-clear-difference' | 'cannot-tell';
  text: string;
}

export type VerdictMetric = Pick<CampaignMetric, 'id' | 'label' | 'unit' | 'better'>;

/** How a difference reads: B <verb> <amount> <more|less> <noun> than A. Others: B has <amount> higher|lower <label>. */
const PHRASES: Partial<Record<CampaignMetricId, [verb: string, more: string, less: string, noun: string]>> = {
  energyPerOutputTokenJ: ['uses', 'more', 'less', 'energy per output token'],
  energyJ: ['uses', 'more', 'less', 'energy'],
  energyPerRequestJ: ['uses', 'more', 'less', 'energy per request'],
  idleAdjustedEnergyJ: ['uses', 'more', 'less', 'idle-adjusted energy'],
  avgPowerW: ['draws', 'more', 'less', 'power on average'],
  idlePowerW: ['draws', 'more', 'less', 'power at idle'],
  outputTokensPerS: ['produces', 'more', 'fewer', 'output tokens per second'],
  requestsPerS: ['serves', 'more', 'fewer', 'requests per second'],
  outputTokensPerJ: ['produces', 'more', 'fewer', 'output tokens per joule'],
};

const MINUS = '\u2212';

/** x with `decimals` decimals, a true minus sign, and no sign on a value that rounds to 0. */
function fixed(x: number, decimals: number): string {
  const text = Math.abs(x).toFixed(decimals);
  return x < 0 && /[1-9]/.test(text) ? `${MINUS}${text}` : text;
}

/** Decimals that show an uncertainty to one significant digit (two when it starts with 1, as 0.14). */
function decimalsFor(halfWidth: number): number {
  if (!(halfWidth > 0) || !Number.isFinite(halfWidth)) return 0;
  const exponent = Math.floor(Math.log10(halfWidth));
  const leading = Math.floor(halfWidth / 10 ** exponent);
  return Math.min(12, Math.max(0, -exponent + (leading === 1 ? 1 : 0)));
}

/** Decimals that show four significant digits of x. */
const significant4 = (x: number): number => (x === 0 || !Number.isFinite(x) ? 0 : Math.min(12, Math.max(0, 3 - Math.floor(Math.log10(Math.abs(x))))));

/** A figure without an uncertainty: four significant digits, never in exponent form. */
export function formatFigure(x: number): string {
  return x === 0 || !Number.isFinite(x) ? String(x) : fixed(x, significant4(x));
}

/**
 * `value ± halfWidth`, both to the decimals the uncertainty warrants but no finer than four
 * significant digits of the value (a spread of rounding noise is not shown to 12 places); the
 * value alone without an uncertainty.
 */
export function formatPlusMinus(value: number, halfWidth: number | null, unit = ''): string {
  const suffix = unit ? ` ${unit}` : '';
  if (halfWidth === null) return `${formatFigure(value)}${suffix}`;
  const d = halfWidth === 0 ? significant4(value) : value === 0 ? decimalsFor(halfWidth) : Math.min(decimalsFor(halfWidth), significant4(value));
  return `${fixed(value, d)}${suffix} ± ${fixed(halfWidth, d)}${suffix}`;
}

/** A signed change: `+12 %`, `−3 ms`. */
function signed(text: string): string {
  return text.startsWith(MINUS) || /^[0.]+(\s|$)/.test(text) ? text : `+${text}`;
}

/** `18 % ± 4 %` (or the absolute `0.3 ms ± 0.1 ms` when A's mean is 0), of |B − A| or signed. */
function amount(metric: VerdictMetric, d: CompareDifference, sign: 'abs' | 'signed'): string {
  const [value, half, unit] = d.relativePct !== null ? [d.relativePct, d.relativeHalfWidthPct, '%'] : [d.meanDiff, d.halfWidth, metric.unit];
  const text = formatPlusMinus(sign === 'abs' ? Math.abs(value) : value, half, unit);
  return sign === 'abs' ? text : signed(text);
}

/** `Average power` → `average power`; acronyms (`TTFT p50`) stay. */
const subject = (metric: VerdictMetric): string => (/^[A-Z][a-z]/.test(metric.label) ? metric.label[0]!.toLowerCase() + metric.label.slice(1) : metric.label);

function how(d: CompareDifference): string {
  return d.method === 'paired' ? `paired over ${d.pairs} cycles` : `unpaired, Welch over ${d.nA} and ${d.nB} runs`;
}

/** Why there is nothing to say, or null when there is an interval to judge. */
function cannotTell(a: CompareSideStats, b: CompareSideStats, d: CompareDifference | null): string | null {
  const why = (s: CompareSideStats) => s.reason ?? 'no value';
  if (a.stats === null && b.stats === null) return `neither A nor B has a value (${why(a) === why(b) ? why(a) : `A: ${why(a)}; B: ${why(b)}`})`;
  if (a.stats === null) return `A has no value (${why(a)})`;
  if (b.stats === null) return `B has no value (${why(b)})`;
  if (d === null) return 'A and B have no cycle in common';
  if (d.halfWidth !== null) return null;
  if (d.method === 'paired') return 'A and B have one cycle in common (an interval needs two)';
  if (d.nA < 2 && d.nB < 2) return 'A and B have one value each (an interval needs two on each side)';
  return `${d.nA < 2 ? 'A' : 'B'} has one value (an interval needs two on each side)`;
}

/**
 * The verdict on B against A: `B uses 18 % ± 4 % less energy per output token than A (better;
 * paired over 3 cycles)`, `no clear difference in TTFT p50 (−2 % ± 5 %, the interval includes
 * 0; …)`, or `cannot tell for TTFT p50: A has one value …`.
 */
export function verdict(metric: VerdictMetric, a: CompareSideStats, b: CompareSideStats, d: CompareDifference | null): CompareVerdict {
  const unknown = cannotTell(a, b, d);
  if (unknown !== null || d === null) return {kind: 'cannot-tell', text: `cannot tell for ${subject(metric)}: ${unknown}`};
  if (d.ciLow! <= 0 && d.ciHigh! >= 0) return {kind: 'no-clear-difference', text: `no clear difference in ${subject(metric)} (${amount(metric, d, 'signed')}, the interval includes 0; ${how(d)})`};
  const higher = d.meanDiff > 0;
  const kind = higher === (metric.better === 'higher') ? 'better' : 'worse';
  const [verb, more, less, noun] = PHRASES[metric.id] ?? ['has', 'higher', 'lower', metric.label];
  return {kind, text: `B ${verb} ${amount(metric, d, 'abs')} ${higher ? more : less} ${noun} than A (${kind}; ${how(d)})`};
}
