/**
 * Inside one Slurm job (DESIGN §10): `lem campaign job <state dir> --cycle N --runs …` runs that
 * cycle's runs in plan order on this node, from the campaign's plan snapshot, with the same
 * pipeline, gaps and retries as a local campaign, writing run folders into the campaign's
 * results folder and events into the job's own journal. Whatever stops the job before a run
 * can start (another lem version, a changed file, a GPU the job lacks, an image missing on the
 * node) fails the job's runs as `config`, journaled, so the orchestrator sees why.
 */
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {hostname} from 'node:os';
import {basename, dirname, join} from 'node:path';
import {configError, isCodedError, isRunError, type FailureCategory} from '../errors.js';
import type {LoadedFile} from '../config/yaml-file.js';
import type {Registry} from '../registry.js';
import {VERSION} from '../version.js';
import {makeCooler} from '../campaign/cooldown.js';
import {findEntry} from '../campaign/manifest.js';
import {runSequence, type Stop} from '../campaign/orchestrate.js';
import {planCampaign, type Planned} from '../campaign/plan.js';
import {diffPlans, openCampaignRunner} from '../campaign/start.js';
import {openCampaignState} from '../campaign/store.js';
import type {CampaignEvent} from '../campaign/events.js';
import type {CampaignPlan} from '../campaign/types.js';
import type {RunnerSession} from '../runner/session.js';
import {probeNvml} from '../meters/nvml.js';
import {jobGpuIndices, mapJobGpus} from './gpus.js';
import {JobStore} from './job-store.js';
import {JOBS_DIR} from './script.js';

/** The file whose presence tells every job of the campaign to start no further run (a threshold pause). */
export const STOP_FILE = 'stop';
/** Per node, when a lem job last ended there: the next job waits out the rest of `between_cycles_s`. */
export const NODES_DIR = 'slurm-nodes';

export interface CycleJobInput {
  registry: Registry;
  /** The campaign's state folder. */
  stateDir: string;
  cycle: number;
  keys: string[];
  projectFile?: LoadedFile;
  projectRoot: string;
  cacheDir: string;
  plugins: Array<{name: string; version: string}>;
  signal: AbortSignal;
  env?: NodeJS.ProcessEnv;
  onEvent?: (event: CampaignEvent) => void;
}

export interface CycleJobOutcome {
  jobId: string;
  node: string;
  stop: Stop;
  /** 0 every run ended (whatever its status), 2 the job could not start its runs, 130 interrupted. */
  exitCode: 0 | 2 | 130;
}

export async function runCycleJob(input: CycleJobInput): Promise<CycleJobOutcome> {
  const env = input.env ?? process.env;
  const jobId = env.SLURM_JOB_ID ?? `local-${process.pid}`;
  const node = env.SLURMD_NODENAME ?? hostname();
  const campaign = openCampaignState(dirname(input.stateDir), basename(input.stateDir));
  const {plan, manifest} = campaign;
  campaign.close();
  const jobsDir = join(input.stateDir, JOBS_DIR);
  mkdirSync(jobsDir, {recursive: true});
  const store = new JobStore(input.stateDir, cyclePlan(plan, input.keys), manifest, join(jobsDir, `${jobId}.jsonl`), join(jobsDir, `${jobId}.log`));
  const emit = (event: CampaignEvent) => {
    store.log('debug', `${event.type} ${JSON.stringify(event.type === 'campaign-start' ? {} : event)}`);
    input.onEvent?.(event);
  };
  const nodeMark = join(dirname(input.stateDir), NODES_DIR, node);
  let session: RunnerSession | null = null;
  try {
    let planned: Planned;
    try {
      planned = await prepare(input, plan, jobId, env);
      session = await openCampaignRunner({...planned, plan}, {registry: input.registry, projectRoot: input.projectRoot, env});
    } catch (error) {
      failAll(store, input.keys, error);
      return {jobId, node, stop: null, exitCode: 2};
    }
    const {cooler} = makeCooler(plan, env.LEM_NVML_LIBRARY);
    const stop = await runSequence(
      {
        store,
        resolved: planned.resolved,
        shared: {baseDir: dirname(plan.file), projectRoot: input.projectRoot, cacheDir: input.cacheDir, experimentFile: plan.file, plugins: input.plugins, waitForDevicesS: plan.runTimeoutS, runner: session.runner, env},
        cooler,
        inJob: {firstGapS: owedGapS(plan, input.keys, nodeMark), stopRequested: () => existsSync(join(jobsDir, STOP_FILE))},
      },
      emit,
      input.signal,
    );
    return {jobId, node, stop, exitCode: stop?.status === 'interrupted' ? 130 : 0};
  } finally {
    await session?.close();
    store.close();
    markNode(nodeMark, jobId);
  }
}

