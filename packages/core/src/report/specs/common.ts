/**
 * What every figure spec shares: the Vega-Lite schema, a quiet style, and the display rounding
 * of the numbers a figure carries. Each spec holds its data in `datasets` (Vega-Lite's named
 * inline data), so the spec embedded in the report opens as is in the Vega editor, and specs
 * that differ only in their data are compiled once (render.ts).
 */

/** A Vega-Lite spec as plain JSON, its data in `datasets`. */
export type VegaLiteSpec = Record<string, unknown> & {datasets?: Record<string, unknown[]>};

export interface FigureSpec {
  /** File-name-safe and unique within a report: `pareto-throughput`, `timeline-3-conc1`. */
  id: string;
  title: string;
  /** One or two sentences under the figure: what it shows, what was left out and why. */
  caption: string;
  /** Null when there is nothing to draw; the caption then says why. */
  spec: VegaLiteSpec | null;
}

export const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

export const CONFIG = {
  font: 'sans-serif',
  view: {stroke: '#ddd'},
  axis: {labelFontSize: 10, titleFontSize: 11, titleFontWeight: 'normal', gridColor: '#eee'},
  legend: {labelFontSize: 10, titleFontSize: 11, titleFontWeight: 'normal'},
  header: {labelFontSize: 11, titleFontSize: 11},
};

/**
 * For the per-run figures, of which a large report has hundreds: no ARIA labels on every mark and
 * axis (the captions and tables say it in words) and no grid; a third smaller and faster.
 */
export const COMPACT_CONFIG = {...CONFIG, aria: false, axis: {...CONFIG.axis, grid: false, tickCount: 4}};

/** The top of every spec: schema, style, and its one dataset by name (the data of a figure live in `datasets`). */
export function specOf(dataset: string, rows: unknown[], config: object = CONFIG): VegaLiteSpec {
  return {$schema: VEGA_LITE_SCHEMA, config, datasets: {[dataset]: rows}, data: {name: dataset}};
}

/** Four significant digits: what a plot can show; the tables carry the exact values. */
export const sig = (x: number): number => Number(x.toPrecision(4));

/** ms → s, to the millisecond. */
export const seconds = (ms: number): number => Math.round(ms) / 1000;

/** A file-name-safe slug of a configuration or run name. */
export const slugOf = (name: string): string => name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'x';
