/**
 * Per-run figures (DESIGN §6), computed from raw records only, so that `lem results recompute`
 * reproduces them from requests.jsonl, the boundaries and timeline.csv. Pure functions.
 */
import type {Boundary, RequestRecord, TimelineSample} from '../measure/types.js';
import {requestMetrics, summarize, type ValueSummary} from '../workload/stats.js';
import {estimateFlops, type FlopsEstimate, type FlopsModel} from '../flops/index.js';
import {clockEventReasonNames, integratePower, THROTTLE_REASON_MASK} from '../meters/index.js';

/** Summaries and per-request latencies have one definition, in the workload module. */
export type Summary = ValueSummary;

/** The definitions printed with the figures, so a reader never has to guess which "ITL" this is. */
export const METRIC_DEFINITIONS: Record<string, string> = {
  window: 'measure window T = [first measured send, last measured response end]',
  ttftMs: 'TTFT = first streamed chunk carrying content − send',
  e2eMs: 'E2E = end of the response (last chunk: [DONE] or end of stream) − send',
  itlMs: 'ITL = (E2E − TTFT) / (output_tokens − 1); undefined for one-token outputs (what vLLM calls TPOT)',
  chunkGapMs: 'gaps between consecutive content chunks, pooled over requests (what vLLM calls ITL)',
  outputTokensPerS: 'Σ output tokens of successful requests / T',
  requestsPerS: 'successful requests / T',
  energyJ: 'energy of the measure window: difference of counter reads at its boundaries, summed over channels',
  idlePowerW: 'idle energy / idle duration, model loaded and warm, right before the workload',
  idleAdjustedEnergyJ: 'energyJ − idlePowerW × T (beside the total, never instead)',
  energyPerOutputTokenJ: 'energyJ / Σ output tokens',
  energyPerTokenJ: 'energyJ / Σ (prompt + output) tokens',
  energyPerRequestJ: 'energyJ / successful requests',
  energyPer1kQueriesWh: 'energyPerRequestJ × 1000 / 3600 (AI Energy Score unit)',
  outputTokensPerJ: 'Σ output tokens / energyJ',
  avgPowerW: 'energyJ / T',
  peakPowerW: 'highest sampled power (sum of channels) in the window',
  flops:
    'estimate: 2 × active non-embedding parameters per token through the layers, plus causal attention (QKᵀ and AV) and one LM head per output token; prefill and decode apart; not a measurement',
  steadyState:
    'closed loop: from the first moment all concurrency slots are busy to the last send; open loop: from the arrival of request ⌈0.1·N⌉ to the last arrival; null when shorter than 10 s. Throughput counts requests that ended inside it; latencies only requests entirely inside it; energy interpolates the counters at its edges',
};

export interface EnergyChannel {
  meter: string;
  channel: string;
  energyJ: number | null;
  uncertaintyJ: number | null;
  estimated: boolean;
  invalid?: string;
}

/** Energy of one phase as measured: the input of the energy figures. */
export interface PhaseEnergyInput {
  energyJ: number | null;
  uncertaintyJ: number | null;
  estimated: boolean;
  channels: EnergyChannel[];
  /** Why energy is null, when it is. */
  reason?: string;
}

export interface IdleInput {
  energy: PhaseEnergyInput;
  durationS: number;
}

export type EnergyFigures =
  | {
      available: true;
      estimated: boolean;
      energyJ: number;
      uncertaintyJ: number | null;
      channels: EnergyChannel[];
      idlePowerW: number | null;
      idleAdjustedEnergyJ: number | null;
      energyPerOutputTokenJ: number | null;
      energyPerTokenJ: number | null;
      energyPerRequestJ: number | null;
      energyPer1kQueriesWh: number | null;
      outputTokensPerJ: number | null;
      avgPowerW: number;
      peakPowerW: number | null;
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
      avgPowerW: number | null;
      energyPerOutputTokenJ: number | null;
    }
  | {available: false; reason: string; startMs: number | null; endMs: number | null; durationS: number | null};

/**
 * How much of the window the timeline covers: distinct sample ticks inside it over the ticks the
 * schedule promised (window ÷ interval). Below 1 means missed ticks or a late start.
 */
