/**
 * `lem results recompute`: every figure of a run again from its raw files, with the same
 * computation the run used (figures.ts), compared leaf by leaf with result.json. A run whose
 * figures failed to compute (result.json says `E_FIGURES_FAILED`) gets them here once the cause
 * is fixed, and `write` stores them.
 */
import {join} from 'node:path';
import {writeFileAtomic} from '../fs-atomic.js';
import {readRunFiles, RUN_FILES} from '../results/run-files.js';
import {computeFigures, FIGURES_FAILED} from './figures.js';
import type {RunMetrics} from './metrics.js';

export interface Recomputed {
  stored: RunMetrics | null;
  recomputed: RunMetrics | null;
  differences: Array<{path: string; stored: unknown; recomputed: unknown}>;
  /** The run's figures had failed to compute when it ran: `stored` is null for that reason, not because nothing was measured. */
  figuresHadFailed: boolean;
  /** result.json was rewritten with the recomputed figures. */
  written: boolean;
}

/** Recomputes a run's figures from its raw files (requests, boundaries, timeline). */
export function recomputeRun(runDir: string, options: {write?: boolean} = {}): Recomputed {
  const {result, records, timeline} = readRunFiles(runDir);
  const figures = computeFigures({
    records,
    phases: result.phases.map(({energy: _energy, ...p}) => p),
    boundaries: result.boundaries,
    channels: result.meters.channels,
    energyNullReason: result.meters.energyNullReason,
    steadyWindow: result.workload?.steadyWindow ?? null,
    model: result.model ? {info: result.model.info, reason: result.model.reason} : undefined,
    intervalMs: result.meters.sampling?.intervalMs ?? 100,
    timeline: timeline(),
  });
  const differences: Recomputed['differences'] = [];
  diff(result.metrics, figures.metrics, 'metrics', differences);
  const figuresHadFailed = result.failure?.code === FIGURES_FAILED;
  let written = false;
  if (options.write && figuresHadFailed && figures.metrics) {
    // The measurement itself had succeeded; only its arithmetic had not.
    const fixed = {...result, status: 'completed' as const, failure: null, metrics: figures.metrics, phases: figures.phases, notes: [...result.notes, `Figures recomputed from the raw files by lem results recompute at ${new Date().toISOString()}.`]};
    writeFileAtomic(join(runDir, RUN_FILES.result), `${JSON.stringify(fixed, null, 2)}\n`);
    written = true;
  }
  return {stored: result.metrics, recomputed: figures.metrics, differences, figuresHadFailed, written};
}

/** Leaf-by-leaf comparison; numbers equal within 1e-9 relative (JSON round-trips are exact, sums are not always). */
function diff(a: unknown, b: unknown, path: string, out: Recomputed['differences']): void {
  if (typeof a === 'number' && typeof b === 'number') {
    if (Math.abs(a - b) > 1e-9 * Math.max(1, Math.abs(a), Math.abs(b))) out.push({path, stored: a, recomputed: b});
    return;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) diff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], Array.isArray(a) ? `${path}[${k}]` : `${path}.${k}`, out);
    return;
  }
  if (a !== b && !(a === undefined && b === null) && !(a === null && b === undefined)) out.push({path, stored: a, recomputed: b});
}
