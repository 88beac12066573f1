/**
 * The Pareto figure: one point per configuration (its mean), error bars from the 95 % CIs on
 * both axes, the frontier joined, highlighted and labelled.
 */
import {specOf, type VegaLiteSpec} from './common.js';

/** A configuration's position in display units; the interval ends are null without a CI (n < 2). */
export interface ParetoDatum {
  label: string;
  x: number;
  xLow: number | null;
  xHigh: number | null;
  y: number;
  yLow: number | null;
  yHigh: number | null;
  frontier: boolean;
}

/** Axis titles and domains (display units); a domain narrower than the intervals cuts their bars at the plot's edge. */
export interface ParetoAxes {
  x: string;
  y: string;
  xDomain: [number, number];
  yDomain: [number, number];
}

export function paretoSpec(points: ParetoDatum[], axes: ParetoAxes): VegaLiteSpec {
  const x = {field: 'x', type: 'quantitative', title: axes.x, scale: {zero: false, domain: axes.xDomain}};
  const y = {field: 'y', type: 'quantitative', title: axes.y, scale: {zero: false, domain: axes.yDomain}};
  const status = points.map((p) => ({...p, status: p.frontier ? 'on the frontier' : 'dominated'}));
  // The data keep the intervals' real ends; the bars are drawn clamped to the axes (Vega counts a clipped mark's full extent when sizing the view).
  const clamp = (field: string, [lo, hi]: [number, number]) => ({calculate: `clamp(datum.${field}, ${lo}, ${hi})`, as: `${field}Shown`});
  return {
    ...specOf('configurations', status),
    width: 560,
    height: 320,
    layer: [
      {transform: [{filter: 'datum.frontier'}], mark: {type: 'line', color: '#e45756', strokeDash: [4, 3], clip: true}, encoding: {x, y, order: {field: 'x'}}},
      {
        transform: [{filter: 'isValid(datum.xLow)'}, clamp('xLow', axes.xDomain), clamp('xHigh', axes.xDomain)],
        mark: {type: 'rule', color: '#9a9a9a'},
        encoding: {x: {...x, field: 'xLowShown'}, x2: {field: 'xHighShown'}, y},
      },
      {
        transform: [{filter: 'isValid(datum.yLow)'}, clamp('yLow', axes.yDomain), clamp('yHigh', axes.yDomain)],
        mark: {type: 'rule', color: '#9a9a9a'},
        encoding: {x, y: {...y, field: 'yLowShown'}, y2: {field: 'yHighShown'}},
      },
      {
        mark: {type: 'point', filled: true, size: 70, opacity: 1},
        encoding: {x, y, color: {field: 'status', type: 'nominal', scale: {domain: ['on the frontier', 'dominated'], range: ['#e45756', '#4c78a8']}, legend: {title: null, orient: 'bottom'}}},
      },
      {transform: [{filter: 'datum.frontier'}], mark: {type: 'text', align: 'left', dx: 7, dy: -7, fontSize: 11}, encoding: {x, y, text: {field: 'label'}}},
    ],
  };
}