export function sampleCoverage(samples: TimelineSample[], window: {startMs: number; endMs: number}, intervalMs: number): {ticks: number; expectedTicks: number; fraction: number | null} {
  const ticks = new Set(samples.filter((s) => s.scheduledMs >= window.startMs && s.scheduledMs <= window.endMs).map((s) => s.scheduledMs)).size;
  const expectedTicks = Math.floor((window.endMs - window.startMs) / intervalMs);
  return {ticks, expectedTicks, fraction: expectedTicks > 0 ? Math.min(1, ticks / expectedTicks) : null};
}

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

/** Per-GPU temperatures, throttling and the counter vs integrated-power cross-check. */
export function gpuFigures(input: {
  samples: TimelineSample[];
  window: {startMs: number; endMs: number};
  channels: Array<{meter: string; channel: string; kind: string}>;
  energyChannels: EnergyChannel[];
  intervalMs: number;
}): GpuFigures[] {
  return input.channels
    .filter((c) => c.meter === 'nvml')
    .map((c) => {
      const inWindow = input.samples.filter((s) => s.read.meter === 'nvml' && s.read.channel === c.channel && s.scheduledMs >= input.window.startMs && s.scheduledMs <= input.window.endMs);
      const temps = inWindow.map((s) => s.read.temperatureC).filter((t): t is number => typeof t === 'number');
      const throttledS: Record<string, number> = {};
      for (const s of inWindow) {
        if (typeof s.read.clockEventReasons !== 'number') continue;
        for (const name of clockEventReasonNames(s.read.clockEventReasons & THROTTLE_REASON_MASK)) throttledS[name] = (throttledS[name] ?? 0) + input.intervalMs / 1000;
      }
      const counter = input.energyChannels.find((e) => e.meter === 'nvml' && e.channel === c.channel);
      return {
        uuid: c.channel,
        temperatureC: {start: temps[0] ?? null, end: temps.at(-1) ?? null, max: temps.length ? Math.max(...temps) : null},
        throttledS,
        foreignProcessesMax: Math.max(0, ...inWindow.map((s) => (typeof s.read.foreignProcesses === 'number' ? s.read.foreignProcesses : 0))),
        integratedPowerJ: integratePower(input.samples, input.window.startMs, input.window.endMs, {meter: 'nvml', channel: c.channel}),
        counterEnergyJ: c.kind === 'counter' ? (counter?.energyJ ?? null) : null,
      };
    });
}

/** Shorter steady windows are reported as null with this reason. */
export const MIN_STEADY_STATE_S = 10;

/** Cumulative energy of a counter channel at time t, by linear interpolation between the timeline's reads (read midpoints). */
export function counterAt(samples: TimelineSample[], meter: string, channel: string, tMs: number): number | null {
  let before: {t: number; e: number} | null = null;
  let after: {t: number; e: number} | null = null;
  for (const s of samples) {
    if (s.read.meter !== meter || s.read.channel !== channel || s.read.energyJ === null) continue;
    const t = (s.read.readStartMs + s.read.readEndMs) / 2;
    if (t <= tMs && (!before || t > before.t)) before = {t, e: s.read.energyJ};
    if (t >= tMs && (!after || t < after.t)) after = {t, e: s.read.energyJ};
  }
  if (!before || !after) return null;
  if (after.t === before.t) return before.e;
  return before.e + ((after.e - before.e) * (tMs - before.t)) / (after.t - before.t);
}

/** True when the counter goes backwards anywhere from the read before `fromMs` to the read after `toMs` (a reset). */
function counterDecreases(samples: TimelineSample[], meter: string, channel: string, fromMs: number, toMs: number): boolean {
  const series = samples
    .filter((s) => s.read.meter === meter && s.read.channel === channel && s.read.energyJ !== null)
    .map((s) => ({t: (s.read.readStartMs + s.read.readEndMs) / 2, e: s.read.energyJ!}))
    .sort((x, y) => x.t - y.t);
  const first = Math.max(0, series.findIndex((p) => p.t >= fromMs) - 1);
  for (let i = first + 1; i < series.length && series[i - 1]!.t <= toMs; i++) if (series[i]!.e < series[i - 1]!.e) return true;
  return false;
}

