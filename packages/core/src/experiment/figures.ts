/**
 * The figures step: every figure of a run from its raw data alone — the request records, the
 * boundary reads and ONE streamed pass over timeline.csv. `lem experiment` and `lem results
 * recompute` both call {@link computeFigures}, so a recomputed figure is the same computation,
 * not a second implementation of it.
 */
import type {Boundary, PhaseName, RequestRecord, TimelineSample} from '../measure/types.js';
import {boundaryTimes, digestTimeline, phaseEnergy, type ChannelInfo, type TimelineDigest, type TimelineQuestions} from '../meters/index.js';
import type {FlopsModel} from '../flops/index.js';
import type {PhaseRecord, ResultWarning} from '../results/result.js';
import {computeMetrics, requestWindow, type IdleInput, type PhaseEnergyInput, type RunMetrics} from './metrics.js';

/** The failure code of a run whose figures could not be computed (its raw data is complete). */
export const FIGURES_FAILED = 'E_FIGURES_FAILED';

export interface FigureInput {
  /** Every request record of the run (all phases); only `measure` ones enter the figures. */
  records: readonly RequestRecord[];
  phases: readonly PhaseRecord[];
  boundaries: readonly Boundary[];
  channels: ChannelInfo[];
  energyNullReason: string | null;
  steadyWindow: {startMs: number; endMs: number} | null;
  model?: {info: FlopsModel | null; reason?: string};
  intervalMs: number;
  /** The timeline, read once, in file order (timeline.csv as a stream). */
  timeline: Iterable<TimelineSample>;
}

export interface Figures {
  metrics: RunMetrics | null;
  /** The phases, each with its energy from its own boundary reads. */
  phases: PhaseRecord[];
}

const findBoundary = (boundaries: readonly Boundary[], label: string) => boundaries.find((b) => b.label === label);

/** Everything the figures will ask of the timeline, known before the pass over it. */
export function figureQuestions(input: Omit<FigureInput, 'timeline'>): TimelineQuestions {
  const measured = input.records.filter((r) => r.phase === 'measure');
  const window = requestWindow(measured);
  const idle = idleWindow(input.boundaries);
  const windows = [{fromMs: window.startMs, toMs: window.endMs}, ...(idle ? [idle] : []), ...(input.steadyWindow ? [{fromMs: input.steadyWindow.startMs, toMs: input.steadyWindow.endMs}] : [])];
  return {
    channels: input.channels,
    times: [...boundaryTimes(input.boundaries), ...windows.flatMap((w) => [w.fromMs, w.toMs])],
    windows,
    boundaries: input.boundaries,
  };
}

function idleWindow(boundaries: readonly Boundary[]): {fromMs: number; toMs: number} | null {
  const s = findBoundary(boundaries, 'idle:start');
  const e = findBoundary(boundaries, 'idle:end');
  return s && e ? {fromMs: s.atMs, toMs: e.atMs} : null;
}

/** Energy of a phase from its boundary reads (and the timeline, for power-only channels and edge power). */
export function energyOf(phaseName: PhaseName, input: Pick<FigureInput, 'boundaries' | 'channels' | 'energyNullReason'>, timeline: TimelineDigest): PhaseEnergyInput {
  if (input.energyNullReason) return {energyJ: null, uncertaintyJ: null, estimated: false, channels: [], window: null, reason: input.energyNullReason};
  const start = findBoundary(input.boundaries, `${phaseName}:start`);
  const end = findBoundary(input.boundaries, `${phaseName}:end`);
  if (!start || !end || input.channels.length === 0) return {energyJ: null, uncertaintyJ: null, estimated: false, channels: [], window: null, reason: 'no-meter'};
  const e = phaseEnergy(start, end, input.channels, timeline);
  return {
    energyJ: e.energyJ,
    uncertaintyJ: e.uncertaintyJ,
    ...(e.modelRangeJ === undefined ? {} : {modelRangeJ: e.modelRangeJ}),
    estimated: e.estimated,
    channels: e.channels,
    window: {startMs: start.atMs, endMs: end.atMs},
    ...(e.energyJ === null ? {reason: e.reason ?? 'invalid-counter'} : {}),
  };
}

/** Idle energy, duration and the spread of its sampled power (the phase after the settle time). */
export function idleInput(input: Pick<FigureInput, 'boundaries' | 'channels' | 'energyNullReason'>, timeline: TimelineDigest): IdleInput | null {
  const w = idleWindow(input.boundaries);
  if (!w || w.toMs <= w.fromMs) return null;
  return {
    energy: energyOf('idle', input, timeline),
    durationS: (w.toMs - w.fromMs) / 1000,
    powerStdW: input.channels.length > 0 && !input.energyNullReason ? (timeline.window(w.fromMs, w.toMs).totalPower?.stdW ?? null) : null,
  };
}

/** The figures of a run; throws only on a malformed timeline (E_TIMELINE_CSV) or a defect. */
export function computeFigures(input: FigureInput): Figures {
  const timeline = digestTimeline(input.timeline, figureQuestions(input));
  const measured = input.records.filter((r) => r.phase === 'measure');
  const metrics =
    measured.length === 0
      ? null
      : computeMetrics({
          records: measured,
          energy: energyOf('measure', input, timeline),
          idle: idleInput(input, timeline),
          timeline,
          steadyWindow: input.steadyWindow,
          channels: input.channels,
          energyNullReason: input.energyNullReason,
          model: input.model,
          intervalMs: input.intervalMs,
        });
  return {metrics, phases: input.phases.map((p) => ({...p, energy: energyOf(p.name, input, timeline)}))};
}

