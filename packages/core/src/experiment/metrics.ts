/**
 * Per-run figures (DESIGN §6), computed from raw records only — requests.jsonl, the boundary
 * reads and a digest of timeline.csv — so that `lem results recompute` reproduces them. Pure
 * functions. Every figure that cannot be known is null with its reason in `nullReasons`, never 0
 * or Infinity in place of unknown.
 */
import type {RequestRecord} from '../measure/types.js';
import {summarize, type ValueSummary} from '../measure/stats.js';
import {requestMetrics} from '../workload/stats.js';
import {estimateFlops, type FlopsEstimate, type FlopsModel} from '../flops/index.js';
import {modelRange, totalOf, type ChannelEnergy, type EnergyRange, type TimelineDigest} from '../meters/index.js';
import type {ChannelInfo, EnergyScope} from '../meters/types.js';

/** Summaries and per-request latencies have one definition, in measure/stats.ts and workload/stats.ts. */
export type Summary = ValueSummary;

/** The definitions printed with the figures, so a reader never has to guess which "ITL" this is. */
export const METRIC_DEFINITIONS: Record<string, string> = {
  window: 'measure window T = [first measured send, last measured response end]',
  energyWindow: "energy window = [the meters' read right before the first measured send, their read right after the last response end]; energy, average power and the idle adjustment all use it",
  ttftMs: 'TTFT = first streamed chunk carrying content − send',
  e2eMs: 'E2E = end of the response (last chunk: [DONE] or end of stream) − send',
  itlMs: 'ITL = (E2E − TTFT) / (output_tokens − 1); undefined for one-token outputs (what vLLM calls TPOT)',
  chunkGapMs: 'gaps between consecutive content chunks, pooled over requests (what vLLM calls ITL)',
  percentiles: 'percentiles of latencies and of sampler jitter: linear interpolation between order statistics (Hyndman & Fan type 7, as NumPy and R); event-loop delay percentiles are those of Node\'s delay histogram',
  outputTokensPerS: 'Σ output tokens of successful requests / T',
  requestsPerS: 'successful requests / T',
  energyJ: 'energy of the energy window: difference of counter reads at its edges (power-only channels: ∫P dt through the sampled power), summed over the channels that do not lie inside another',
  scope: 'what a channel measures: device (a GPU, every process on it), socket (a CPU package or its DRAM, lem itself included), process-group (the server\'s processes only), container (the server\'s container only)',
  uncertaintyJ: 'read-time uncertainty: Σ over both edges of (read duration + the counter\'s update period) × power at the edge',
  modelRangeJ: 'for estimated energy: the estimate with the lowest and the highest published coefficients of its power model (the model\'s own error, apart from uncertaintyJ)',
  idlePowerW: 'idle energy / idle duration, model loaded and warm, after the settle time, right before the workload',
  idlePowerStdW: 'sample standard deviation of the per-tick total sampled power over the idle window',
  idleAdjustedEnergyJ: 'energyJ − idlePowerW × energy window (beside the total, never instead)',
  energyPerOutputTokenJ: 'energyJ / Σ output tokens',
  energyPerTokenJ: 'energyJ / Σ (prompt + output) tokens',
  energyPerRequestJ: 'energyJ / successful requests',
  gpuEnergyPer1kQueriesWh: "GPU energy (NVML channels only) / successful requests × 1000 / 3600: AI Energy Score's unit, which counts GPU energy only",
  totalEnergyPer1kQueriesWh: 'energyJ (every channel: GPU, CPU, DRAM) / successful requests × 1000 / 3600; not comparable with AI Energy Score',
  outputTokensPerJ: 'Σ output tokens / energyJ',
  avgPowerW: 'energyJ / energy window',
  peakPowerW: 'highest sampled power (sum of the channels totals add) at one tick in the window',
  flops:
    'estimate: 2 × active non-embedding parameters per token through the layers, plus causal attention (QKᵀ and AV) and one LM head per output token; prefill and decode apart; not a measurement',
  steadyState:
    'closed loop: from the completion of the first `concurrency` requests (the batch is full and turning over) to the last send; open loop: from the arrival of request ⌈0.1·N⌉ to the last arrival; null when shorter than 10 s. Throughput counts requests that ended inside it; latencies only requests entirely inside it; energy interpolates counters at its edges and integrates power-only channels over it',
};

