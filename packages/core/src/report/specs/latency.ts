/**
 * The latency distributions of a configuration's runs: the empirical CDF of TTFT and of ITL of
 * the measured requests that succeeded, one line per run.
 */
import {COMPACT_CONFIG, specOf, type VegaLiteSpec} from './common.js';

/** One run's CDF of one latency (arrays, flattened by the spec), in ms. */
export interface LatencyDatum {
  run: string;
  latency: 'TTFT' | 'ITL';
  ms: number[];
  p: number[];
}

export function latencySpec(rows: LatencyDatum[], runs: string[]): VegaLiteSpec {
  return {
    ...specOf('latency', rows, COMPACT_CONFIG),
    transform: [{flatten: ['ms', 'p']}],
    facet: {column: {field: 'latency', type: 'nominal', title: null, sort: ['TTFT', 'ITL']}},
    spec: {
      width: 270,
      height: 170,
      mark: {type: 'line', interpolate: 'step-after', strokeWidth: 1.2},
      encoding: {
        x: {field: 'ms', type: 'quantitative', title: 'ms', scale: {zero: false}},
        y: {field: 'p', type: 'quantitative', title: 'fraction of requests ≤ x', scale: {domain: [0, 1]}},
        stroke: {field: 'run', type: 'nominal', title: 'run', sort: runs},
      },
    },
    resolve: {scale: {x: 'independent'}},
  };
}
