/**
 * One attempt of one planned run: the experiment, bounded by `run_timeout_s` and the campaign's
 * signal, with its campaign context recorded in result.json, its server's last lines kept beside
 * it when it fails, and its start and end in the journal.
 */
import {writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {runError, type FailureCategory} from '../errors.js';
import type {ResolvedExperiment} from '../config/resolve.js';
import {runExperiment, type ExperimentOutcome, type RunExperimentOptions} from '../experiment/run.js';
import {crashPoint} from './crash.js';
import type {CampaignEvent} from './events.js';
import {SERVER_LOG} from './results.js';
import type {CampaignStore} from './store.js';
import type {CampaignContext, CampaignPlan, ManifestEntry, PlannedRun} from './types.js';
import type {ReuseRequest, ReusingRunner} from '../runner/reuse.js';

/** What every run of a campaign shares, beyond its own settings. */
export type SharedRunOptions = Omit<RunExperimentOptions, 'resolved' | 'resultsDir' | 'onEvent' | 'signal' | 'runDirName' | 'campaign'>;

export interface AttemptInput {
  store: CampaignStore;
  run: PlannedRun;
  entry: ManifestEntry;
  resolved: ResolvedExperiment;
  shared: SharedRunOptions;
  signal: AbortSignal;
  emit: (event: CampaignEvent) => void;
  etaS: number | null;
  /** Test seam: the experiment (default: the real pipeline). */
  runExperiment?: typeof runExperiment;
}

export interface AttemptOutcome {
  status: 'completed' | 'failed' | 'interrupted';
  category: FailureCategory | null;
  code: string | null;
  message: string | null;
  resultPath: string;
  durationS: number;
  attempt: number;
}

/** Runs one attempt and journals it; never throws for a failed run (the failure is its outcome). */
export async function runAttempt(input: AttemptInput): Promise<AttemptOutcome> {
  const {store, run, entry} = input;
  const plan = store.plan;
  const attempt = entry.attempts + 1;
  // Interrupted tries do not count as attempts but keep their folders: each try has its own.
  const resultPath = `${run.configuration}-c${run.cycle}-t${entry.history.length + 1}`;
  const context: CampaignContext = {
    id: plan.id,
    name: plan.name,
    configuration: run.configuration,
    cycle: run.cycle,
    cycles: plan.cycles.kind === 'fixed' ? plan.cycles.count : plan.cycles.max,
    position: run.position,
    total: plan.runs.length,
    planHash: plan.hash,
    attempt,
  };
  store.record({type: 'run-start', key: run.key, attempt, resultPath});
  const runDir = join(plan.resultsDir, resultPath);
  input.emit({type: 'run-start', run, context, etaS: input.etaS, runDir});
  const started = process.hrtime.bigint();
  const outcome = await experimentWithin(input, context, resultPath);
  const durationS = Number(process.hrtime.bigint() - started) / 1e9;
  if (outcome.error && outcome.status === 'failed') keepServerTail(outcome);
  // A server whose run failed is not handed on: the next run starts its own.
  if (outcome.error && input.run.keepServer) await (input.shared.runner as Partial<ReusingRunner> | undefined)?.release?.();
  crashPoint('after-result-before-journal');
  const status = outcome.error?.category === 'interrupted' ? 'interrupted' : outcome.status;
  const result: AttemptOutcome = {
    status,
    category: outcome.error?.category ?? null,
    code: outcome.error?.code ?? null,
    message: outcome.error?.message ?? null,
    resultPath,
    durationS,
    attempt,
  };
  store.record({type: 'run-end', key: run.key, attempt, status, category: result.category, code: result.code, message: result.message, resultPath, durationS});
  return result;
}

/** The experiment, aborted by the campaign's signal (an interruption) or by `run_timeout_s` (a runtime failure). */
async function experimentWithin(input: AttemptInput, context: CampaignContext, runDirName: string): Promise<ExperimentOutcome> {
  const plan = input.store.plan;
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  input.signal.addEventListener('abort', onAbort, {once: true});
  if (input.signal.aborted) controller.abort();
  const timer = setTimeout(() => {
    controller.abort(runError('E_RUN_TIMEOUT', `the run took longer than run_timeout_s (${plan.runTimeoutS} s)`, ['raise run_timeout_s in the campaign file, or make the workload smaller'], 'runtime'));
  }, plan.runTimeoutS * 1000);
  timer.unref();
  try {
    return await (input.runExperiment ?? runExperiment)({
      ...input.shared,
      resolved: input.resolved,
      resultsDir: plan.resultsDir,
      runDirName,
      campaign: context,
      reuse: reuseOf(plan, input.run),
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === 'phase' && event.phase === 'teardown' && event.state === 'start') crashPoint('in-teardown');
        input.emit({type: 'experiment', key: input.run.key, event});
      },
    });
  } finally {
    clearTimeout(timer);
    input.signal.removeEventListener('abort', onAbort);
  }
}

/** What the plan decided about this run's server (`reuse_server`); absent when it neither takes nor keeps one. */
function reuseOf(plan: CampaignPlan, run: PlannedRun): ReuseRequest | undefined {
  const configuration = plan.configurations.find((c) => c.name === run.configuration)!;
  if (!configuration.serverReused && !run.keepServer) return undefined;
  return {key: configuration.launchKey, take: configuration.serverReused, keep: run.keepServer};
}

/** A failed run keeps its server's last lines as a file beside result.json, for `less`. */
function keepServerTail(outcome: ExperimentOutcome): void {
  const lines = outcome.result.failure?.serverOutput ?? [];
  if (lines.length === 0) return;
  try {
    writeFileSync(join(outcome.runDir, SERVER_LOG), `${lines.slice(-100).join('\n')}\n`);
  } catch {
    // The same lines are in result.json's failure.serverOutput.
  }
}