export function steadyStateFigures(input: {
  records: RequestRecord[];
  window: {startMs: number; endMs: number} | null;
  samples: TimelineSample[];
  channels: Array<{meter: string; channel: string; kind: string; partOf?: string}>;
  energyNullReason: string | null;
  boundaries?: Boundary[];
}): SteadyStateFigures {
  const w = input.window;
  if (!w) return {available: false, reason: 'no-steady-state', startMs: null, endMs: null, durationS: null};
  // Boundary reads are reads of the same counters: they bracket the window where the periodic samples stop short.
  const points = [...input.samples, ...(input.boundaries ?? []).flatMap((b) => b.reads.map((read) => ({scheduledMs: b.atMs, read})))];
  const durationS = (w.endMs - w.startMs) / 1000;
  if (durationS < MIN_STEADY_STATE_S) return {available: false, reason: `shorter-than-${MIN_STEADY_STATE_S}s`, startMs: w.startMs, endMs: w.endMs, durationS};
  const ok = input.records.filter((r) => r.ok);
  const completed = ok.filter((r) => r.endMs >= w.startMs && r.endMs <= w.endMs);
  const inside = ok.filter((r) => r.sendMs >= w.startMs && r.endMs <= w.endMs);
  const counted = completed.every((r) => r.outputTokens !== null);
  const tokens = counted ? completed.reduce((a, r) => a + r.outputTokens!, 0) : null;
  const times = inside.map(requestMetrics);

  let energyJ: number | null = null;
  let energyReason: string | undefined = input.energyNullReason ?? undefined;
  if (!energyReason) {
    const top = input.channels.filter((c) => !c.partOf && c.kind === 'counter');
    if (top.length === 0) energyReason = 'no-counter';
    else {
      let sum = 0;
      for (const c of top) {
        const a = counterAt(points, c.meter, c.channel, w.startMs);
        const b = counterAt(points, c.meter, c.channel, w.endMs);
        if (a === null || b === null) {
          energyReason = 'window-outside-timeline';
          break;
        }
        if (b < a || counterDecreases(points, c.meter, c.channel, w.startMs, w.endMs)) {
          energyReason = 'counter-reset';
          break;
        }
        sum += b - a;
      }
      if (!energyReason) energyJ = sum;
    }
  }
  return {
    available: true,
    startMs: w.startMs,
    endMs: w.endMs,
    durationS,
    completedRequests: completed.length,
    outputTokensPerS: tokens === null ? null : tokens / durationS,
    requestsPerS: completed.length / durationS,
    ttftMs: summarize(times.flatMap((t) => (t.ttftMs === null ? [] : [t.ttftMs]))),
    itlMs: summarize(times.flatMap((t) => (t.itlMs === null ? [] : [t.itlMs]))),
    energyJ,
    ...(energyReason ? {energyReason} : {}),
    avgPowerW: energyJ === null ? null : energyJ / durationS,
    energyPerOutputTokenJ: energyJ !== null && tokens ? energyJ / tokens : null,
  };
}

export interface RunMetrics {
  window: {startMs: number; endMs: number; durationS: number};
  requests: {sent: number; ok: number; failed: number; failedFraction: number; failuresByKind: Record<string, number>};
  tokens: {prompt: number | null; output: number | null; source: 'usage' | 'tokenize' | 'mixed' | null; withoutCounts: number; meanOutput: number | null};
  outputTokensPerS: number | null;
  requestsPerS: number;
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
}

export interface MetricsInput {
  /** Requests of the measure phase only. */
  records: RequestRecord[];
  energy: PhaseEnergyInput;
  idle: IdleInput | null;
  /** Timeline samples, for peak power and the steady-state window's energy. */
  samples: TimelineSample[];
  /** The steady-state window as the driver saw it (null: none, e.g. a burst). */
  steadyWindow?: {startMs: number; endMs: number} | null;
  channels?: Array<{meter: string; channel: string; kind: string; partOf?: string}>;
  energyNullReason?: string | null;
  /** Boundary reads, which extend the timeline to the phase edges. */
  boundaries?: Boundary[];
  /** The model's shape for the FLOPs estimate, or why it is unknown. */
  model?: {info: FlopsModel | null; reason?: string};
  /** Sampling period, for throttled seconds. */
  intervalMs?: number;
}

/**
 * Sums sample power per tick over the channels that totals add: a channel inside another (`partOf`,
 * e.g. RAPL's `package-0/core`) is already in it; DRAM is its own domain and counts.
 */