/** The campaign's plan with only this job's runs: the sequence the job walks. */
function cyclePlan(plan: CampaignPlan, keys: string[]): CampaignPlan {
  const wanted = new Set(keys);
  return {...plan, runs: plan.runs.filter((r) => wanted.has(r.key))};
}

/** The checks before any run: this lem is the plan's, the file still plans the same, the GPUs map onto the job's. */
async function prepare(input: CycleJobInput, plan: CampaignPlan, jobId: string, env: NodeJS.ProcessEnv): Promise<Planned> {
  if (plan.environment.lemVersion !== VERSION) {
    throw configError('E_SLURM_VERSION', `the job runs lem ${VERSION}, but campaign ${plan.id} was planned with lem ${plan.environment.lemVersion}`, [
      'install the same lem on the nodes (a shared file system makes it the same install), or set slurm.lem to the command that starts it',
    ]);
  }
  const planned = await planCampaign({registry: input.registry, campaignPath: plan.file, projectFile: input.projectFile, projectRoot: input.projectRoot, cli: plan.cli, seed: plan.seed, cacheDir: input.cacheDir, plugins: input.plugins, env});
  const changes = diffPlans(plan, planned.plan);
  if (changes.length > 0) {
    throw configError('E_CAMPAIGN_CHANGED', `${plan.file} now plans different measurements than campaign ${plan.id}: ${changes.join('; ')}`, [`undo the edit to ${plan.file}, then lem resume ${plan.id}`]);
  }
  const allocation = jobGpuIndices(env);
  const visible = allocation && [...planned.resolved.values()].some((r) => r.settings.gpus.length > 0) ? visibleGpus(env) : null;
  const resolved = new Map([...planned.resolved].map(([name, r]) => [name, mapJobGpus(r, allocation, jobId, visible)]));
  return {...planned, resolved};
}

/** How many GPUs NVML sees in this job, or null where NVML cannot be used (preflight then says why). */
function visibleGpus(env: NodeJS.ProcessEnv): number | null {
  const probe = probeNvml({libraryPath: env.LEM_NVML_LIBRARY});
  return probe.available ? probe.devices.length : null;
}

/** Every run of the job fails with the error that stopped it, each journaled as one attempt. */
function failAll(store: JobStore, keys: string[], error: unknown): void {
  const category: FailureCategory = isRunError(error) ? error.category : 'config';
  const code = isCodedError(error) ? error.code : 'E_SLURM_JOB';
  const message = error instanceof Error ? error.message : String(error);
  for (const key of keys) {
    const entry = findEntry(store.manifest, key);
    if (!entry) continue;
    const attempt = entry.attempts + 1;
    const resultPath = `${entry.configuration}-c${entry.cycle}-t${entry.history.length + 1}`;
    store.record({type: 'run-start', key, attempt, resultPath});
    store.record({type: 'run-end', key, attempt, status: 'failed', category, code, message, resultPath, durationS: 0});
  }
}

/** What the node still owes its GPUs: the rest of `between_cycles_s` since a lem job last ended there (0 for the campaign's very first run). */
function owedGapS(plan: CampaignPlan, keys: string[], nodeMark: string): number {
  if (plan.runs.find((r) => r.key === keys[0])?.position === 1) return 0;
  let endedMs: number;
  try {
    endedMs = Date.parse((JSON.parse(readFileSync(nodeMark, 'utf8')) as {endedAt: string}).endedAt);
  } catch {
    return 0; // no lem job has ended on this node as far as this project knows
  }
  const sinceS = (Date.now() - endedMs) / 1000;
  return Number.isFinite(sinceS) ? Math.max(0, Math.min(plan.gaps.betweenCyclesS, plan.gaps.betweenCyclesS - sinceS)) : 0;
}

function markNode(path: string, jobId: string): void {
  try {
    mkdirSync(dirname(path), {recursive: true});
    writeFileSync(path, `${JSON.stringify({endedAt: new Date().toISOString(), jobId})}\n`);
  } catch {
    // Only the next job's gap depends on it.
  }
}


