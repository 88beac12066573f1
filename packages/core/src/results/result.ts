/**
 * result.json (versioned): what one run was, how it was measured and every figure, beside its raw
 * files (run-files.ts). It keeps the boundary reads, so every figure can be recomputed from the
 * raw files alone (`lem results recompute`).
 */
import type {ResolvedExperiment, Setting} from '../config/resolve.js';
import type {Boundary, ClockAnchor, PhaseName} from '../measure/types.js';
import type {ChannelInfo, JitterStats, ReadError} from '../meters/index.js';
import type {EnvironmentInfo, Pinning} from '../experiment/environment.js';
import type {ModelInfo} from '../flops/index.js';
import type {Provenance} from '../provenance/index.js';
import type {CampaignContext} from '../campaign/types.js';
import type {EngineMetricsSummary} from '../experiment/engine-metrics.js';
import {METRIC_DEFINITIONS, type PhaseEnergyInput, type RunMetrics} from '../experiment/metrics.js';

/** Bumped on any incompatible change to result.json; readers refuse versions they do not know. */
export const RESULT_SCHEMA_VERSION = 2;

export interface ResultWarning {
  code: string;
  message: string;
}

export interface PhaseRecord {
  name: PhaseName;
  startMs: number;
  endMs: number;
  durationMs: number;
  /** Energy between this phase's boundary reads (null with a reason when not measured). */
  energy?: PhaseEnergyInput;
}

/** How the measure phase's load was offered, as the driver measured it. */
export interface WorkloadInfo {
  mode: 'closed' | 'open' | 'burst';
  steadyWindow: {startMs: number; endMs: number} | null;
  targetRatePerS: number | null;
  achievedRatePerS: number | null;
  sendLagMs: {mean: number; p50: number; p99: number; max: number} | null;
  maxInFlight: number;
}

/** Which prompts were sent, and how their lengths are known. */
export interface PromptsInfo {
  measure: {
    count: number;
    /** `exact`: cut or drawn to length by the server's tokenizer; `approximate`: synthetic words, one per token, not checked; `as-given`: the dataset's own texts. */
    lengths: 'exact' | 'approximate' | 'as-given';
    /** Prompts cut to `max_input_tokens`; null when no limit was set. */
    truncated: number | null;
  };
  /** Warm-up and re-warm prompts, disjoint from the measured ones (a server's prefix cache must not flatter the first measured requests). */
  warmup: {count: number; source: 'held-back' | 'synthetic'; description: string};
}

export interface SamplingInfo {
  intervalMs: number;
  /** Rows of timeline.csv. */
  samples: number;
  /** Read start − scheduled tick, ms; null with `nullReasons.jitterMs` when unknown. */
  jitterMs: JitterStats | null;
  missedTicks: number | null;
  readErrors: ReadError[];
  nullReasons: Record<string, string>;
}

export interface WarmupInfo {
  mode: 'convergence' | 'fixed';
  /** Warm-up requests sent (attempts, failed ones included). */
  requests: number;
  /** Convergence only: whether per-request ITL settled (CV below the threshold); null in fixed mode. */
  warmupConverged: boolean | null;
  /** Last CV of ITL over the window; null with `finalCvReason` when it could not be computed. */
  finalCv: number | null;
  finalCvReason?: string;
}

export interface ExperimentResult {
  schemaVersion: number;
  status: 'completed' | 'failed';
  failure: {category: string; code: string; message: string; try: string[]; serverOutput: string[]} | null;
  experiment: {name: string; file: string | null; description: string | null};
  /** Every effective setting with its source, secrets redacted. */
  settings: Setting[];
  backend: {
    id: string;
    plugin: string | null;
    runner: string | null;
    argv: string[] | null;
    baseUrl: string;
    /** Docker only: `ephemeral` or `persistent`; null for a host process or an endpoint. */
    strategy: 'ephemeral' | 'persistent' | null;
    /** Docker only: the image reference and id, and the container the server ran in. */
    container: {id: string; name: string; imageRef: string; imageId: string; adopted: boolean; cpusetCpus: number[] | null} | null;
    /** True when this run was served by the server its predecessor left running (`reuse_server`). */
    serverReused: boolean;
    /** Seconds waited after readiness for a fresh container (`docker.warmup_delay_s`), excluded from every figure. */
    warmupDelayS: number;
    /**
     * Values the engine chose at start-up and reported in its output (the backend's
     * `reportedSettings`, e.g. vLLM's max_num_seqs sized by GPU); empty when it reported none
     * (a reused server reported them to the run that started it).
     */
    effective: Record<string, number | string>;
  };
  /** The engine's own figures during measure (its metrics endpoint, read every second); null when it has none. */
  engineMetrics: EngineMetricsSummary | null;
  environment: EnvironmentInfo;
  clock: ClockAnchor;
  phases: PhaseRecord[];
  boundaries: Boundary[];
  meters: {channels: ChannelInfo[]; sampling: SamplingInfo | null; energyNullReason: string | null};
  prompts: PromptsInfo | null;
  warmup: WarmupInfo | null;
  workload: WorkloadInfo | null;
  /** Versions, argv, model hash, machine: what it takes to say exactly what was measured. */
  provenance: Provenance | null;
  /** The model as measured: its reference and the shape read from it (FLOPs), or why unknown. */
  model: {ref: string; info: ModelInfo | null; reason?: string} | null;
  client: {eventLoopDelay: {p50Ms: number; p99Ms: number; maxMs: number} | null; clientCpuS: number | null; pinning: Pinning | null};
  metrics: RunMetrics | null;
  definitions: Record<string, string>;
  warnings: ResultWarning[];
  /**
   * Set when the run is part of a campaign: which campaign, configuration, cycle and attempt.
   * (The confidence interval a single run lacks is a campaign's business: no experiment result
   * speaks of it.)
   */
  campaign: CampaignContext | null;
  notes: string[];
}

/** The parts of a result a run assembles; buildResult adds the version, definitions and notes, and redacts. */
export type ResultParts = Omit<ExperimentResult, 'schemaVersion' | 'settings' | 'experiment' | 'definitions' | 'notes' | 'campaign'> & {campaign?: CampaignContext | null};

export function buildResult(resolved: ResolvedExperiment, experimentFile: string | null, parts: ResultParts): ExperimentResult {
  const redact = <T>(v: T) => resolved.redactor.deep(v);
  return {
    schemaVersion: RESULT_SCHEMA_VERSION,
    status: parts.status,
    failure: redact(parts.failure),
    experiment: {name: resolved.settings.name, file: experimentFile, description: resolved.settings.description ?? null},
    settings: resolved.sources,
    backend: {...parts.backend, argv: redact(parts.backend.argv), baseUrl: redact(parts.backend.baseUrl)},
    environment: parts.environment,
    clock: parts.clock,
    phases: parts.phases,
    boundaries: parts.boundaries,
    meters: parts.meters,
    prompts: parts.prompts,
    warmup: parts.warmup,
    workload: parts.workload,
    provenance: parts.provenance,
    model: parts.model,
    client: parts.client,
    metrics: parts.metrics,
    engineMetrics: parts.engineMetrics,
    definitions: METRIC_DEFINITIONS,
    warnings: parts.warnings,
    campaign: parts.campaign ?? null,
    notes: [],
  };
}