export function peakPowerW(samples: TimelineSample[], fromMs: number, toMs: number, channels: Array<{meter: string; channel: string; partOf?: string}>): number | null {
  const inside = new Set(channels.filter((c) => c.partOf).map((c) => `${c.meter}\u0000${c.channel}`));
  const perTick = new Map<number, number>();
  for (const s of samples) {
    if (s.scheduledMs < fromMs || s.scheduledMs > toMs || s.read.powerW === null || inside.has(`${s.read.meter}\u0000${s.read.channel}`)) continue;
    perTick.set(s.scheduledMs, (perTick.get(s.scheduledMs) ?? 0) + s.read.powerW);
  }
  return perTick.size === 0 ? null : Math.max(...perTick.values());
}

export function computeMetrics(input: MetricsInput): RunMetrics {
  const {records} = input;
  const startMs = records.length ? Math.min(...records.map((r) => r.sendMs)) : 0;
  const endMs = records.length ? Math.max(...records.map((r) => r.endMs)) : 0;
  const durationS = (endMs - startMs) / 1000;
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
  const tokensPerS = allCounted && durationS > 0 ? outputTokens! / durationS : null;

  const energy = energyFigures(input, {durationS, startMs, endMs, outputTokens: allCounted ? outputTokens : null, promptTokens, okRequests: ok.length});
  return {
    window: {startMs, endMs, durationS},
    requests: {sent: records.length, ok: ok.length, failed: records.length - ok.length, failedFraction: records.length ? (records.length - ok.length) / records.length : 0, failuresByKind},
    tokens: {
      prompt: promptTokens,
      output: allCounted ? outputTokens : null,
      source: sources.size === 0 ? null : sources.size > 1 ? 'mixed' : ([...sources][0] as 'usage' | 'tokenize'),
      withoutCounts: ok.length - counted.length,
      meanOutput: allCounted ? outputTokens! / ok.length : null,
    },
    outputTokensPerS: tokensPerS,
    requestsPerS: durationS > 0 ? ok.length / durationS : 0,
    ttftMs: summarize(times.flatMap((t) => (t.ttftMs === null ? [] : [t.ttftMs]))),
    itlMs: summarize(times.flatMap((t) => (t.itlMs === null ? [] : [t.itlMs]))),
    e2eMs: summarize(times.map((t) => t.e2eMs)),
    chunkGapMs: summarize(ok.flatMap((r) => r.chunkGapsMs)),
    energy,
    steadyState: steadyStateFigures({
      records,
      window: input.steadyWindow ?? null,
      samples: input.samples,
      channels: input.channels ?? [],
      energyNullReason: input.energyNullReason ?? null,
      boundaries: input.boundaries,
    }),
    flops: input.model?.info ? estimateFlops(input.model.info, ok) : {available: false, reason: input.model?.reason ?? 'no-model-info'},
    gpus: gpuFigures({
      samples: input.samples,
      window: {startMs, endMs},
      channels: input.channels ?? [],
      energyChannels: input.energy.channels,
      intervalMs: input.intervalMs ?? 100,
    }),
  };
}

function energyFigures(
  input: MetricsInput,
  w: {durationS: number; startMs: number; endMs: number; outputTokens: number | null; promptTokens: number | null; okRequests: number},
): EnergyFigures {
  const e = input.energy;
  if (e.energyJ === null) return {available: false, energyJ: null, reason: e.reason ?? 'no-meter'};
  const idlePowerW = input.idle && input.idle.energy.energyJ !== null && input.idle.durationS > 0 ? input.idle.energy.energyJ / input.idle.durationS : null;
  const per = (n: number | null) => (n !== null && n > 0 ? e.energyJ! / n : null);
  const perRequest = per(w.okRequests);
  return {
    available: true,
    estimated: e.estimated || (input.idle?.energy.estimated ?? false),
    energyJ: e.energyJ,
    uncertaintyJ: e.uncertaintyJ,
    channels: e.channels,
    idlePowerW,
    idleAdjustedEnergyJ: idlePowerW === null ? null : e.energyJ - idlePowerW * w.durationS,
    energyPerOutputTokenJ: per(w.outputTokens),
    energyPerTokenJ: w.outputTokens !== null && w.promptTokens !== null ? per(w.outputTokens + w.promptTokens) : null,
    energyPerRequestJ: perRequest,
    energyPer1kQueriesWh: perRequest === null ? null : (perRequest * 1000) / 3600,
    outputTokensPerJ: w.outputTokens !== null && e.energyJ > 0 ? w.outputTokens / e.energyJ : null,
    avgPowerW: w.durationS > 0 ? e.energyJ / w.durationS : 0,
    peakPowerW: peakPowerW(input.samples, w.startMs, w.endMs, input.channels ?? []),
  };
}
