/**
 * The forest plot of paired differences: per headline metric, one row per pair of
 * configurations, B − A paired by cycle with its 95 % CI, a dashed line at no difference.
 */
import {specOf, type VegaLiteSpec} from './common.js';

/** One pair for one metric, in the metric's display unit; the CI ends are null for one common cycle. */
export interface ForestDatum {
  metric: string;
  pair: string;
  diff: number;
  low: number | null;
  high: number | null;
  n: number;
}

/** One chart per metric, stacked, each on its own axes (a faceted layer with a rule at 0 makes Vega-Lite warn and guess the domains). */
export function forestSpec(rows: ForestDatum[]): VegaLiteSpec {
  const pair = {field: 'pair', type: 'nominal', title: null, sort: null};
  const chart = (metric: string) => ({
    title: {text: metric, anchor: 'start', fontSize: 11},
    transform: [{filter: {field: 'metric', equal: metric}}],
    width: 460,
    height: {step: 18},
    layer: [
      {mark: {type: 'rule', color: '#888', strokeDash: [3, 3]}, encoding: {x: {datum: 0, type: 'quantitative'}}},
      // A pair with one common cycle has no interval: its null ends drop the rule (Vega-Lite filters invalid values).
      {mark: {type: 'rule', color: '#4c78a8'}, encoding: {y: pair, x: {field: 'low', type: 'quantitative', title: 'B − A (paired by cycle), 95 % CI'}, x2: {field: 'high'}}},
      {mark: {type: 'point', filled: true, color: '#4c78a8', opacity: 1}, encoding: {y: pair, x: {field: 'diff', type: 'quantitative'}}},
    ],
  });
  return {
    ...specOf('differences', rows),
    vconcat: [...new Set(rows.map((r) => r.metric))].map(chart),
    resolve: {scale: {x: 'independent', y: 'independent'}},
  };
}
