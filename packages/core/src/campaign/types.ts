/**
 * The shapes of a campaign (DESIGN §7): its plan (plan.json), its state (manifest.json, rebuilt
 * from journal.jsonl events by `applyEvent`), its progress (progress.json) and the events core
 * emits for the display. Every file is versioned; readers refuse versions they do not know.
 */
import type {FailureCategory} from '../errors.js';
import type {CliSetting} from '../config/resolve.js';
import type {PlannedSlurm} from '../slurm/settings.js';

export const CAMPAIGN_SCHEMA_VERSION = 1;

export type OrderKind = 'interleaved' | 'shuffled' | 'grouped' | 'reverse' | 'latin_square';

export type EntryStatus = 'pending' | 'running' | 'completed' | 'failed' | 'interrupted' | 'skipped';

/** `fixed`: exactly `count` cycles. `adaptive`: `min`..`max`, stopping once every configuration's CI is narrow enough. */
export type CyclesSpec =
  | {kind: 'fixed'; count: number}
  | {kind: 'adaptive'; min: number; max: number; targetCiPct: number; metric: string};

/** A setting as plan.json and `--dry-run` show it: value (secrets redacted) and where it came from. */
export interface PlannedSetting {
  key: string;
  value: unknown;
  /** `formatSource` of the setting's source: `--set x`, `campaign.yaml:12:5`, `default`, `sweep`. */
  from: string;
}

/** One distinct configuration: a resolved experiment that the campaign repeats over cycles. */
export interface PlannedConfiguration {
  /** Derived from what varies (`conc4-par1-q8`); unique, stable across plans of the same file. */
  name: string;
  /** The values of the keys that vary across configurations, by dotted key. */
  varies: Record<string, unknown>;
  /** The experiment entry it comes from (`experiments[1]`, `other.yaml`) or null for `base` alone. */
  entry: string | null;
  /** The sweep point applied, by dotted key (empty without a sweep). */
  point: Record<string, unknown>;
  /** Other grid points that resolved to exactly these settings, merged into this one. */
  mergedFrom: string[];
  backend: string;
  /** Every effective setting with its source (secrets redacted). */
  settings: PlannedSetting[];
  /** sha256 of the measurement-affecting settings: two configurations with the same hash are one. */
  settingsHash: string;
  /** Seconds one run is expected to take, for the ETA before any run has finished. */
  estimateS: number;
  /** `reuse_server` as planned: every run of this configuration takes the server its predecessor left running. */
  serverReused: boolean;
  /** Identity of its server's launch: runs with equal keys can share a server. */
  launchKey: string;
}

/** One run of the sequence: a configuration in a cycle, at a position, after a gap. */
export interface PlannedRun {
  /** `<configuration>#<cycle>`: the manifest entry's key. */
  key: string;
  configuration: string;
  /** 1-based. */
  cycle: number;
  /** 1-based position in the whole sequence. */
  position: number;
  /** The pause before this run, from the end of the previous teardown. */
  gapBeforeS: number;
  gapKind: 'none' | 'experiments' | 'cycles';
  /** Adaptive cycles beyond `min`: run only while some configuration's CI is still too wide. */
  conditional: boolean;
  /** This run leaves its server running for the next run, which takes it (`reuse_server`). */
  keepServer: boolean;
}

/** What a measurement depends on outside the settings; resume refuses when any of it changed. */
export interface PlanEnvironment {
  lemVersion: string;
  plugins: Array<{name: string; version: string}>;
  /** Per model reference: its sha256 (files) or null where lem does not hash it (hub ids, endpoints). */
  models: Record<string, string | null>;
  /** Per dataset description (`builtin`, `file:prompts.jsonl`): a hash of its content. */
  datasets: Record<string, string | null>;
  gpus: {uuids: string[]; driverVersion: string | null};
}

export interface DroppedPoint {
  /** The grid point as `key=value, …` (and its entry). */
  point: string;
  reasons: string[];
}

export interface CampaignPlan {
  schemaVersion: number;
  id: string;
  name: string;
  /** Absolute path of the campaign file. */
  file: string;
  createdAt: string;
  /** CLI settings the plan was made with (`--set`, `--runner`, …), so resume resolves the same. */
  cli: CliSetting[];
  cycles: CyclesSpec;
  order: OrderKind;
  seed: number;
  seedSource: 'file' | 'drawn';
  gaps: {betweenExperimentsS: number; betweenCyclesS: number; cooldown: {enabled: boolean; deltaC: number; timeoutS: number}};
  retry: {maxAttempts: number};
  failureThreshold: {ratio: number; scope: 'campaign' | 'per_cycle'; minFinished: number; promptTimeoutS: number};
  runTimeoutS: number;
  runner: 'local' | 'docker';
  /** `docker.strategy` under the docker runner; null under local. Resume keeps it. */
  containerStrategy: 'ephemeral' | 'persistent' | null;
  /** Where runs happen (DESIGN §10); absent in plans written before executors (local). */
  executor?: 'local' | 'slurm';
  /** The Slurm executor's settings; null (or absent) under local. */
  slurm?: PlannedSlurm | null;
  /** Absolute folder of this campaign's results: `<results_dir>/<id>`. */
  resultsDir: string;
  configurations: PlannedConfiguration[];
  /** The dotted keys whose values differ between configurations. */
  varying: string[];
  dropped: DroppedPoint[];
  runs: PlannedRun[];
  /** The campaign's own settings (cycles, order, gaps, …) with their sources. */
  campaignSettings: PlannedSetting[];
  environment: PlanEnvironment;
  /** Seconds: every gap plus every run's estimate. */
  etaS: number;
  /** sha256 over what affects measurement: configurations' settings hashes, cycles, order, seed, gaps. */
  hash: string;
}

