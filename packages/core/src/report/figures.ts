/**
 * The report's figures as Vega-Lite specs, from the report model: the two Pareto figures, the
 * forest plot of paired differences, and per configuration its runs' power timelines and
 * latency CDFs. Numbers are in each metric's display unit and rounded for drawing only (the
 * tables carry the exact values).
 */
import {CAMPAIGN_METRICS} from '../campaign/summary.js';
import type {ReportComparison, ReportConfiguration, ReportMetric, ReportModel, RunView} from './model.js';
import {paretoFrontier} from './pareto.js';
import {CDF_POINTS, TRACE_BUCKETS} from './runs.js';
import {seconds, sig, slugOf, type FigureSpec} from './specs/common.js';
import {forestSpec, type ForestDatum} from './specs/forest.js';
import {latencySpec, type LatencyDatum} from './specs/latency.js';
import {paretoSpec, type ParetoDatum} from './specs/pareto.js';
import {timelineSpec, type TimelineDatum} from './specs/timeline.js';

/** Pairs per metric beyond which the forest plot keeps only the pairs with the best configuration. */
export const MAX_PAIRS = 24;

const metric = (model: ReportModel, id: string): ReportMetric => model.metrics.find((m) => m.id === id)!;
const axisTitle = (m: ReportMetric): string => `${m.label} (${m.displayUnit})`;

/** How a configuration is named in figures: with its campaign when the report holds several. */
export function labelOf(model: ReportModel, c: {source: string | null; name: string}): string {
  const campaigns = new Set(model.configurations.map((x) => x.source).filter((s) => s !== null));
  return c.source !== null && campaigns.size > 1 ? `${c.source}/${c.name}` : c.name;
}

function paretoDatum(c: ReportConfiguration, xm: ReportMetric, ym: ReportMetric, label: string): ParetoDatum | null {
  const xs = c.cells[xm.id]?.stats;
  const ys = c.cells[ym.id]?.stats;
  if (!xs || !ys) return null;
  const scaled = (v: number | null, m: ReportMetric) => (v === null ? null : sig(v * m.displayScale));
  const x = {x: sig(xs.mean * xm.displayScale), xLow: scaled(xs.ciLow, xm), xHigh: scaled(xs.ciHigh, xm)};
  return {label, ...x, y: sig(ys.mean * ym.displayScale), yLow: scaled(ys.ciLow, ym), yHigh: scaled(ys.ciHigh, ym), frontier: false};
}

/**
 * An axis domain holding every mean with a tenth of their span to spare, and the intervals, but
 * reaching at most one span of the means beyond them (a 2-cycle interval can be 25× the spread of the means and would squash the
 * points into a corner); `cut` when an interval goes past it.
 */
export function axisDomain(means: number[], lows: Array<number | null>, highs: Array<number | null>): {domain: [number, number]; cut: boolean} {
  const lo = Math.min(...means);
  const hi = Math.max(...means);
  const span = hi - lo || Math.abs(hi) / 2 || 1;
  const ends = [...lows, ...highs].filter((v): v is number => v !== null);
  const [min, max] = [Math.min(lo, ...ends), Math.max(hi, ...ends)];
  const domain: [number, number] = [Math.min(lo - span / 10, Math.max(min, lo - span)), Math.max(hi + span / 10, Math.min(max, hi + span))];
  return {domain, cut: domain[0] > min || domain[1] < max};
}

