/** The screen of `lem results compare`: who A and B are, a table per pair of configurations, a verdict per metric. */
import {formatPlusMinus, type CompareDifference, type CompareReport, type CompareSideStats, type ComparedPair, type SideInfo} from '@lem/core';
import {bold, dim, table} from './render.js';

/** A side's cell: mean ± half-width, or why it has no value (never 0). */
function sideCell(s: CompareSideStats): string {
  return s.stats === null ? `— (${s.reason ?? 'no value'})` : formatPlusMinus(s.stats.mean, s.stats.halfWidth);
}

function methodCell(d: CompareDifference | null): string {
  if (d === null) return '—';
  if (d.method === 'paired') return `paired n=${d.pairs}`;
  return d.df === null ? `Welch n=${d.nA}+${d.nB}` : `Welch df=${d.df.toFixed(1)}`;
}

function relativeCell(d: CompareDifference | null): string {
  return d === null || d.relativePct === null ? '—' : formatPlusMinus(d.relativePct, d.relativeHalfWidthPct, '%');
}

function sideLine(which: 'A' | 'B', side: SideInfo, label: string): string {
  const c = side.configurations.find((x) => label.endsWith(`:${x.name}`) || label === x.name) ?? side.configurations[0]!;
  const what = side.kind === 'run' ? 'run' : `campaign ${side.id}, ${c.runs} cycle${c.runs === 1 ? '' : 's'} completed`;
  return `${bold(which)}  ${label}  ${dim(`(${what})`)}`;
}

function renderPair(report: CompareReport, pair: ComparedPair): string {
  const rows = pair.metrics.map((m) => [m.label, m.unit, sideCell(m.a), sideCell(m.b), m.difference === null ? '—' : formatPlusMinus(m.difference.meanDiff, m.difference.halfWidth), relativeCell(m.difference), methodCell(m.difference)]);
  return [
    sideLine('A', report.a, pair.a),
    sideLine('B', report.b, pair.b),
    '',
    table(['METRIC', 'UNIT', 'A', 'B', 'B − A', 'B VS A', 'METHOD'], rows),
    '',
    ...pair.metrics.map((m) => m.verdict.text),
  ].join('\n');
}

export function renderComparison(report: CompareReport): string {
  const blocks = report.pairs.map((pair) => renderPair(report, pair));
  const only = (which: string, names: string[]) => (names.length > 0 ? [`not compared, only in ${which}: ${names.join(', ')}`] : []);
  const notes = [...only('A', report.unmatched.a), ...only('B', report.unmatched.b)];
  const footer = dim(
    `mean ± 95 % CI half-width; B − A ${report.method === 'paired' ? 'paired by cycle (Student t)' : "by Welch's unequal-variance t"}; B VS A = (B − A) / mean(A), its interval that of B − A over mean(A) taken as exact (--json has every definition)`,
  );
  return [...blocks, ...notes, footer].join('\n\n');
}
