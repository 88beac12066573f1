/**
 * The report as plain data (`lem report`, DESIGN §9): what the HTML page and the figures are made
 * from. Statistics are those of summary.json where it has them; what it lacks (TTFT and ITL
 * percentiles beyond p50, single runs) is computed from the runs' result.json with the same
 * functions. A figure that is unknown is null with its reason, never 0.
 */
import type {CycleStats, PairedDiff} from '../campaign/stats.js';
import type {CampaignMetricId} from '../campaign/summary.js';
import type {RunMetrics} from '../experiment/metrics.js';
import type {EnvironmentInfo} from '../experiment/environment.js';
import type {PhaseName} from '../measure/types.js';
import type {ChannelInfo} from '../meters/types.js';
import type {ResultWarning} from '../results/result.js';
import type {CdfPoints} from './downsample.js';

/** One input of the report: a campaign folder (with or without summary.json) or one run's folder. */
export interface ReportSource {
  kind: 'campaign' | 'run';
  id: string;
  path: string;
  name: string;
  /** Campaigns: from summary.json; null without it (a campaign still running or interrupted). */
  planHash: string | null;
  status: string | null;
  stopReason: string | null;
  counts: Record<string, number> | null;
  /** summary.json's best configuration per metric. */
  best: Record<string, string | null> | null;
  hasSummary: boolean;
}

/** A column of the configurations table. */
export interface ReportMetric {
  id: string;
  label: string;
  /** The unit of the value, as in result.json and summary.json. */
  unit: string;
  /** What the table shows: the value × `displayScale`, in `displayUnit` (e.g. J → mJ). */
  displayUnit: string;
  displayScale: number;
  better: 'lower' | 'higher';
  /** Derived from energy: unknown, with the run's energy reason, when energy was not measured. */
  energy: boolean;
  /** The summary.json metric with the same definition, where summary.json has one. */
  summaryId: CampaignMetricId | null;
  get(metrics: RunMetrics): number | null;
}

/** A metric of a configuration: statistics across its cycles, or why there are none. */
export interface ReportCell {
  stats: CycleStats | null;
  /** Where the numbers come from: summary.json, or computed here from the runs' result.json. */
  from: 'summary' | 'runs';
  /** Why `stats` is null (`energy not measured: no-meter`, `no completed run: …`). */
  reason: string | null;
}

export interface ReportConfiguration {
  /** Unique within the report: the campaign id and the configuration name, or the run folder. */
  key: string;
  name: string;
  /** The campaign id, or null for a run given on its own. */
  source: string | null;
  /** Completed runs counted (one per cycle) and failed ones (last attempts). */
  completed: number;
  failed: number;
  cells: Record<string, ReportCell>;
}

export interface PhaseSpan {
  name: PhaseName | 'steady state';
  startMs: number;
  endMs: number;
}

/** A channel's power as drawn: downsampled for display (see downsample.ts), W against ms since the run's origin. */
export interface ChannelTrace {
  meter: string;
  channel: string;
  tMs: number[];
  powerW: number[];
}

export interface RunView {
  /** The run's folder name. */
  id: string;
  path: string;
  source: string | null;
  configuration: string;
  /** Key of its row in the configurations table. */
  configurationKey: string;
  cycle: number | null;
  /** Cycles of its campaign (null for a run on its own). */
  cycles: number | null;
  attempt: number | null;
  status: 'completed' | 'failed' | 'unreadable';
  /** Why it failed (`config: E_MODEL_INFO_INVALID …`) or could not be read, and that error's code. */
  failure: string | null;
  failureCode: string | null;
  metrics: RunMetrics | null;
  /** Why the run has no energy figures (`no-meter`, `remote-endpoint`); null when it has them. */
  energyReason: string | null;
  startedAt: string | null;
  endedAt: string | null;
  environment: EnvironmentInfo | null;
  gpus: Array<Record<string, unknown>>;
  channels: ChannelInfo[];
  warnings: ResultWarning[];
  definitions: Record<string, string>;
  phases: PhaseSpan[];
  traces: ChannelTrace[];
  /** TTFT and ITL of the measured requests that succeeded, as drawn (downsampled CDF). */
  latency: {ttftMs: CdfPoints | null; itlMs: CdfPoints | null};
}

export interface ReportComparison {
  source: string;
  a: string;
  b: string;
  metric: CampaignMetricId;
  /** B − A paired by cycle, from summary.json. */
  diff: PairedDiff | null;
}

export interface ReportWarning {
  code: string;
  message: string;
  /** Runs that carry it (0 for the report's own). */
  runs: number;
}

export interface MachineInfo {
  hostname: string;
  cpu: string;
  logicalCpus: number;
  memoryBytes: number;
  os: string;
  gpus: string[];
}

export interface ReportModel {
  title: string;
  /** The lem that wrote the report, and those that measured the runs. */
  reportLemVersion: string;
  lemVersions: string[];
  generatedAt: string;
  sources: ReportSource[];
  machines: MachineInfo[];
  firstStart: string | null;
  lastEnd: string | null;
  warnings: ReportWarning[];
  metrics: ReportMetric[];
  configurations: ReportConfiguration[];
  comparisons: ReportComparison[];
  runs: RunView[];
  definitions: Record<string, string>;
  /** Every channel measured, once (meter, channel, scope, estimated, source). */
  channels: ChannelInfo[];
}