/** Energy per output token (y) against another metric (x); the frontier computed on the exact means. */
export function paretoFigure(model: ReportModel, xId: string, id: string): FigureSpec {
  const [xm, ym] = [metric(model, xId), metric(model, 'energyPerOutputTokenJ')];
  const title = `Pareto frontier: ${ym.label.toLowerCase()} against ${xm.label.replace(/^[A-Z][a-z]/, (w) => w.toLowerCase())}`;
  const placed = model.configurations.map((c) => ({c, d: paretoDatum(c, xm, ym, labelOf(model, c))}));
  const points = placed.filter((p): p is {c: ReportConfiguration; d: ParetoDatum} => p.d !== null);
  const front = new Set(paretoFrontier(points.map(({c}) => ({id: c.key, x: c.cells[xm.id]!.stats!.mean, y: c.cells[ym.id]!.stats!.mean})), xm.better, ym.better).map((p) => p.id));
  for (const p of points) p.d.frontier = front.has(p.c.key);
  const missing = placed.filter((p) => p.d === null).map(({c}) => `${labelOf(model, c)} (${c.cells[ym.id]?.reason ?? c.cells[xm.id]?.reason})`);
  const data = points.map((p) => p.d);
  const xAxis = axisDomain(data.map((d) => d.x), data.map((d) => d.xLow), data.map((d) => d.xHigh));
  const yAxis = axisDomain(data.map((d) => d.y), data.map((d) => d.yLow), data.map((d) => d.yHigh));
  const caption = [
    `Each point is a configuration's mean; bars are its 95 % confidence intervals (none where n = 1). ${xm.label} ${xm.better} is better, ${ym.label.toLowerCase()} ${ym.better}. On the frontier (no other configuration is better on both): ${data.filter((d) => d.frontier).map((d) => d.label).join(', ') || 'none'}.`,
    xAxis.cut || yAxis.cut ? 'Intervals wider than the plot are cut at its edge (the table has their ends).' : '',
    missing.length > 0 ? `Not on the plot: ${missing.join('; ')}.` : '',
  ];
  if (data.length === 0) return {id, title, caption: `No configuration has both figures. ${caption[2]}`, spec: null};
  const axes = {x: axisTitle(xm), y: axisTitle(ym), xDomain: xAxis.domain, yDomain: yAxis.domain};
  return {id, title, caption: caption.filter(Boolean).join(' '), spec: paretoSpec(data, axes)};
}

/** The comparisons the forest plot and its table show: all of them, or per metric only those with the best configuration when there are more than {@link MAX_PAIRS}. */
export function shownComparisons(model: ReportModel): {shown: ReportComparison[]; trimmed: boolean} {
  const groups = new Map<string, ReportComparison[]>();
  for (const c of model.comparisons) {
    const key = `${c.source}\u0000${c.metric}`;
    const list = groups.get(key);
    if (list) list.push(c);
    else groups.set(key, [c]);
  }
  let trimmed = false;
  const shown = [...groups.values()].flatMap((list) => {
    if (list.length <= MAX_PAIRS) return list;
    trimmed = true;
    const best = model.sources.find((s) => s.id === list[0]!.source)?.best?.[list[0]!.metric] ?? null;
    return list.filter((c) => c.a === best || c.b === best);
  });
  return {shown, trimmed};
}

export function forestFigure(model: ReportModel): FigureSpec {
  const {shown, trimmed} = shownComparisons(model);
  const rows: ForestDatum[] = [];
  const order = new Map(CAMPAIGN_METRICS.map((m, i) => [m.id, i]));
  for (const c of [...shown].sort((a, b) => order.get(a.metric)! - order.get(b.metric)!)) {
    const m = metric(model, c.metric);
    if (!c.diff) continue;
    const scale = (v: number | null) => (v === null ? null : sig(v * m.displayScale));
    const pair = `${labelOf(model, {source: c.source, name: c.b})} − ${labelOf(model, {source: c.source, name: c.a})}`;
    rows.push({metric: `${m.label} (${m.displayUnit})`, pair, diff: sig(c.diff.meanDiff * m.displayScale), low: scale(c.diff.ciLow), high: scale(c.diff.ciHigh), n: c.diff.n});
  }
  const noCommon = shown.filter((c) => !c.diff).length;
  const caption = [
    'Mean difference B − A of each pair of configurations, paired by cycle (drift common to both cancels), with its 95 % Student-t interval; an interval that crosses the dashed line does not tell the two apart.',
    trimmed ? `More than ${MAX_PAIRS} pairs per metric: only the pairs with the best configuration are shown (comparisons.csv has them all).` : '',
    noCommon > 0 ? `${noCommon} pair${noCommon === 1 ? '' : 's'} without a common completed cycle left out.` : '',
  ];
  return {id: 'paired-differences', title: 'Paired differences between configurations', caption: caption.filter(Boolean).join(' '), spec: rows.length > 0 ? forestSpec(rows) : null};
}