/** Energy of one phase as measured: the input of the energy figures. */
export interface PhaseEnergyInput {
  energyJ: number | null;
  uncertaintyJ: number | null;
  modelRangeJ?: EnergyRange | null;
  estimated: boolean;
  channels: ChannelEnergy[];
  /** Where the phase's boundary reads lie, ms since t0 (null without them). */
  window?: {startMs: number; endMs: number} | null;
  /** Why energy is null, when it is. */
  reason?: string;
}

export interface IdleInput {
  energy: PhaseEnergyInput;
  durationS: number;
  /** Spread of the total sampled power over the idle window; null without samples. */
  powerStdW: number | null;
}

export type EnergyFigures =
  | {
      available: true;
      estimated: boolean;
      energyJ: number;
      uncertaintyJ: number | null;
      /** With an estimated part: the total at the low and the high end of the estimate's model range. */
      modelRangeJ: EnergyRange | null;
      /** The energy window (see METRIC_DEFINITIONS.energyWindow). */
      window: {startMs: number; endMs: number; durationS: number};
      channels: ChannelEnergy[];
      /** Scopes of the channels in the total. */
      scopes: EnergyScope[];
      idlePowerW: number | null;
      idlePowerStdW: number | null;
      idleAdjustedEnergyJ: number | null;
      energyPerOutputTokenJ: number | null;
      energyPerTokenJ: number | null;
      energyPerRequestJ: number | null;
      /** Σ of the NVML channels, J; null without a GPU meter. */
      gpuEnergyJ: number | null;
      gpuEnergyPer1kQueriesWh: number | null;
      totalEnergyPer1kQueriesWh: number | null;
      outputTokensPerJ: number | null;
      avgPowerW: number | null;
      peakPowerW: number | null;
      nullReasons: Record<string, string>;
    }
  | {available: false; energyJ: null; reason: string};

/** The steady-state window (DESIGN §6) and its figures, beside the full window's. */
export type SteadyStateFigures =
  | {
      available: true;
      startMs: number;
      endMs: number;
      durationS: number;
      /** Requests that ended inside the window; throughput counts their tokens. */
      completedRequests: number;
      outputTokensPerS: number | null;
      requestsPerS: number;
      /** Latencies of the requests entirely inside the window (straddlers excluded). */
      ttftMs: Summary | null;
      itlMs: Summary | null;
      energyJ: number | null;
      energyReason?: string;
      uncertaintyJ: number | null;
      estimated: boolean;
      modelRangeJ: EnergyRange | null;
      avgPowerW: number | null;
      energyPerOutputTokenJ: number | null;
      nullReasons: Record<string, string>;
    }
  | {available: false; reason: string; startMs: number | null; endMs: number | null; durationS: number | null};

/** What a measured GPU did during the window (from the NVML timeline). */
export interface GpuFigures {
  uuid: string;
  temperatureC: {start: number | null; end: number | null; max: number | null};
  /** Seconds (sample count × interval) during which each throttle reason was active. */
  throttledS: Record<string, number>;
  /** Most compute processes on the GPU that were not the server's, in any sample. */
  foreignProcessesMax: number;
  /** ∫P dt over the window from the sampled power, beside the counter's energy, for the cross-check. */
  integratedPowerJ: number | null;
  counterEnergyJ: number | null;
}

export interface RunMetrics {
  window: {startMs: number; endMs: number; durationS: number};
  requests: {sent: number; ok: number; failed: number; failedFraction: number | null; failuresByKind: Record<string, number>};
  tokens: {prompt: number | null; output: number | null; source: 'usage' | 'tokenize' | 'mixed' | null; withoutCounts: number; meanOutput: number | null};
  outputTokensPerS: number | null;
  requestsPerS: number | null;
  ttftMs: Summary | null;
  itlMs: Summary | null;
  e2eMs: Summary | null;
  chunkGapMs: Summary | null;
  energy: EnergyFigures;
  steadyState: SteadyStateFigures;
  /** An estimate from the model's shape and the token counts (DESIGN §6), prefill and decode apart. */
  flops: FlopsEstimate | {available: false; reason: string};
  /** One entry per measured GPU (empty without NVML). */
  gpus: GpuFigures[];
  /** Sample ticks inside the measure window over the ticks the schedule promised. */
  coverage: {ticks: number; expectedTicks: number; fraction: number | null} | null;
  nullReasons: Record<string, string>;
}

