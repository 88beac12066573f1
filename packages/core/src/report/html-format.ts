/**
 * Pieces of the report's HTML: escaping (every text and attribute that comes from a file is
 * escaped), number display, and the table cells that carry each statistic's exact value in
 * `data-` attributes (String(x): the shortest text that reads back to the same double), so the
 * page can be checked against summary.json and read by scripts.
 */
import type {CycleStats} from '../campaign/stats.js';

const ESCAPES: Record<string, string> = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'};

/** Text safe inside an element or a quoted attribute. */
export const esc = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

/** Text safe inside an element (not an attribute): quotes stay as they are, so embedded JSON stays compact. */
export const escText = (text: string): string => text.replace(/[&<>]/g, (c) => ESCAPES[c]!);

/** `name="value"` pairs, escaped; null and undefined values are left out. */
export function attrs(values: Record<string, string | number | null | undefined>): string {
  return Object.entries(values)
    .filter((e): e is [string, string | number] => e[1] !== null && e[1] !== undefined)
    .map(([k, v]) => ` ${k}="${esc(String(v))}"`)
    .join('');
}

/** A number for reading: four significant digits (the data- attributes carry every digit). */
export const num = (x: number): string => (Number.isFinite(x) ? String(Number(x.toPrecision(4))) : String(x));

/** The exact value for a data- attribute; empty for null (never 0 for an unknown). */
export const exact = (x: number | null | undefined): string => (x === null || x === undefined ? '' : String(x));

/** A cell with a statistic: mean ± CI half-width in display units, n and CV beneath; the exact values in data- attributes. */
export function statCell(stats: CycleStats, scale: number, extra: Record<string, string>): string {
  const spread = stats.halfWidth === null ? '' : ` ± ${num(stats.halfWidth * scale)}`;
  const detail = stats.n < 2 ? `n=${stats.n} · no CI` : `n=${stats.n} · CV ${stats.cv === null ? '—' : `${num(stats.cv * 100)} %`}`;
  const data = {
    ...extra,
    'data-n': stats.n,
    'data-mean': exact(stats.mean),
    'data-std': exact(stats.std),
    'data-cv': exact(stats.cv),
    'data-ci-low': exact(stats.ciLow),
    'data-ci-high': exact(stats.ciHigh),
    'data-half-width': exact(stats.halfWidth),
    'data-min': exact(stats.min),
    'data-max': exact(stats.max),
    'data-sort': exact(stats.mean),
  };
  return `<td class="num"${attrs(data)}>${num(stats.mean * scale)}${spread}<small>${detail}</small></td>`;
}

/** A gap: a dash and the reason, never a number. */
export function gapCell(reason: string, extra: Record<string, string>): string {
  return `<td class="gap"${attrs({...extra, 'data-reason': reason, 'data-sort': ''})}>—<small>${esc(reason)}</small></td>`;
}

/** A single value (a run's figure) with its exact value, or a gap with the reason. */
export function valueCell(value: number | null, scale: number, reason: string, extra: Record<string, string>): string {
  if (value === null || !Number.isFinite(value)) return gapCell(reason, extra);
  return `<td class="num"${attrs({...extra, 'data-value': exact(value), 'data-sort': exact(value)})}>${num(value * scale)}</td>`;
}
