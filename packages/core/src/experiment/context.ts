/**
 * What every step of one experiment shares: its options, its clock, its result folder and the
 * raw records as they accumulate. The steps (preflight.ts … teardown.ts) are functions of this
 * context and of the typed outputs of the steps before them.
 */
import {mkdirSync} from 'node:fs';
import {join} from 'node:path';
import type {ResolvedExperiment} from '../config/resolve.js';
import {isRunError, runError, type RunError} from '../errors.js';
import {makeAnchor, msSince, type Boundary, type ClockAnchor, type PhaseName, type RequestRecord} from '../measure/types.js';
import type {Sampler} from '../meters/index.js';
import type {Runner} from '../runner/types.js';
import type {ReuseRequest} from '../runner/reuse.js';
import type {PersistentConfirmation} from '../runner/session.js';
import {RequestLog, RUN_FILES} from '../results/run-files.js';
import type {PhaseRecord, ResultWarning} from '../results/result.js';
import type {CampaignContext} from '../campaign/types.js';

export type ExperimentEvent =
  | {type: 'start'; name: string; runDir: string; backend: string}
  | {type: 'phase'; phase: PhaseName; state: 'start' | 'end'; detail?: string}
  | {type: 'progress'; phase: PhaseName; sent: number; done: number; failed: number; outputTokens: number; target: number}
  | {type: 'warning'; warning: ResultWarning}
  | {type: 'server-line'; line: string};

export interface RunExperimentOptions {
  resolved: ResolvedExperiment;
  /** Folder of the experiment file: relative dataset and model paths resolve from here. */
  baseDir: string;
  projectRoot: string;
  /** Absolute folder results are written under (resolved `results_dir`). */
  resultsDir: string;
  /** Dataset cache (`lem datasets fetch`). */
  cacheDir: string;
  /** Where the experiment file was, for the result. */
  experimentFile?: string;
  onEvent?: (event: ExperimentEvent) => void;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  /** Installed plugins, recorded as provenance. */
  plugins?: Array<{name: string; version: string}>;
  /** Wait this long for another lem run to free the devices (default 0: fail at once with E_DEVICE_BUSY). */
  waitForDevicesS?: number;
  /** Folder of the machine-wide device locks (default: $LEM_LOCK_DIR, else <tmpdir>/lem-device-locks). */
  lockDir?: string;
  /** Overrides: RAPL sysfs root, proc root, NVML library (also $LEM_NVML_LIBRARY). */
  meterRoots?: {raplRoot?: string; procRoot?: string; nvmlLibrary?: string};
  /** Where servers run (default: the `runner` setting's, opened for this experiment alone). */
  runner?: Runner;
  /** Asked before persistent containers start (docker.strategy: persistent); absent: refused with E_CONFIRMATION_REQUIRED. */
  confirmPersistent?: (what: PersistentConfirmation) => Promise<boolean>;
  /** Picks the port a server is told to listen on (default: a free one from the kernel). */
  pickPort?: () => Promise<number>;
  /** The run folder's name under `resultsDir` (default: `<name>-<UTC timestamp>`); a campaign names its runs `<configuration>-c<cycle>-t<try>`. */
  runDirName?: string;
  /** Server reuse as the campaign's plan decided it (`reuse_server`); absent: a fresh server, stopped at teardown. */
  reuse?: ReuseRequest;
  /** The campaign this run belongs to, recorded in result.json. */
  campaign?: CampaignContext;
  /** The figures step (default: figures.ts); injectable so that a failing computation can be shown to lose nothing. */
  computeFigures?: typeof import('./figures.js').computeFigures;
}