export interface MetricsInput {
  /** Requests of the measure phase only. */
  records: RequestRecord[];
  energy: PhaseEnergyInput;
  idle: IdleInput | null;
  /** The timeline's answers, asked with {@link metricsQuestions}. */
  timeline: TimelineDigest;
  /** The steady-state window as the driver saw it (null: none, e.g. a burst). */
  steadyWindow?: {startMs: number; endMs: number} | null;
  channels?: ChannelInfo[];
  energyNullReason?: string | null;
  /** The model's shape for the FLOPs estimate, or why it is unknown. */
  model?: {info: FlopsModel | null; reason?: string};
  /** Sampling period, for throttled seconds and coverage. */
  intervalMs?: number;
}

/** Shorter steady windows are reported as null with this reason. */
export const MIN_STEADY_STATE_S = 10;

/** Collects the reason of every figure that is null. */
function nullsOf() {
  const reasons: Record<string, string> = {};
  const known = <T>(key: string, value: T | null, reason: string): T | null => {
    if (value === null) reasons[key] = reason;
    return value;
  };
  return {reasons, known};
}

/** [first send, last end] of the records, by loops (a spread of 10⁵ values overflows the call stack). */
export function requestWindow(records: readonly RequestRecord[]): {startMs: number; endMs: number; durationS: number} {
  let startMs = Infinity;
  let endMs = -Infinity;
  for (const r of records) {
    if (r.sendMs < startMs) startMs = r.sendMs;
    if (r.endMs > endMs) endMs = r.endMs;
  }
  if (records.length === 0) return {startMs: 0, endMs: 0, durationS: 0};
  return {startMs, endMs, durationS: (endMs - startMs) / 1000};
}

/** Distinct sample ticks inside the window over the ticks the schedule promised (window ÷ interval); below 1 means missed ticks or a late start. */
export function sampleCoverage(ticks: number, window: {startMs: number; endMs: number}, intervalMs: number): {ticks: number; expectedTicks: number; fraction: number | null} {
  const expectedTicks = Math.floor((window.endMs - window.startMs) / intervalMs);
  return {ticks, expectedTicks, fraction: expectedTicks > 0 ? Math.min(1, ticks / expectedTicks) : null};
}

/** Per-GPU temperatures, throttling and the counter vs integrated-power cross-check. */
export function gpuFigures(input: {timeline: TimelineDigest; window: {startMs: number; endMs: number}; channels: readonly ChannelInfo[]; energyChannels: readonly ChannelEnergy[]; intervalMs: number}): GpuFigures[] {
  const gpus = input.channels.filter((c) => c.meter === 'nvml');
  if (gpus.length === 0) return [];
  const stats = input.timeline.window(input.window.startMs, input.window.endMs);
  return gpus.map((c) => {
      const w = stats.channel(c);
      const throttledS: Record<string, number> = {};
      for (const [reason, samples] of Object.entries(w?.throttleSamples ?? {})) throttledS[reason] = (samples * input.intervalMs) / 1000;
      const counter = input.energyChannels.find((e) => e.meter === 'nvml' && e.channel === c.channel);
      return {
        uuid: c.channel,
        temperatureC: {start: w?.temperatureC.first ?? null, end: w?.temperatureC.last ?? null, max: w?.temperatureC.max ?? null},
        throttledS,
        foreignProcessesMax: w?.foreignProcessesMax ?? 0,
        integratedPowerJ: input.timeline.integralJ(c, input.window.startMs, input.window.endMs),
        counterEnergyJ: c.kind === 'counter' ? (counter?.energyJ ?? null) : null,
      };
    });
}

/**
 * Energy of the steady window: counters interpolated at its edges (a reset in between makes it
 * null), power-only channels integrated over it; labelled estimated when any part is, with the
 * same uncertainty terms as the boundary energy (the counter's update period × edge power).
 */