// ---------------------------------------------------------------------------------------------
// State

export interface AttemptRecord {
  attempt: number;
  status: 'completed' | 'failed' | 'interrupted' | 'running';
  category: FailureCategory | null;
  code: string | null;
  message: string | null;
  /** Run folder, relative to the campaign's results folder. */
  resultPath: string | null;
  startedAt: string;
  endedAt: string | null;
}

export interface ManifestEntry {
  key: string;
  configuration: string;
  cycle: number;
  position: number;
  status: EntryStatus;
  /** The category of the last failure (null unless failed or interrupted). */
  category: FailureCategory | null;
  code: string | null;
  message: string | null;
  /** Attempts counted toward `retry.max_attempts` (interruptions are not attempts). */
  attempts: number;
  history: AttemptRecord[];
  startedAt: string | null;
  endedAt: string | null;
  durationS: number | null;
  /** The final attempt's run folder, relative to the campaign's results folder. */
  resultPath: string | null;
  skippedReason: string | null;
}

export type CampaignStatus = 'pending' | 'running' | 'completed' | 'stopped' | 'interrupted';

export interface Manifest {
  schemaVersion: number;
  campaignId: string;
  planHash: string;
  /** The last journal entry this manifest reflects; later entries are applied on open. */
  journalSeq: number;
  updatedAt: string;
  status: CampaignStatus;
  /** Why the campaign stopped (`threshold`, `interrupted`, …), while stopped or interrupted. */
  stopReason: string | null;
  entries: ManifestEntry[];
  /** Scopes whose failure threshold the user chose to continue past: `campaign`, or `cycle:<n>`. */
  disarmed: string[];
  /** Adaptive cycles: per configuration, whether its CI reached the target and at which cycle. */
  adaptive: Record<string, {reached: boolean; atCycle: number | null; halfWidthPct: number | null}>;
  /** Resumes that continued across a changed environment (`--allow-env-change`). */
  envChanges: Array<{at: string; changes: string[]}>;
  /** The Slurm executor's batch jobs, in submission order (empty under local). */
  jobs: JobRecord[];
}

/** One batch job of a Slurm campaign, as the manifest keeps it: enough to find it again after a kill. */
export interface JobRecord {
  /** Slurm's job id. */
  id: string;
  cycle: number;
  /** The entries it runs, in plan order. */
  keys: string[];
  /** The job it waits for (`--dependency=afterany`): what keeps at most max_concurrent running. */
  after: string | null;
  /** Slurm's JobState as last seen (PENDING, RUNNING, COMPLETED, TIMEOUT, NODE_FAIL, …), or SUBMITTED before the first look. */
  state: string;
  node: string | null;
  /** squeue's reason while queued (Resources, Dependency, JobHeldUser), or why it ended. */
  reason: string | null;
  /** The batch script's exit code once ended (null while active or when unknown). */
  exitCode: number | null;
  submittedAt: string;
  /** Set once lem has merged its journal and settled its runs: the job is done with. */
  endedAt: string | null;
  /** Lines of its journal merged into the campaign's journal so far. */
  merged: number;
}

/** Where a merged journal line came from: line `line` (1-based) of job `id`'s journal. */
export interface FromJob {
  id: string;
  line: number;
}

/** One line of journal.jsonl. `seq` increases by one per line; `at` is wall-clock ISO 8601. */
export type JournalEvent =
  | {type: 'campaign-start'; resumed: boolean}
  | {type: 'run-start'; key: string; attempt: number; resultPath: string; job?: FromJob}
  | {type: 'run-end'; key: string; attempt: number; status: 'completed' | 'failed' | 'interrupted'; category: FailureCategory | null; code: string | null; message: string | null; resultPath: string; durationS: number; adopted?: boolean; job?: FromJob}
  | {type: 'skip'; keys: string[]; reason: string}
  | {type: 'gap'; beforeKey: string; seconds: number; job?: FromJob}
  | {type: 'job-submit'; id: string; cycle: number; keys: string[]; after?: string | null}
  | {type: 'job-state'; id: string; state: string; node: string | null; reason: string | null; exitCode: number | null; ended: boolean}
  | {type: 'threshold'; scope: string; failed: number; finished: number; decision: 'continue' | 'stop'}
  | {type: 'adaptive'; cycle: number; configurations: Manifest['adaptive']}
  | {type: 'env-change'; changes: string[]}
  | {type: 'campaign-end'; status: CampaignStatus; reason: string | null};

export type JournalLine = JournalEvent & {seq: number; at: string};

export interface Progress {
  campaignId: string;
  name: string;
  updatedAt: string;
  done: number;
  total: number;
  counts: Record<EntryStatus, number>;
  current: {key: string; configuration: string; cycle: number; position: number; attempt: number} | null;
  etaS: number | null;
  status: CampaignStatus;
}

/** The campaign context recorded in every result.json of a campaign run. */
export interface CampaignContext {
  id: string;
  name: string;
  configuration: string;
  cycle: number;
  cycles: number;
  position: number;
  /** Runs in the sequence. */
  total: number;
  planHash: string;
  attempt: number;
}