export interface Run {
  readonly opts: RunExperimentOptions;
  readonly resolved: ResolvedExperiment;
  readonly settings: ResolvedExperiment['settings'];
  readonly t0Ns: bigint;
  readonly anchor: ClockAnchor;
  readonly runDir: string;
  readonly stateDir: string;
  readonly env: NodeJS.ProcessEnv;
  /** Aborted by the caller's signal, or by a server that died mid-run (its reason is the run error). */
  readonly abort: AbortController;
  readonly phases: PhaseRecord[];
  readonly boundaries: Boundary[];
  /** Every request record, all phases, in completion order (also in requests.jsonl). */
  readonly records: RequestRecord[];
  readonly warnings: ResultWarning[];
  readonly requestLog: RequestLog;
  /** Set by the meters step; null when nothing on this host is measured. */
  sampler: Sampler | null;
  /** Why energy is null for this run (remote endpoint, no meter), or null. */
  energyNullReason: string | null;
  /** Next request id (ids follow send order across phases). */
  nextId: number;
  emit(event: ExperimentEvent): void;
  warn(warning: ResultWarning): void;
  /** Keeps a record: in memory for the figures, and in requests.jsonl at once. */
  record(record: RequestRecord): void;
  interruption(): RunError;
}

function timestamp(date = new Date()): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.(\d{3})Z$/, '$1Z');
}

/** Creates the run folder and its request log; nothing has started yet. */
export function openRun(opts: RunExperimentOptions): Run {
  const {settings} = opts.resolved;
  const runDir = join(opts.resultsDir, opts.runDirName ?? `${settings.name}-${timestamp()}`);
  mkdirSync(runDir, {recursive: true});
  const {t0Ns, anchor} = makeAnchor();
  const abort = new AbortController();
  const run: Run = {
    opts,
    resolved: opts.resolved,
    settings,
    t0Ns,
    anchor,
    runDir,
    stateDir: join(opts.projectRoot, '.lem-state'),
    env: opts.env ?? process.env,
    abort,
    phases: [],
    boundaries: [],
    records: [],
    warnings: [],
    requestLog: new RequestLog(join(runDir, RUN_FILES.requests)),
    sampler: null,
    energyNullReason: null,
    nextId: 0,
    emit: (e) => opts.onEvent?.(e),
    warn(w) {
      run.warnings.push(w);
      run.emit({type: 'warning', warning: w});
    },
    record(r) {
      run.records.push(r);
      run.requestLog.append(r);
    },
    interruption: () => runError('E_INTERRUPTED', 'the experiment was interrupted', [`lem experiment ${opts.experimentFile ?? '<file>'} to run it again`], 'interrupted'),
  };
  return run;
}

/** Reads every meter now, as a boundary of the run (nothing when nothing is measured). */
export async function boundary(run: Run, label: string): Promise<Boundary | null> {
  if (!run.sampler) return null;
  const b = await run.sampler.boundary(label);
  run.boundaries.push(b);
  return b;
}

/**
 * Runs one phase between two boundary reads, recording its span. With `manualBoundaries` the
 * body takes its own (the measure phase reads the meters at its first send and last response
 * end); any it did not take is taken when it ends.
 */
export async function phase<T>(run: Run, name: PhaseName, body: () => Promise<T>, options: {manualBoundaries?: boolean; detail?: string} = {}): Promise<T> {
  if (run.abort.signal.aborted) throw abortReason(run);
  run.emit({type: 'phase', phase: name, state: 'start', ...(options.detail ? {detail: options.detail} : {})});
  const startMs = msSince(run.t0Ns);
  if (!options.manualBoundaries) await boundary(run, `${name}:start`);
  try {
    return await body();
  } finally {
    const has = (label: string) => run.boundaries.some((b) => b.label === label);
    if (!has(`${name}:start`)) await boundary(run, `${name}:start`).catch(() => undefined);
    if (!has(`${name}:end`)) await boundary(run, `${name}:end`).catch(() => undefined);
    const endMs = msSince(run.t0Ns);
    run.phases.push({name, startMs, endMs, durationMs: endMs - startMs});
    run.emit({type: 'phase', phase: name, state: 'end'});
  }
}

/** Why the run was aborted: the run error it was aborted with (a dead server), else an interruption. */
export function abortReason(run: Run): RunError {
  const reason = run.abort.signal.reason as unknown;
  return isRunError(reason) ? reason : run.interruption();
}