function steadyEnergy(timeline: TimelineDigest, channels: readonly ChannelInfo[], w: {startMs: number; endMs: number}): {energyJ: number | null; reason?: string; uncertaintyJ: number | null; estimated: boolean; modelRangeJ: EnergyRange | null} {
  const top = channels.filter((c) => c.partOf === undefined);
  const estimated = top.some((c) => c.estimated);
  if (top.length === 0) return {energyJ: null, reason: 'no-meter', uncertaintyJ: null, estimated, modelRangeJ: null};
  const parts: ChannelEnergy[] = [];
  const durationS = (w.endMs - w.startMs) / 1000;
  for (const c of top) {
    let energyJ: number | null;
    if (c.kind === 'counter') {
      const a = timeline.counterAtJ(c, w.startMs);
      const b = timeline.counterAtJ(c, w.endMs);
      if (a === null || b === null) return {energyJ: null, reason: 'window-outside-timeline', uncertaintyJ: null, estimated, modelRangeJ: null};
      if (b < a || timeline.counterDecreases(c, w.startMs, w.endMs)) return {energyJ: null, reason: 'counter-reset', uncertaintyJ: null, estimated, modelRangeJ: null};
      energyJ = b - a;
    } else {
      energyJ = timeline.integralJ(c, w.startMs, w.endMs);
      if (energyJ === null) return {energyJ: null, reason: 'no-power-samples', uncertaintyJ: null, estimated, modelRangeJ: null};
    }
    const edge = (t: number) => {
      const p = timeline.nearPowerW(c, t) ?? (durationS > 0 ? (energyJ as number) / durationS : null);
      return p === null ? null : (c.updatePeriodMs / 1000) * p;
    };
    const ua = edge(w.startMs);
    const ub = edge(w.endMs);
    parts.push({
      meter: c.meter,
      channel: c.channel,
      scope: c.scope,
      energyJ,
      uncertaintyJ: ua === null || ub === null ? null : ua + ub,
      estimated: c.estimated,
      method: c.kind === 'counter' ? 'counter' : 'integrated',
      ...(c.model ? {modelRangeJ: modelRange(energyJ, durationS, c.model)} : {}),
    });
  }
  const total = totalOf(parts);
  return {energyJ: total.energyJ, uncertaintyJ: total.uncertaintyJ, estimated, modelRangeJ: total.modelRangeJ ?? null};
}

export function steadyStateFigures(input: {records: RequestRecord[]; window: {startMs: number; endMs: number} | null; timeline: TimelineDigest; channels: readonly ChannelInfo[]; energyNullReason: string | null}): SteadyStateFigures {
  const w = input.window;
  if (!w) return {available: false, reason: 'no-steady-state', startMs: null, endMs: null, durationS: null};
  const durationS = (w.endMs - w.startMs) / 1000;
  if (durationS < MIN_STEADY_STATE_S) return {available: false, reason: `shorter-than-${MIN_STEADY_STATE_S}s`, startMs: w.startMs, endMs: w.endMs, durationS};
  const {reasons, known} = nullsOf();
  const ok = input.records.filter((r) => r.ok);
  const completed = ok.filter((r) => r.endMs >= w.startMs && r.endMs <= w.endMs);
  const inside = ok.filter((r) => r.sendMs >= w.startMs && r.endMs <= w.endMs);
  const counted = completed.every((r) => r.outputTokens !== null);
  const tokens = counted ? completed.reduce((a, r) => a + r.outputTokens!, 0) : null;
  const times = inside.map(requestMetrics);
  const energy = input.energyNullReason
    ? {energyJ: null, reason: input.energyNullReason, uncertaintyJ: null, estimated: false, modelRangeJ: null}
    : steadyEnergy(input.timeline, input.channels, w);
  const energyJ = known('energyJ', energy.energyJ, energy.reason ?? 'no-meter');
  return {
    available: true,
    startMs: w.startMs,
    endMs: w.endMs,
    durationS,
    completedRequests: completed.length,
    outputTokensPerS: known('outputTokensPerS', tokens === null ? null : tokens / durationS, 'no-token-counts'),
    requestsPerS: completed.length / durationS,
    ttftMs: known('ttftMs', summarize(times.flatMap((t) => (t.ttftMs === null ? [] : [t.ttftMs]))), 'no-request-inside-the-window'),
    itlMs: known('itlMs', summarize(times.flatMap((t) => (t.itlMs === null ? [] : [t.itlMs]))), 'no-multi-token-request-inside-the-window'),
    energyJ,
    ...(energy.energyJ === null ? {energyReason: energy.reason ?? 'no-meter'} : {}),
    uncertaintyJ: energy.uncertaintyJ,
    estimated: energy.estimated,
    modelRangeJ: energy.modelRangeJ,
    avgPowerW: known('avgPowerW', energyJ === null ? null : energyJ / durationS, energy.reason ?? 'no-energy'),
    energyPerOutputTokenJ: known('energyPerOutputTokenJ', energyJ !== null && tokens ? energyJ / tokens : null, energyJ === null ? (energy.reason ?? 'no-energy') : 'no-token-counts'),
    nullReasons: reasons,
  };
}