/** A run as it is labelled in a configuration's figures; in a timeline, with why it has no power trace. */
export function runLabel(r: RunView, timeline = false): string {
  const base = r.cycle === null ? r.id : `cycle ${r.cycle}${(r.attempt ?? 1) > 1 ? `, attempt ${r.attempt}` : ''}`;
  const power = timeline && r.traces.length === 0 && r.status === 'completed' ? ` (no power: ${r.energyReason ?? 'no samples'})` : '';
  return `${base}${r.status === 'completed' ? '' : ` (${r.status})`}${power}`;
}

function timelineRows(r: RunView): TimelineDatum[] {
  const run = runLabel(r, true);
  const phases: TimelineDatum[] = r.phases.map((p) => ({run, kind: 'phase', phase: p.name, start_s: seconds(p.startMs), end_s: seconds(p.endMs), t_s: [null], power_w: [null]}));
  const power: TimelineDatum[] = r.traces.map((t) => ({run, kind: 'power', channel: `${t.meter} ${t.channel}`, t_s: t.tMs.map(seconds), power_w: t.powerW.map(sig)}));
  return [...phases, ...power];
}

function latencyRows(r: RunView): LatencyDatum[] {
  const run = runLabel(r);
  const rows: LatencyDatum[] = [];
  for (const [latency, cdf] of [['TTFT', r.latency.ttftMs], ['ITL', r.latency.itlMs]] as const) if (cdf) rows.push({run, latency, ms: cdf.values.map(sig), p: cdf.p.map(sig)});
  return rows;
}

/** The timeline and latency figures of one configuration's runs (every attempt, in cycle order). */
export function runFigures(model: ReportModel, c: ReportConfiguration, index: number): FigureSpec[] {
  const runs = model.runs.filter((r) => r.configurationKey === c.key).sort((a, b) => (a.cycle ?? 0) - (b.cycle ?? 0) || (a.attempt ?? 0) - (b.attempt ?? 0));
  const label = labelOf(model, c);
  const slug = `${index + 1}-${slugOf(c.name)}`;
  const timeline = runs.flatMap(timelineRows);
  const latency = runs.flatMap(latencyRows);
  const drawn = (rows: Array<{run: string}>, timeline = false) => runs.map((r) => runLabel(r, timeline)).filter((l) => rows.some((x) => x.run === l));
  return [
    {
      id: `timeline-${slug}`,
      title: `Power timeline: ${label}`,
      caption: `Power of each channel per run, phases shaded, the steady-state window as the dark band at the top. Drawn from at most ${2 * TRACE_BUCKETS} points per channel and run (the lowest and highest sample of each time bucket, so every spike stays); every figure is computed from all samples.`,
      ...(timeline.length > 0 ? {spec: timelineSpec(timeline, drawn(timeline, true))} : {spec: null, caption: 'No run of this configuration left phases or meter samples (the runs table says why).'}),
    },
    {
      id: `latency-${slug}`,
      title: `Latency distributions: ${label}`,
      caption: `Empirical CDF of TTFT and ITL of the measured requests that succeeded, one line per run (drawn at up to ${CDF_POINTS} evenly spaced ranks, extremes kept).`,
      ...(latency.length > 0 ? {spec: latencySpec(latency, drawn(latency))} : {spec: null, caption: 'No measured request of this configuration succeeded (the runs table says why).'}),
    },
  ];
}
