/**
 * Running a campaign from its state (DESIGN §7): every planned run in order, each after its gap,
 * retried when its failure is worth it, with the failure threshold and adaptive cycles judged
 * between runs, until the plan is done, the threshold stops it, or a signal interrupts it. Every
 * state change goes to the journal first, so a kill at any instant loses nothing.
 */
import type {ResolvedExperiment} from '../config/resolve.js';
import type {runExperiment} from '../experiment/run.js';
import {join} from 'node:path';
import {crashPoint} from './crash.js';
import {makeCooler, type Cooler} from './cooldown.js';
import {adaptiveCheck, etaS, headerAt, needsRun, retryDue, thresholdCrossed} from './decisions.js';
import {runAttempt, type SharedRunOptions} from './dispatch.js';
import type {CampaignEvent, ThresholdDecision, ThresholdQuestion} from './events.js';
import {findEntry, progressOf} from './manifest.js';
import {campaignReport, readRunResult, writeCampaignReport, type CampaignReport} from './results.js';
import type {CampaignStore} from './store.js';
import type {RunnerSession} from '../runner/session.js';
import {CAMPAIGN_METRICS} from './summary.js';
import type {CampaignStatus, ManifestEntry, PlannedRun} from './types.js';

export interface CampaignRunOptions {
  store: CampaignStore;
  /** Each configuration resolved for running, by name. */
  resolved: Map<string, ResolvedExperiment>;
  shared: SharedRunOptions;
  /** The runner every run uses (from startCampaign/resumeCampaign); closed when the campaign ends, however it ends. */
  session?: RunnerSession;
  onEvent?: (event: CampaignEvent) => void;
  signal?: AbortSignal;
  /** Asked when the failure threshold is crossed; absent (no TTY), the campaign stops resumably. */
  decideThreshold?: (question: ThresholdQuestion) => Promise<ThresholdDecision>;
  /** Resume: re-run failed entries (except category `config`). Default true. */
  retryFailed?: boolean;
  resumed?: boolean;
  notes?: string[];
  /** Test seam: the experiment (default: the real pipeline). */
  runExperiment?: typeof runExperiment;
  /** NVML library for the cool-down's temperature reads (default: $LEM_NVML_LIBRARY, else the system's). */
  nvmlLibrary?: string;
}

export interface CampaignOutcome {
  status: CampaignStatus;
  reason: string | null;
  /** 0 all completed, 1 some failed, 3 stopped at the threshold, 130 interrupted. */
  exitCode: 0 | 1 | 3 | 130;
  report: CampaignReport;
  summaryPath: string;
  stateDir: string;
}

export async function runCampaign(opts: CampaignRunOptions): Promise<CampaignOutcome> {
  try {
    return await runCampaignWith(opts.session ? {...opts, shared: {...opts.shared, runner: opts.session.runner}} : opts);
  } finally {
    await opts.session?.close();
  }
}

async function runCampaignWith(opts: CampaignRunOptions): Promise<CampaignOutcome> {
  const {store} = opts;
  const emit = campaignEmitter(store, opts.onEvent);
  const signal = opts.signal ?? new AbortController().signal;
  const {cooler, note} = makeCooler(store.plan, opts.nvmlLibrary ?? process.env.LEM_NVML_LIBRARY);
  beginCampaign(opts, emit, note ? [note] : []);
  const stop = await runSequence({...opts, cooler}, emit, signal);
  return endCampaign(store, stop ?? {status: 'completed', reason: null}, emit);
}

/** Every event to campaign.log (failures as warnings), then to the caller. */
export function campaignEmitter(store: CampaignStore, onEvent: CampaignRunOptions['onEvent']): (event: CampaignEvent) => void {
  return (event) => {
    store.log(event.type === 'run-end' && event.status === 'failed' ? 'warn' : 'debug', describeEvent(event));
    onEvent?.(event);
  };
}

