/**
 * The Slurm executor's orchestrator (DESIGN §10), on the submit host: one batch job per cycle,
 * submitted with `sbatch` (at most `max_concurrent` at once, the rest chained with
 * `--dependency=afterany`), followed with `squeue` / `scontrol` / `sacct`, each job's journal
 * merged into the campaign's as it grows, and each ended job settled: runs it left unfinished get
 * the category its end deserves (a time limit, a bad node, a failed setup line), and what remains
 * of the cycle goes to a new job under the campaign's retry rules. Every job id is journaled the
 * moment sbatch answers, so a kill of this process loses nothing: resume finds every job again.
 */
import {mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import type {FailureCategory} from '../errors.js';
import {etaS, isFinal, needsRun, retryDue, thresholdCrossed} from '../campaign/decisions.js';
import type {CampaignEvent} from '../campaign/events.js';
import {findEntry, progressOf} from '../campaign/manifest.js';
import {beginCampaign, campaignEmitter, endCampaign, judgeAdaptive, judgeThreshold, sleep, type CampaignOutcome, type CampaignRunOptions, type Stop} from '../campaign/orchestrate.js';
import {campaignReport, writeCampaignReport} from '../campaign/results.js';
import type {CampaignStore} from '../campaign/store.js';
import type {JobRecord, JournalEvent, JournalLine, ManifestEntry} from '../campaign/types.js';
import {STOP_FILE} from './job.js';
import {readJobJournal} from './job-store.js';
import {isActive, slurmCommands, type JobState, type SlurmCommands} from './queue.js';
import {JOBS_DIR, jobName, jobScriptPath, jobSubmission, SETUP_FAILED_EXIT, SETUP_FAILED_MARK} from './script.js';

export interface SlurmCampaignOptions extends CampaignRunOptions {
  /** Where jobs start lem (`--chdir`): the project root, on the shared file system. */
  projectRoot: string;
  /** Submit what can be submitted, then return: `lem resume` follows the jobs later. */
  detach?: boolean;
  /** Test and benchmark seam: Slurm's commands (default: sbatch, squeue, scontrol, sacct, scancel on PATH). */
  commands?: SlurmCommands;
  env?: NodeJS.ProcessEnv;
}

export type SlurmOutcome = CampaignOutcome & {detached: boolean};

/** How long an interrupt waits for cancelled jobs to leave the queue: Slurm's KillWait (30 s by default) twice, and some. */
const CANCEL_WAIT_MS = 90_000;

export async function runSlurmCampaign(opts: SlurmCampaignOptions): Promise<SlurmOutcome> {
  const {store} = opts;
  const emit = campaignEmitter(store, opts.onEvent);
  const signal = opts.signal ?? new AbortController().signal;
  const follower = new JobFollower(opts, emit, opts.commands ?? slurmCommands(opts.env));
  beginCampaign(opts, emit, []);
  const stop = await follower.run(signal, Boolean(opts.detach));
  if (stop === 'detached') {
    follower.writeProgress();
    const report = campaignReport(store.plan, store.manifest);
    return {status: 'running', reason: 'detached', exitCode: 0, report, summaryPath: writeCampaignReport(store.plan, report), stateDir: store.dir, detached: true};
  }
  return {...endCampaign(store, stop ?? {status: 'completed', reason: null}, emit), detached: false};
}

/**
 * Looks at the jobs once, without submitting anything: merges their journals, records their
 * states, settles the ended ones (`lem campaign status` on a campaign no lem is following).
 */
export async function syncSlurmCampaign(store: CampaignStore, commands: SlurmCommands = slurmCommands()): Promise<void> {
  // Nothing is submitted nor judged here: no project root, no one to ask.
  const follower = new JobFollower({store, projectRoot: ''}, () => undefined, commands);
  await follower.adoptUnknown();
  await follower.sync();
  follower.writeProgress();
}

/** What an ended job means for the runs it left unfinished. */
interface Settlement {
  status: 'failed' | 'interrupted';
  category: FailureCategory;
  code: string;
  message: string;
  /** An `interrupted` run-end the job wrote as it was killed is re-read as this failure (a time limit is a failure, not a Ctrl+C). */
  reclassify: boolean;
  /** Runs the job never started fail too (a setup line that fails fails every run of the cycle). */
  failsPending: boolean;
}

/** What following the jobs needs of the campaign's options. */
type FollowOptions = Pick<SlurmCampaignOptions, 'store' | 'projectRoot' | 'decideThreshold' | 'retryFailed'>;

class JobFollower {
  /** lem cancelled these (Ctrl+C, a threshold stop): CANCELLED means interrupted, not failed. */
  private readonly cancelledByLem = new Set<string>();
  /** Entries given to a job in this session: a failed one is not re-run again unless a retry is due. */
  private readonly dispatched = new Set<string>();
  /** Runs settled (completed or failed) since the threshold was last judged. */
  private settledKeys: string[] = [];
  /** Jobs held while the threshold question is open. */
  private held: string[] = [];
  /** The last cycle up to which every run was settled when adaptive cycles were judged. */
  private adaptiveAt = 0;
  private stopping: Stop = null;

  constructor(
    private readonly opts: FollowOptions,
    private readonly emit: (event: CampaignEvent) => void,
    private readonly q: SlurmCommands,
  ) {}

  private get store(): CampaignStore {
    return this.opts.store;
  }

  private get jobsDir(): string {
    return join(this.store.dir, JOBS_DIR);
  }

  async run(signal: AbortSignal, detach: boolean): Promise<Stop | 'detached'> {
    mkdirSync(this.jobsDir, {recursive: true});
    rmSync(join(this.jobsDir, STOP_FILE), {force: true});
    await this.adoptUnknown();
    await this.sync();
    this.settleOrphans();
    for (;;) {
      if (signal.aborted) return this.interrupt();
      await this.judge(signal);
      if (signal.aborted) return this.interrupt();
      if (!this.stopping) await this.submitReady();
      this.writeProgress();
      if (detach) return 'detached';
      if (this.activeJobs().length === 0) return this.stopping;
      if (!(await sleep(this.store.plan.slurm!.pollS * 1000, signal))) continue;
      await this.sync();
    }
  }

  writeProgress(): void {
    const {plan, manifest} = this.store;
    this.store.writeProgress(progressOf(plan, manifest, null, Math.round(etaS(plan, manifest, 1) / Math.max(1, plan.slurm?.maxConcurrent ?? 1))));
  }

  private activeJobs(): JobRecord[] {
    return this.store.manifest.jobs.filter((j) => j.endedAt === null);
  }

  // -------------------------------------------------------------------------------------------
  // Following

  /** One look at every active job: its journal merged, its state recorded, the ended ones settled. */
  async sync(): Promise<void> {
    const active = this.activeJobs();
    if (active.length === 0) return;
    const states = await this.q.states(active.map((j) => j.id));
    const changes: Array<Extract<JournalEvent, {type: 'job-state'}>> = [];
    const ended: JobState[] = [];
    for (const job of active) {
      const state = states.get(job.id) ?? {id: job.id, state: 'UNKNOWN', node: null, reason: null, exitCode: null};
      if (!isActive(state.state)) ended.push(state);
      else if (job.state !== state.state || job.node !== (state.node ?? job.node) || job.reason !== state.reason) {
        changes.push({type: 'job-state', id: job.id, state: state.state, node: state.node, reason: state.reason, exitCode: state.exitCode, ended: false});
      }
    }
    this.store.recordAll(changes);
    for (const change of changes) this.emit({type: 'job', job: this.job(change.id), change: 'state'});
    const endedIds = new Set(ended.map((s) => s.id));
    for (const job of active) if (!endedIds.has(job.id)) this.merge(job.id);
    for (const state of ended) this.finalize(state.id, state);
  }

  private job(id: string): JobRecord {
    return this.store.manifest.jobs.find((j) => j.id === id)!;
  }

  /** The job's journal lines not merged yet, into the campaign's journal, each tagged with where it came from. */
  private merge(id: string): void {
    const job = this.job(id);
    for (const line of readJobJournal(join(this.jobsDir, `${id}.jsonl`), job.merged)) {
      if (line.seq <= this.job(id).merged) continue;
      const event = mergeable(line, id);
      if (!event) continue;
      this.store.record(event);
      this.tell(event, job);
    }
  }

  private tell(event: JournalEvent, job: JobRecord): void {
    const plan = this.store.plan;
    if (event.type !== 'run-start' && event.type !== 'run-end') return;
    const run = plan.runs.find((r) => r.key === event.key);
    if (!run) return;
    const runDir = join(plan.resultsDir, event.resultPath);
    if (event.type === 'run-start') {
      this.emit({type: 'job-run', jobId: job.id, node: this.job(job.id).node, run, attempt: event.attempt, runDir});
      return;
    }
    const entry = findEntry(this.store.manifest, event.key)!;
    const willRetry = event.status === 'failed' && retryDue(entry, plan.retry.maxAttempts);
    if (event.status !== 'interrupted') this.settledKeys.push(event.key);
    this.emit({type: 'run-end', run, attempt: event.attempt, status: event.status, category: event.category, code: event.code, message: event.message, runDir, durationS: event.durationS, willRetry, adopted: false});
  }

  /** An ended job: the rest of its journal merged, its unfinished runs settled, then it is done with. */
  private finalize(id: string, state: JobState): void {
    this.merge(id);
    const job = this.job(id);
    const settlement = this.settlement(job, state);
    for (const key of job.keys) {
      const entry = findEntry(this.store.manifest, key);
      if (entry) this.settleEntry(job, entry, settlement);
    }
    this.store.record({type: 'job-state', id, state: state.state, node: state.node ?? job.node, reason: state.reason, exitCode: state.exitCode, ended: true});
    this.emit({type: 'job', job: this.job(id), change: 'ended'});
  }

  private settleEntry(job: JobRecord, entry: ManifestEntry, s: Settlement): void {
    const last = entry.history.at(-1);
    const end = (attempt: number, resultPath: string) =>
      this.store.record({type: 'run-end', key: entry.key, attempt, status: s.status, category: s.category, code: s.code, message: s.message, resultPath, durationS: 0});
    const cutHere = entry.status === 'interrupted' && s.reclassify && entry.endedAt !== null && entry.endedAt >= job.submittedAt;
    if ((entry.status === 'running' || cutHere) && last) {
      end(last.attempt, last.resultPath ?? '');
      this.tellSettled(entry.key, s, last.attempt, last.resultPath ?? '');
    } else if (entry.status === 'pending' && s.failsPending) {
      const attempt = entry.attempts + 1;
      const resultPath = `${entry.configuration}-c${entry.cycle}-t${entry.history.length + 1}`;
      this.store.record({type: 'run-start', key: entry.key, attempt, resultPath});
      end(attempt, resultPath);
      this.tellSettled(entry.key, s, attempt, resultPath);
    }
  }

  private tellSettled(key: string, s: Settlement, attempt: number, resultPath: string): void {
    const plan = this.store.plan;
    const run = plan.runs.find((r) => r.key === key)!;
    const entry = findEntry(this.store.manifest, key)!;
    if (s.status === 'failed') this.settledKeys.push(key);
    this.emit({type: 'run-end', run, attempt, status: s.status, category: s.category, code: s.code, message: s.message, runDir: join(plan.resultsDir, resultPath), durationS: 0, willRetry: s.status === 'failed' && retryDue(entry, plan.retry.maxAttempts), adopted: false});
  }

  private settlement(job: JobRecord, state: JobState): Settlement {
    const where = `job ${job.id}${state.node ?? job.node ? ` on ${state.node ?? job.node}` : ''}`;
    const fail = (category: FailureCategory, code: string, message: string, reclassify = true, failsPending = false): Settlement => ({status: 'failed', category, code, message, reclassify, failsPending});
    switch (state.state) {
      case 'TIMEOUT':
      case 'DEADLINE':
        return fail('runtime', 'E_SLURM_TIMEOUT', `${where} reached its time limit (slurm.time_limit: ${this.store.plan.slurm?.timeLimit ?? "the partition's default"})`);
      case 'NODE_FAIL':
      case 'BOOT_FAIL':
        return fail('resource', 'E_SLURM_NODE_FAIL', `${where} ended with ${state.state}: the node failed`);
      case 'OUT_OF_MEMORY':
        return fail('resource', 'E_SLURM_OOM', `${where} ran out of memory (add --mem=… to slurm.extra_args)`);
      case 'PREEMPTED':
        return {status: 'interrupted', category: 'interrupted', code: 'E_SLURM_PREEMPTED', message: `${where} was preempted`, reclassify: false, failsPending: false};
      case 'CANCELLED':
        if (this.cancelledByLem.has(job.id)) return {status: 'interrupted', category: 'interrupted', code: 'E_INTERRUPTED', message: `${where} was cancelled by lem`, reclassify: false, failsPending: false};
        return fail('runtime', 'E_SLURM_CANCELLED', `${where} was cancelled outside lem (scancel)`);
      case 'UNKNOWN':
        return fail('resource', 'E_SLURM_JOB_LOST', `${where}: Slurm no longer knows the job and its journal does not say how its runs ended`);
      default:
        if (state.exitCode === SETUP_FAILED_EXIT) return fail('config', 'E_SLURM_SETUP', this.setupFailure(job), false, true);
        return fail('runtime', 'E_SLURM_JOB_FAILED', `${where} ended (${state.state}, exit ${state.exitCode ?? '?'}) while this run was unfinished${this.outputTail(job.id)}`, false);
    }
  }

  /** The setup line that failed, as the job's script wrote it to the job's output. */
  private setupFailure(job: JobRecord): string {
    const line = this.output(job.id).split('\n').find((l) => l.startsWith(SETUP_FAILED_MARK));
    return `${line ?? `a slurm.setup line failed (exit ${SETUP_FAILED_EXIT})`} (job ${job.id}; output ${join(this.jobsDir, `${job.id}.out`)})`;
  }

  private output(id: string): string {
    try {
      return readFileSync(join(this.jobsDir, `${id}.out`), 'utf8');
    } catch {
      return '';
    }
  }

  private outputTail(id: string): string {
    const lines = this.output(id).trimEnd().split('\n').filter(Boolean).slice(-3);
    return lines.length > 0 ? `: ${lines.join(' | ')}` : '';
  }

  // -------------------------------------------------------------------------------------------
  // Finding jobs again

  /**
   * Jobs of this campaign the manifest does not name: one whose submission a kill cut between
   * sbatch's answer and the journal (found by its name in squeue), or one whose journal is in
   * the jobs folder. Each is recorded, then followed like any other.
   */
  async adoptUnknown(): Promise<void> {
    const known = new Set(this.store.manifest.jobs.map((j) => j.id));
    const plan = this.store.plan;
    const cycles = [...new Set(plan.runs.map((r) => r.cycle))];
    const byName = new Map(cycles.map((c) => [jobName(plan, c), c]));
    const queued = this.q.byName ? await this.q.byName([...byName.keys()]) : [];
    for (const {id, name} of queued) {
      if (known.has(id) || !byName.has(name)) continue;
      const cycle = byName.get(name)!;
      this.record({type: 'job-submit', id, cycle, keys: this.store.manifest.entries.filter((e) => e.cycle === cycle && !isFinal(e)).map((e) => e.key)});
      known.add(id);
    }
    for (const id of journalIds(this.jobsDir).filter((x) => !known.has(x))) {
      const keys = [...new Set(readJobJournal(join(this.jobsDir, `${id}.jsonl`), 0).flatMap((l) => ('key' in l && typeof l.key === 'string' ? [l.key] : [])))];
      const cycle = keys.length > 0 ? findEntry(this.store.manifest, keys[0]!)?.cycle : undefined;
      if (cycle !== undefined) this.record({type: 'job-submit', id, cycle, keys});
    }
  }

  /** Entries left `running` that no active job holds (a lem killed before its job was journaled): interrupted, to run again. */
  private settleOrphans(): void {
    const held = new Set(this.activeJobs().flatMap((j) => j.keys));
    for (const entry of this.store.manifest.entries) {
      if (entry.status !== 'running' || held.has(entry.key)) continue;
      const last = entry.history.at(-1);
      this.store.record({type: 'run-end', key: entry.key, attempt: last?.attempt ?? entry.attempts + 1, status: 'interrupted', category: 'interrupted', code: 'E_INTERRUPTED', message: 'lem stopped during this run', resultPath: last?.resultPath ?? '', durationS: 0});
    }
  }

  private record(event: Extract<JournalEvent, {type: 'job-submit'}>): void {
    this.store.record(event);
    this.emit({type: 'job', job: this.job(event.id), change: 'submitted'});
  }

  // -------------------------------------------------------------------------------------------
  // Submitting

  /** A job for every cycle that has runs to do and no job yet; conditional (adaptive) cycles once every earlier cycle is settled. */
  private async submitReady(): Promise<void> {
    const plan = this.store.plan;
    const busy = new Set(this.activeJobs().map((j) => j.cycle));
    const cycles: number[] = [];
    for (const run of plan.runs) if (!cycles.includes(run.cycle)) cycles.push(run.cycle);
    for (const cycle of cycles) {
      if (busy.has(cycle)) continue;
      const keys = plan.runs.filter((r) => r.cycle === cycle && this.wanted(findEntry(this.store.manifest, r.key)!)).map((r) => r.key);
      if (keys.length === 0) continue;
      if (plan.runs.some((r) => r.cycle === cycle && r.conditional) && this.store.manifest.entries.some((e) => e.cycle < cycle && !isFinal(e))) continue;
      await this.submit(cycle, keys);
    }
  }

  private wanted(entry: ManifestEntry): boolean {
    if (entry.status === 'failed') return retryDue(entry, this.store.plan.retry.maxAttempts) || ((this.opts.retryFailed ?? true) && !this.dispatched.has(entry.key) && entry.category !== 'config');
    return needsRun(entry, false);
  }

  private async submit(cycle: number, keys: string[]): Promise<void> {
    const plan = this.store.plan;
    const submission = jobSubmission({plan, cycle, keys, stateDir: this.store.dir, projectRoot: this.opts.projectRoot});
    const active = this.activeJobs();
    const max = plan.slurm!.maxConcurrent;
    // Job i waits for job i − max_concurrent: Slurm itself keeps at most max_concurrent running, with or without lem.
    const after = active.length >= max ? active[active.length - max]!.id : null;
    const script = jobScriptPath(this.store.dir, cycle, this.store.manifest.jobs.filter((j) => j.cycle === cycle).length + 1);
    writeFileSync(script, submission.script, {mode: 0o755});
    const id = await this.q.submit([...submission.args, ...(after ? [`--dependency=afterany:${after}`] : [])], script);
    this.record({type: 'job-submit', id, cycle, keys, after});
    for (const key of keys) this.dispatched.add(key);
  }

  // -------------------------------------------------------------------------------------------
  // The threshold and adaptive cycles, across jobs

  private async judge(signal: AbortSignal): Promise<void> {
    this.judgeAdaptive();
    const keys = this.settledKeys;
    this.settledKeys = [];
    if (this.stopping) return;
    const {plan} = this.store;
    for (const key of keys) {
      const entry = findEntry(this.store.manifest, key)!;
      if (!isFinal(entry) || retryDue(entry, plan.retry.maxAttempts) || !thresholdCrossed(plan, this.store.manifest, entry)) continue;
      await this.pause();
      const stop = await judgeThreshold(this.opts, entry, this.emit, signal);
      if (stop?.status === 'stopped') {
        this.stopping = stop;
        const queued = this.held;
        for (const id of queued) this.cancelledByLem.add(id);
        await this.q.cancel(queued);
      } else await this.unpause();
      return;
    }
  }

  /** A threshold pause: no job starts another run (the stop file), and queued jobs are held. */
  private async pause(): Promise<void> {
    writeFileSync(join(this.jobsDir, STOP_FILE), `${new Date().toISOString()}\n`);
    this.held = this.activeJobs().filter((j) => j.state === 'PENDING' || j.state === 'SUBMITTED').map((j) => j.id);
    await this.q.hold(this.held);
  }

  private async unpause(): Promise<void> {
    rmSync(join(this.jobsDir, STOP_FILE), {force: true});
    await this.q.release(this.held);
    this.held = [];
  }

  /** Adaptive cycles: once every cycle up to c is settled, whether the CIs are narrow enough to skip the rest. */
  private judgeAdaptive(): void {
    const plan = this.store.plan;
    if (plan.cycles.kind !== 'adaptive') return;
    let settled = 0;
    for (let c = 1; c <= plan.cycles.max; c++) {
      const cycle = this.store.manifest.entries.filter((e) => e.cycle === c);
      // A cycle skipped by an earlier judgement is settled but ran nothing: nothing to judge again.
      if (cycle.some((e) => !isFinal(e)) || cycle.every((e) => e.status === 'skipped')) break;
      settled = c;
    }
    if (settled <= this.adaptiveAt) return;
    this.adaptiveAt = settled;
    const run = plan.runs.filter((r) => r.cycle === settled).at(-1);
    if (run) judgeAdaptive(this.opts, run, this.emit);
  }

  // -------------------------------------------------------------------------------------------
  // Interrupting

  /** Ctrl+C: every queued and running job cancelled, and followed until Slurm lets it go (bounded), so its runs end journaled. */
  private async interrupt(): Promise<Stop> {
    const active = this.activeJobs().map((j) => j.id);
    for (const id of active) this.cancelledByLem.add(id);
    await this.q.cancel(active).catch(() => undefined);
    const deadline = Date.now() + CANCEL_WAIT_MS;
    while (this.activeJobs().length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      await this.sync().catch(() => undefined);
    }
    return {status: 'interrupted', reason: 'interrupted'};
  }
}

/** A job's journal line as a campaign journal event, tagged with its origin; only runs and gaps travel. */
function mergeable(line: JournalLine, id: string): JournalEvent | null {
  if (line.type !== 'run-start' && line.type !== 'run-end' && line.type !== 'gap') return null;
  const {seq, at: _at, ...event} = line;
  return {...event, job: {id, line: seq}} as JournalEvent;
}

/** Job ids with a journal in the jobs folder. */
function journalIds(dir: string): string[] {
  try {
    return readdirSync(dir).flatMap((name) => (/^\d+\.jsonl$/.test(name) ? [name.slice(0, -'.jsonl'.length)] : []));
  } catch {
    return [];
  }
}