/** Warnings that follow from the figures (DESIGN §6), in the result and on screen. */
export function deriveWarnings(input: {metrics: RunMetrics | null; maxOutputTokens: number; channels: readonly ChannelInfo[]; loop: {p50Ms: number; p99Ms: number; maxMs: number} | null}): ResultWarning[] {
  const out: ResultWarning[] = [];
  const m = input.metrics;
  if (!m) return out;
  if (m.window.durationS < 10) out.push({code: 'W_SHORT_WINDOW', message: `the measure window is ${m.window.durationS.toFixed(2)} s (< 10 s): energy quantisation and start-up effects weigh more`});
  if (input.channels.length > 0 && m.coverage && m.coverage.ticks < 10) out.push({code: 'W_FEW_SAMPLES', message: `only ${m.coverage.ticks} meter samples fall in the measure window (< 10)`});
  if (m.energy.available && m.energy.estimated) {
    const range = m.energy.modelRangeJ;
    out.push({
      code: 'W_ENERGY_ESTIMATED',
      message: `energy is estimated from CPU time with a per-vCPU power model, not measured by a counter${range ? ` (with the published coefficients of other CPU families it would be ${range.lowJ.toFixed(3)}–${range.highJ.toFixed(3)} J)` : ''}`,
    });
  }
  if (m.requests.failed > 0) out.push({code: 'W_FAILED_REQUESTS', message: `${m.requests.failed} of ${m.requests.sent} measured requests failed (${((m.requests.failedFraction ?? 0) * 100).toFixed(1)} %); they are excluded from the figures`});
  if (m.tokens.meanOutput !== null && m.tokens.meanOutput < 0.95 * input.maxOutputTokens) {
    out.push({code: 'W_SHORT_OUTPUTS', message: `mean output is ${m.tokens.meanOutput.toFixed(1)} tokens, below 95 % of max_output_tokens (${input.maxOutputTokens}): per-token figures compare poorly across configurations`});
  }
  if (m.tokens.output === null && m.requests.ok > 0) out.push({code: 'W_NO_TOKEN_COUNTS', message: 'the server gave no token counts (no usage, no tokenize path): per-token figures are null'});
  if (m.energy.available) {
    for (const c of m.energy.channels) if (c.invalid) out.push({code: 'W_COUNTER_RESET', message: `${c.meter} ${c.channel}: ${c.invalid}; its energy is null for this window`});
  }
  out.push(...gpuWarnings(m));
  if (input.loop) {
    const itl = m.itlMs?.p50 ?? null;
    if (input.loop.p99Ms > 5 || (itl !== null && input.loop.p99Ms > 0.1 * itl)) {
      out.push({code: 'W_EVENT_LOOP_LAG', message: `lem's event-loop delay p99 was ${input.loop.p99Ms.toFixed(2)} ms during measure${itl !== null ? ` (median ITL ${itl.toFixed(2)} ms)` : ''}: client timing may be inflated`});
    }
  }
  return out;
}

function gpuWarnings(m: RunMetrics): ResultWarning[] {
  const out: ResultWarning[] = [];
  for (const g of m.gpus) {
    const {start, end, max} = g.temperatureC;
    if (start !== null && ((end !== null && Math.abs(end - start) > 10) || (max !== null && max - start > 10))) {
      out.push({code: 'W_TEMPERATURE_DRIFT', message: `${g.uuid} went from ${start} °C to ${end} °C (max ${max} °C) during the window (> 10 °C): power rises with heat; leave longer gaps or cool down between runs`});
    }
    const throttled = Object.entries(g.throttledS).filter(([, seconds]) => seconds > 0);
    if (throttled.length > 0) out.push({code: 'W_THROTTLED', message: `${g.uuid} was throttled during the window: ${throttled.map(([r, sec]) => `${r} ${sec.toFixed(1)} s`).join(', ')}`});
    if (g.foreignProcessesMax > 0) out.push({code: 'W_FOREIGN_GPU_PROCESSES', message: `${g.uuid} ran up to ${g.foreignProcessesMax} compute process(es) that are not the server's: their energy is in the figures`});
    // A counter that stood still while power was drawn (a virtualised driver may keep it so): its 0 J
    // is no measurement, and no ratio to it exists, so it gets a warning of its own. Counters move
    // every ~100 ms: over a window of a second or more, standing still is not a matter of timing.
    if (g.counterEnergyJ === 0 && g.integratedPowerJ !== null && g.integratedPowerJ > 0 && m.window.durationS >= 1) {
      out.push({code: 'W_COUNTER_STILL', message: `${g.uuid}: the energy counter did not move during the window while sampled power integrates to ${g.integratedPowerJ.toFixed(1)} J; this driver does not update it, so the energy figures from it (0 J) are not measurements`});
    }
    if (g.counterEnergyJ !== null && g.integratedPowerJ !== null && g.counterEnergyJ > 0) {
      const disagreement = Math.abs(g.integratedPowerJ - g.counterEnergyJ) / g.counterEnergyJ;
      if (disagreement > 0.05) {
        out.push({code: 'W_COUNTER_POWER_MISMATCH', message: `${g.uuid}: the energy counter (${g.counterEnergyJ.toFixed(1)} J) and integrated sampled power (${g.integratedPowerJ.toFixed(1)} J) differ by ${(disagreement * 100).toFixed(1)} % (> 5 %); the counter is used`});
      }
    }
  }
  return out;
}