/** The campaign starts (or resumes): journaled, then told. */
export function beginCampaign(opts: CampaignRunOptions, emit: (event: CampaignEvent) => void, notes: string[]): void {
  const {store} = opts;
  store.record({type: 'campaign-start', resumed: Boolean(opts.resumed)});
  emit({type: 'campaign-start', plan: store.plan, resumed: Boolean(opts.resumed), notes: [...(opts.notes ?? []), ...notes], stateDir: store.dir});
}

/** The campaign ends however it ends: journaled, progress and the summary files written, the outcome with its exit code. */
export function endCampaign(store: CampaignStore, final: {status: CampaignStatus; reason: string | null}, emit: (event: CampaignEvent) => void): CampaignOutcome {
  store.record({type: 'campaign-end', status: final.status, reason: final.reason});
  store.writeProgress(progressOf(store.plan, store.manifest, null, 0));
  emit({type: 'campaign-end', status: final.status, reason: final.reason});
  const report = campaignReport(store.plan, store.manifest);
  const summaryPath = writeCampaignReport(store.plan, report);
  return {status: final.status, reason: final.reason, exitCode: exitCodeOf(final, report), report, summaryPath, stateDir: store.dir};
}

function exitCodeOf(final: {status: CampaignStatus; reason: string | null}, report: CampaignReport): CampaignOutcome['exitCode'] {
  if (final.status === 'interrupted') return 130;
  if (final.status === 'stopped') return 3;
  return (report.counts.failed ?? 0) > 0 ? 1 : 0;
}

/**
 * Inside a Slurm job (DESIGN §10) the sequence is one cycle's runs: the first waits what the node
 * still owes its GPUs (`firstGapS`), a stop file ends dispatch between runs, and the threshold
 * and adaptive cycles are judged by the orchestrator, across jobs, not here.
 */
export interface InJob {
  firstGapS: number;
  stopRequested: () => boolean;
}

export type Running = CampaignRunOptions & {cooler: Cooler | null; inJob?: InJob};
export type Stop = {status: CampaignStatus; reason: string | null} | null;

/** The runs in plan order; returns why it stopped early, or null when the plan is done. */
export async function runSequence(opts: Running, emit: (e: CampaignEvent) => void, signal: AbortSignal): Promise<Stop> {
  const {store} = opts;
  const plan = store.plan;
  let previous: PlannedRun | null = null;
  let ranOne = false;
  for (const run of plan.runs) {
    if (signal.aborted) return {status: 'interrupted', reason: 'interrupted'};
    const entry = findEntry(store.manifest, run.key)!;
    if (!needsRun(entry, opts.retryFailed ?? true)) continue;
    if (headerAt(plan, run, previous)) emit({type: 'cycle', cycle: run.cycle, cycles: plan.cycles.kind === 'fixed' ? plan.cycles.count : plan.cycles.max, configuration: plan.order === 'grouped' ? run.configuration : null});
    previous = run;
    if (!(await gapBefore(opts, run, ranOne, emit, signal))) return {status: 'interrupted', reason: 'interrupted'};
    if (opts.cooler && (ranOne || (opts.inJob?.firstGapS ?? 0) > 0) && !(await coolDown(opts.cooler, run.key, emit, signal))) return {status: 'interrupted', reason: 'interrupted'};
    // Looked at last, just before the run: a pause asked for during the gap is honoured.
    if (opts.inJob?.stopRequested()) return {status: 'stopped', reason: 'the orchestrator asked the job to stop'};
    ranOne = true;
    const stop = await runWithRetries(opts, run, emit, signal);
    if (stop) return stop;
  }
  return null;
}

/** The planned gap before a run; the first run of a session follows a pause of unknown length, and its planned gap still applies (in a job: what the node still owes). False when interrupted. */
function gapBefore(opts: Running, run: PlannedRun, ranOne: boolean, emit: (e: CampaignEvent) => void, signal: AbortSignal): Promise<boolean> {
  if (!ranOne && opts.inJob) return gap(opts.inJob.firstGapS, 'cycles', run.key, emit, signal);
  if (run.gapBeforeS > 0 && (ranOne || run.position > 1)) return gap(run.gapBeforeS, run.gapKind, run.key, emit, signal);
  return Promise.resolve(!signal.aborted);
}