export function computeMetrics(input: MetricsInput): RunMetrics {
  const {records} = input;
  const window = requestWindow(records);
  const {durationS} = window;
  const {reasons, known} = nullsOf();
  const ok = records.filter((r) => r.ok);
  const failuresByKind: Record<string, number> = {};
  for (const r of records) if (!r.ok) failuresByKind[r.error?.kind ?? 'unknown'] = (failuresByKind[r.error?.kind ?? 'unknown'] ?? 0) + 1;

  const counted = ok.filter((r) => r.outputTokens !== null);
  const sources = new Set(counted.map((r) => r.tokenSource));
  const outputTokens = counted.length ? counted.reduce((a, r) => a + (r.outputTokens ?? 0), 0) : null;
  const promptCounted = ok.filter((r) => r.promptTokens !== null);
  const promptTokens = promptCounted.length === ok.length && ok.length > 0 ? promptCounted.reduce((a, r) => a + (r.promptTokens ?? 0), 0) : null;
  const allCounted = counted.length === ok.length && ok.length > 0;
  const times = ok.map(requestMetrics);
  const zeroWindow = durationS > 0 ? null : 'zero-length-window';
  const noTokens = ok.length === 0 ? 'no-successful-requests' : 'no-token-counts';

  const channels = input.channels ?? [];
  const energy = energyFigures(input, {window, outputTokens: allCounted ? outputTokens : null, promptTokens, okRequests: ok.length});
  const intervalMs = input.intervalMs ?? 100;
  const hasTimeline = channels.length > 0;
  return {
    window,
    requests: {sent: records.length, ok: ok.length, failed: records.length - ok.length, failedFraction: records.length ? (records.length - ok.length) / records.length : null, failuresByKind},
    tokens: {
      prompt: promptTokens,
      output: allCounted ? outputTokens : null,
      source: sources.size === 0 ? null : sources.size > 1 ? 'mixed' : ([...sources][0] as 'usage' | 'tokenize'),
      withoutCounts: ok.length - counted.length,
      meanOutput: allCounted ? outputTokens! / ok.length : null,
    },
    outputTokensPerS: known('outputTokensPerS', allCounted && durationS > 0 ? outputTokens! / durationS : null, zeroWindow ?? noTokens),
    requestsPerS: known('requestsPerS', durationS > 0 ? ok.length / durationS : null, 'zero-length-window'),
    ttftMs: known('ttftMs', summarize(times.flatMap((t) => (t.ttftMs === null ? [] : [t.ttftMs]))), ok.length === 0 ? 'no-successful-requests' : 'no-content-streamed'),
    itlMs: known('itlMs', summarize(times.flatMap((t) => (t.itlMs === null ? [] : [t.itlMs]))), ok.length === 0 ? 'no-successful-requests' : 'one-token-outputs-or-no-token-counts'),
    e2eMs: known('e2eMs', summarize(times.map((t) => t.e2eMs)), 'no-successful-requests'),
    chunkGapMs: known('chunkGapMs', summarize(ok.flatMap((r) => r.chunkGapsMs)), 'no-request-with-two-content-chunks'),
    energy,
    steadyState: steadyStateFigures({records, window: input.steadyWindow ?? null, timeline: input.timeline, channels, energyNullReason: input.energyNullReason ?? null}),
    flops: input.model?.info ? estimateFlops(input.model.info, ok) : {available: false, reason: input.model?.reason ?? 'no-model-info'},
    gpus: gpuFigures({timeline: input.timeline, window, channels, energyChannels: input.energy.channels, intervalMs}),
    coverage: known('coverage', hasTimeline ? sampleCoverage(input.timeline.window(window.startMs, window.endMs).ticks, window, intervalMs) : null, 'no-meter'),
    nullReasons: reasons,
  };
}

