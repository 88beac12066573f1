/**
 * Per-run figures (DESIGN §6), computed from raw records only, so that `lem results recompute`
 * reproduces them from requests.jsonl, the boundaries and timeline.csv. Pure functions.
 */
import type {RequestRecord, TimelineSample} from '../measure/types.js';
import {requestMetrics, summarize, type ValueSummary} from '../workload/stats.js';

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
}

export interface MetricsInput {
  /** Requests of the measure phase only. */
  records: RequestRecord[];
  energy: PhaseEnergyInput;
  idle: IdleInput | null;
  /** Timeline samples, for peak power. */
  samples: TimelineSample[];
}

/** Sums sample power per tick across top-level channels (sub-zones such as `package-0/dram` are inside their package). */
export function peakPowerW(samples: TimelineSample[], fromMs: number, toMs: number): number | null {
  const perTick = new Map<number, number>();
  for (const s of samples) {
    if (s.scheduledMs < fromMs || s.scheduledMs > toMs || s.read.powerW === null || s.read.channel.includes('/')) continue;
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
    peakPowerW: peakPowerW(input.samples, w.startMs, w.endMs),
  };
}