/** One planned run: its attempts, then the threshold and adaptive judgements it may trigger. */
async function runWithRetries(opts: Running, run: PlannedRun, emit: (e: CampaignEvent) => void, signal: AbortSignal): Promise<Stop> {
  const {store} = opts;
  const plan = store.plan;
  for (;;) {
    const entry = findEntry(store.manifest, run.key)!;
    const eta = etaS(plan, store.manifest, run.position);
    store.writeProgress(progressOf(plan, store.manifest, current(run, entry), eta));
    const outcome = await runAttempt({store, run, entry, resolved: opts.resolved.get(run.configuration)!, shared: opts.shared, signal, emit, etaS: eta, runExperiment: opts.runExperiment});
    const after = findEntry(store.manifest, run.key)!;
    const willRetry = outcome.status === 'failed' && retryDue(after, plan.retry.maxAttempts) && !signal.aborted;
    emit({type: 'run-end', run, attempt: outcome.attempt, status: outcome.status, category: outcome.category, code: outcome.code, message: outcome.message, runDir: join(plan.resultsDir, outcome.resultPath), durationS: outcome.durationS, willRetry, adopted: false});
    store.writeProgress(progressOf(plan, store.manifest, null, etaS(plan, store.manifest, run.position + 1)));
    if (outcome.status === 'interrupted') return {status: 'interrupted', reason: 'interrupted'};
    if (willRetry) {
      if (!(await gap(plan.gaps.betweenExperimentsS, 'retry', run.key, emit, signal))) return {status: 'interrupted', reason: 'interrupted'};
      continue;
    }
    if (opts.inJob) return null;
    return (await judgeThreshold(opts, after, emit, signal)) ?? judgeAdaptive(opts, run, emit);
  }
}

function current(run: PlannedRun, entry: ManifestEntry) {
  return {key: run.key, configuration: run.configuration, cycle: run.cycle, position: run.position, attempt: entry.attempts + 1};
}

/** Waits out a gap (a countdown for the display); false when interrupted. */
async function gap(seconds: number, kind: PlannedRun['gapKind'] | 'retry', before: string, emit: (e: CampaignEvent) => void, signal: AbortSignal): Promise<boolean> {
  if (seconds <= 0) return !signal.aborted;
  emit({type: 'gap', seconds, kind, before, endsAtMs: Date.now() + seconds * 1000});
  const half = setTimeout(() => crashPoint('in-gap'), (seconds * 1000) / 2);
  try {
    return await sleep(seconds * 1000, signal);
  } finally {
    clearTimeout(half);
  }
}

/** After the timed gap: until the GPUs are back near their starting temperature (bounded); false when interrupted. */
async function coolDown(cooler: Cooler, before: string, emit: (e: CampaignEvent) => void, signal: AbortSignal): Promise<boolean> {
  const result = await cooler.wait(signal);
  emit({type: 'cooldown', before, idleC: cooler.idleC, result});
  return !signal.aborted;
}

