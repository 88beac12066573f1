/**
 * The power timelines of a configuration's runs, one row per run: every channel's power (W,
 * downsampled for display), the phases shaded behind it, the steady-state window as a band at
 * the top. Time is seconds since the run's origin.
 */
import {COMPACT_CONFIG, specOf, type VegaLiteSpec} from './common.js';

/** The phases in their order, each with its shade (the steady state is a darker band inside measure). */
export const PHASE_COLOURS: ReadonlyArray<[string, string]> = [
  ['launch', '#bab0ac'],
  ['warmup', '#f2cf5b'],
  ['settle', '#d6d6d6'],
  ['idle', '#9ecae9'],
  ['rewarm', '#f2cf5b'],
  ['measure', '#88d27a'],
  ['teardown', '#bab0ac'],
  ['steady state', '#2e7d32'],
];

/**
 * Rows of the figure's one dataset: a channel's trace (arrays, flattened by the spec) or a phase
 * span. Phase rows carry one-element null arrays: the flatten runs before the facet (Vega-Lite
 * 6.4 assembles wrong scale domains for a flatten inside a faceted layer) and keeps them.
 */
export type TimelineDatum =
  | {run: string; kind: 'power'; channel: string; t_s: number[]; power_w: number[]}
  | {run: string; kind: 'phase'; phase: string; start_s: number; end_s: number; t_s: [null]; power_w: [null]};

/** Layers without data are left out (an empty layer makes Vega warn of an infinite extent). */
export function timelineSpec(rows: TimelineDatum[], runs: string[]): VegaLiteSpec {
  const x = {type: 'quantitative', title: 'time since the run started (s)'};
  const has = (test: (r: TimelineDatum) => boolean) => rows.some(test);
  const fill = {field: 'phase', type: 'nominal', title: 'phase', scale: {domain: PHASE_COLOURS.map(([p]) => p), range: PHASE_COLOURS.map(([, c]) => c)}};
  return {
    ...specOf('timeline', rows, COMPACT_CONFIG),
    transform: [{flatten: ['t_s', 'power_w']}],
    facet: {row: {field: 'run', type: 'nominal', title: null, sort: runs, header: {labelAngle: 0, labelAlign: 'left', labelAnchor: 'start', labelOrient: 'top'}}},
    spec: {
      width: 560,
      height: 90,
      layer: [
        has((r) => r.kind === 'phase' && r.phase !== 'steady state') && {transform: [{filter: "datum.kind === 'phase' && datum.phase !== 'steady state'"}], mark: {type: 'rect', opacity: 0.35}, encoding: {x: {...x, field: 'start_s'}, x2: {field: 'end_s'}, fill}},
        has((r) => r.kind === 'phase' && r.phase === 'steady state') && {transform: [{filter: "datum.phase === 'steady state'"}], mark: {type: 'rect'}, encoding: {x: {...x, field: 'start_s'}, x2: {field: 'end_s'}, y: {value: 0}, y2: {value: 6}, fill}},
        has((r) => r.kind === 'power') && {
          transform: [{filter: "datum.kind === 'power'"}],
          mark: {type: 'line', strokeWidth: 1},
          encoding: {x: {...x, field: 't_s'}, y: {field: 'power_w', type: 'quantitative', title: 'power (W)'}, stroke: {field: 'channel', type: 'nominal', title: 'channel'}},
        },
      ].filter(Boolean),
    },
    resolve: {scale: {y: 'shared'}},
  };
}