function energyFigures(input: MetricsInput, w: {window: {startMs: number; endMs: number}; outputTokens: number | null; promptTokens: number | null; okRequests: number}): EnergyFigures {
  const e = input.energy;
  if (e.energyJ === null || !e.window) return {available: false, energyJ: null, reason: e.reason ?? 'no-meter'};
  const {reasons, known} = nullsOf();
  const energyJ = e.energyJ;
  const window = {startMs: e.window.startMs, endMs: e.window.endMs, durationS: (e.window.endMs - e.window.startMs) / 1000};
  const idle = input.idle;
  const idlePowerW = known('idlePowerW', idle && idle.energy.energyJ !== null && idle.durationS > 0 ? idle.energy.energyJ / idle.durationS : null, idle ? (idle.energy.reason ?? 'no-idle-window') : 'no-idle-phase');
  const per = (key: string, n: number | null, reason: string) => known(key, n !== null && n > 0 ? energyJ / n : null, reason);
  const noTokens = w.okRequests === 0 ? 'no-successful-requests' : 'no-token-counts';
  const perRequest = per('energyPerRequestJ', w.okRequests, 'no-successful-requests');
  const top = e.channels.filter((c) => c.partOf === undefined);
  const gpu = top.filter((c) => c.meter === 'nvml');
  const gpuEnergyJ = known('gpuEnergyJ', gpu.length > 0 && gpu.every((c) => c.energyJ !== null) ? gpu.reduce((s, c) => s + (c.energyJ as number), 0) : null, gpu.length === 0 ? 'no-gpu-meter' : 'gpu-energy-unknown');
  const wh1k = (joules: number | null) => (joules === null || w.okRequests === 0 ? null : ((joules / w.okRequests) * 1000) / 3600);
  const peakPowerW = (input.channels ?? []).length > 0 ? (input.timeline.window(w.window.startMs, w.window.endMs).totalPower?.peakW ?? null) : null;
  return {
    available: true,
    estimated: e.estimated || (idle?.energy.estimated ?? false),
    energyJ,
    uncertaintyJ: e.uncertaintyJ,
    modelRangeJ: e.modelRangeJ ?? null,
    window,
    channels: e.channels,
    scopes: [...new Set(top.map((c) => c.scope))],
    idlePowerW,
    idlePowerStdW: known('idlePowerStdW', idle?.powerStdW ?? null, idle ? 'no-idle-samples' : 'no-idle-phase'),
    idleAdjustedEnergyJ: known('idleAdjustedEnergyJ', idlePowerW === null ? null : energyJ - idlePowerW * window.durationS, 'no-idle-power'),
    energyPerOutputTokenJ: per('energyPerOutputTokenJ', w.outputTokens, noTokens),
    energyPerTokenJ: known('energyPerTokenJ', w.outputTokens !== null && w.promptTokens !== null && w.outputTokens + w.promptTokens > 0 ? energyJ / (w.outputTokens + w.promptTokens) : null, noTokens),
    energyPerRequestJ: perRequest,
    gpuEnergyJ,
    gpuEnergyPer1kQueriesWh: known('gpuEnergyPer1kQueriesWh', wh1k(gpuEnergyJ), gpuEnergyJ === null ? (reasons.gpuEnergyJ as string) : 'no-successful-requests'),
    totalEnergyPer1kQueriesWh: known('totalEnergyPer1kQueriesWh', wh1k(energyJ), 'no-successful-requests'),
    outputTokensPerJ: known('outputTokensPerJ', w.outputTokens !== null && energyJ > 0 ? w.outputTokens / energyJ : null, w.outputTokens === null ? noTokens : 'zero-energy'),
    avgPowerW: known('avgPowerW', window.durationS > 0 ? energyJ / window.durationS : null, 'zero-length-window'),
    peakPowerW: known('peakPowerW', peakPowerW, 'no-power-samples-in-the-window'),
    nullReasons: reasons,
  };
}