/** Resolves true after `ms`, false as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const done = (value: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(value);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener('abort', onAbort, {once: true});
  });
}

/** Past the threshold: asks continue (disarms that scope) or stop; no answer, or no one to ask, stops resumably. */
export async function judgeThreshold(opts: Pick<CampaignRunOptions, 'store' | 'decideThreshold' | 'retryFailed'>, entry: ManifestEntry, emit: (e: CampaignEvent) => void, signal: AbortSignal): Promise<Stop> {
  const {store} = opts;
  const crossed = thresholdCrossed(store.plan, store.manifest, entry);
  // Past the last run there is nothing to pause: the campaign ends (exit 1), not stopped.
  if (!crossed || !anythingLeft(store, entry.position, opts.retryFailed ?? true)) return null;
  const {ratio: threshold, promptTimeoutS} = store.plan.failureThreshold;
  crashPoint('in-threshold-prompt');
  const decision = opts.decideThreshold ? await askWithin(opts.decideThreshold, {...crossed, threshold, timeoutS: promptTimeoutS, signal}, promptTimeoutS) : 'stop';
  store.record({type: 'threshold', scope: crossed.scope, failed: crossed.failed, finished: crossed.finished, decision});
  emit({type: 'threshold', ...crossed, decision});
  if (signal.aborted) return {status: 'interrupted', reason: 'interrupted'};
  return decision === 'stop' ? {status: 'stopped', reason: `failure threshold: ${crossed.failed} of ${crossed.finished} runs failed in scope ${crossed.scope} (> ${threshold * 100} %)`} : null;
}

function anythingLeft(store: CampaignStore, after: number, retryFailed: boolean): boolean {
  return store.manifest.entries.some((e) => e.position > after && needsRun(e, retryFailed));
}

async function askWithin(ask: NonNullable<CampaignRunOptions['decideThreshold']>, question: ThresholdQuestion, timeoutS: number): Promise<ThresholdDecision> {
  const controller = new AbortController();
  const onOuter = () => controller.abort();
  question.signal.addEventListener('abort', onOuter, {once: true});
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ThresholdDecision>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve('stop');
    }, timeoutS * 1000);
  });
  try {
    return await Promise.race([ask({...question, signal: controller.signal}).catch((): ThresholdDecision => 'stop'), timeout]);
  } finally {
    clearTimeout(timer);
    question.signal.removeEventListener('abort', onOuter);
    controller.abort();
  }
}

/** Adaptive cycles: at a cycle boundary ≥ min, skip the remaining conditional runs once every CI is narrow enough. */
export function judgeAdaptive(opts: Pick<CampaignRunOptions, 'store'>, run: PlannedRun, emit: (e: CampaignEvent) => void): Stop {
  const {store} = opts;
  const plan = store.plan;
  if (plan.cycles.kind !== 'adaptive') return null;
  const metric = CAMPAIGN_METRICS.find((m) => m.id === (plan.cycles as {metric: string}).metric)!;
  const check = adaptiveCheck(plan, store.manifest, run.cycle, (e) => {
    const metrics = e.resultPath ? readRunResult(join(plan.resultsDir, e.resultPath))?.metrics : null;
    return metrics ? metric.get(metrics) : null;
  });
  if (!check) return null;
  store.record({type: 'adaptive', cycle: run.cycle, configurations: check.configurations});
  if (!check.done) return null;
  const keys = store.manifest.entries.filter((e) => e.cycle > run.cycle && (e.status === 'pending' || e.status === 'interrupted')).map((e) => e.key);
  if (keys.length === 0) return null;
  const reason = `every configuration's 95 % CI of ${metric.id} is within ${plan.cycles.targetCiPct} % of its mean after cycle ${run.cycle}`;
  store.record({type: 'skip', keys, reason});
  emit({type: 'skip', keys, reason});
  return null;
}

/** One line of campaign.log per event (the log is always at debug level). */
function describeEvent(event: CampaignEvent): string {
  switch (event.type) {
    case 'experiment':
      return `${event.key} ${JSON.stringify(event.event)}`;
    case 'campaign-start':
      return `campaign ${event.plan.id} ${event.resumed ? 'resumed' : 'started'}: ${event.plan.runs.length} runs, ${event.plan.configurations.length} configurations${event.notes.length ? `; ${event.notes.join('; ')}` : ''}`;
    default: {
      const {type, ...rest} = event as Exclude<CampaignEvent, {type: 'experiment' | 'campaign-start'}>;
      return `${type} ${JSON.stringify(rest)}`;
    }
  }
}
