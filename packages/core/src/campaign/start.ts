/**
 * Starting and resuming campaigns: from a file to a locked state folder ready to run, or from an
 * interrupted state folder back to one — refusing when the file now plans something else, when
 * what the measurements depend on changed, or when another lem is running it.
 */
import {existsSync, mkdirSync} from 'node:fs';
import {dirname, join} from 'node:path';
import stableStringify from 'fast-json-stable-stringify';
import {configError} from '../errors.js';
import {STATE_DIR} from '../config/project.js';
import {reapStaleServers} from '../runner/index.js';
import {openRunnerSession, type RunnerSession, type RunnerSessionOptions, type SessionRun} from '../runner/session.js';
import {resolveModelPath, servedModel} from '../experiment/preflight.js';
import type {RegisteredBackend, Registry} from '../registry.js';
import {isMeasured} from './configurations.js';
import {diffEnvironment} from './environment.js';
import {interruptedRunning} from './manifest.js';
import {planCampaign, type PlanInput, type Planned} from './plan.js';
import {readRunResult} from './results.js';
import {createCampaignState, listCampaigns, openCampaignState, type CampaignListing, type CampaignStore} from './store.js';
import type {CampaignPlan} from './types.js';
import {checkCluster, slurmCommands} from '../slurm/queue.js';

export function stateRootOf(projectRoot: string): string {
  return join(projectRoot, STATE_DIR);
}

/** How a campaign's runner is opened: persistent containers are confirmed through this. */
export interface RunnerInput {
  confirmPersistent?: RunnerSessionOptions['confirmPersistent'];
  onRunnerWarning?: RunnerSessionOptions['onWarning'];
}

/**
 * The runner every run of the campaign uses, ready before its first run: under docker the engine
 * answers, leftovers are reaped, every image is checked and persistent mode is confirmed (a
 * refusal or a missing image is a config error before anything starts).
 */
export async function openCampaignRunner(planned: Planned, input: RunnerInput & {registry: Registry; projectRoot: string; env?: NodeJS.ProcessEnv; nvmlLibrary?: string}): Promise<RunnerSession> {
  const {plan, resolved} = planned;
  const first = resolved.values().next().value!;
  const byBackend = new Map<string, {backend: RegisteredBackend; runs: SessionRun[]}>();
  for (const r of resolved.values()) {
    if (!r.backend) continue;
    const entry = byBackend.get(r.backend.contribution.id) ?? {backend: r.backend, runs: []};
    entry.runs.push({gpus: r.settings.gpus, backendConfig: r.backendConfig, model: resolveModelPath(servedModel(r.settings.model, r.backendConfig), dirname(plan.file))});
    byBackend.set(r.backend.contribution.id, entry);
  }
  return openRunnerSession({
    runner: plan.runner,
    docker: {...first.settings.docker, strategy: plan.containerStrategy ?? first.settings.docker.strategy},
    backends: [...byBackend.values()],
    projectRoot: input.projectRoot,
    campaign: plan.id,
    confirmPersistent: input.confirmPersistent,
    onWarning: input.onRunnerWarning,
    env: input.env,
    nvmlLibrary: input.nvmlLibrary,
  });
}

/** Plans the file and creates its state (locked); refuses when the file's campaign is unfinished, unless `fresh`. */
export async function startCampaign(input: PlanInput & RunnerInput & {fresh?: boolean; detach?: boolean}): Promise<{planned: Planned; store: CampaignStore; session: RunnerSession | null}> {
  const planned = await planCampaign(input);
  const stateRoot = stateRootOf(input.projectRoot);
  if (!input.fresh) {
    const open = listCampaigns(stateRoot).find((c) => c.file === planned.plan.file && c.unfinished);
    if (open) {
      throw configError('E_CAMPAIGN_UNFINISHED', `${planned.plan.file} has an unfinished campaign, ${open.id} (${open.done}/${open.total} done)`, [
        `lem resume ${open.id}   # continue it`,
        `lem campaign run ${input.campaignPath} --fresh   # start a new one beside it`,
      ]);
    }
  }
  if (input.detach && planned.plan.executor !== 'slurm') {
    throw configError('E_DETACH_LOCAL', '--detach leaves a campaign to its cluster jobs: it needs executor: slurm', [`lem campaign run ${input.campaignPath} --executor slurm --detach`, `lem campaign run ${input.campaignPath}   # without --detach, here`]);
  }
  // Under Slurm the servers start on the nodes: each job opens its runner there (and checks the images there).
  const slurm = planned.plan.executor === 'slurm';
  if (slurm) await checkCluster(planned.plan, {stateDir: join(stateRoot, planned.plan.id), projectRoot: input.projectRoot}, slurmCommands(input.env));
  const session = slurm ? null : await openCampaignRunner(planned, input);
  try {
    mkdirSync(planned.plan.resultsDir, {recursive: true});
    const store = createCampaignState(stateRoot, planned.plan);
    return {planned, store, session};
  } catch (error) {
    await session?.close();
    throw error;
  }
}

export interface ResumeInput extends Omit<PlanInput, 'campaignPath' | 'cli' | 'seed'>, RunnerInput {
  id: string;
  /** `--runner` / `--container-strategy` on the resume command line: refused when they differ from the plan's. */
  runner?: 'local' | 'docker';
  containerStrategy?: 'ephemeral' | 'persistent';
  /** Continue although the environment changed (the boundary is recorded). */
  allowEnvChange?: boolean;
  /** `--executor` on the resume command line: refused when it differs from the plan's. */
  executor?: 'local' | 'slurm';
}

/**
 * Reopens campaign `id` under its lock, checks that its file still plans the same measurements
 * and that the environment is unchanged, reaps servers a killed lem left, and settles the runs
 * it left `running`: a complete result written just before the kill is adopted, the rest are
 * interrupted (and will run again).
 */
export async function resumeCampaign(input: ResumeInput): Promise<{planned: Planned; store: CampaignStore; envChanges: string[]; adopted: string[]; session: RunnerSession | null}> {
  const stateRoot = stateRootOf(input.projectRoot);
  const store = openCampaignState(stateRoot, input.id);
  store.lock();
  try {
    const old = store.plan;
    refuseOtherRunner(old, input);
    if (!existsSync(old.file)) {
      throw configError('E_CAMPAIGN_FILE_MISSING', `the campaign file ${old.file} is gone; resume checks it still plans the same runs`, [`restore ${old.file} (its plan is in ${join(store.dir, 'plan.json')})`]);
    }
    const planned = await planCampaign({...input, campaignPath: old.file, cli: old.cli, seed: old.seed});
    const changes = diffPlans(old, planned.plan);
    if (changes.length > 0) {
      throw configError('E_CAMPAIGN_CHANGED', `${old.file} now plans different measurements than campaign ${old.id} was started with`, [
        `undo the edit to ${old.file}, then lem resume ${old.id}`,
        `lem campaign run ${old.file} --fresh   # a new campaign with the file as it is now`,
      ], changes.map((message) => ({path: 'plan', message})));
    }
    // Under Slurm the GPUs are the nodes', not this host's: each job checks its own.
    const envChanges = diffEnvironment(old.environment, planned.plan.environment).filter((c) => old.executor !== 'slurm' || !/^(GPUs|NVIDIA driver) /.test(c));
    if (envChanges.length > 0 && !input.allowEnvChange) {
      throw configError('E_CAMPAIGN_ENV_CHANGED', `what campaign ${old.id}'s measurements depend on has changed since it started`, [
        `lem resume ${old.id} --allow-env-change   # continue; the summary marks the boundary`,
      ], envChanges.map((message) => ({path: 'environment', message})));
    }
    if (envChanges.length > 0) store.record({type: 'env-change', changes: envChanges});
    if (old.executor === 'slurm') {
      // Runs left running belong to jobs that may still run: the executor adopts or settles them.
      await checkCluster(old, {stateDir: store.dir, projectRoot: input.projectRoot}, slurmCommands(input.env));
      return {planned: {...planned, plan: old}, store, envChanges, adopted: [], session: null};
    }
    await reapStaleServers(stateRoot);
    const session = await openCampaignRunner({...planned, plan: old}, input);
    const adopted = settleLeftRunning(store);
    return {planned: {...planned, plan: old}, store, envChanges, adopted, session};
  } catch (error) {
    store.close();
    throw error;
  }
}

/** A campaign resumes where it ran: a different runner or strategy would mix two kinds of runs in one CI. */
function refuseOtherRunner(plan: CampaignPlan, input: ResumeInput): void {
  const executor = plan.executor ?? 'local';
  if (input.executor && input.executor !== executor) {
    throw configError('E_RESUME_EXECUTOR', `campaign ${plan.id} ran under the ${executor} executor; resume keeps it (--executor ${input.executor} would mix runs of two kinds of machines in one configuration)`, [
      `lem resume ${plan.id}   # without --executor`,
      `lem campaign run ${plan.file} --fresh --executor ${input.executor}   # a new campaign there`,
    ]);
  }
  const strategy = plan.containerStrategy ?? 'none (local runner)';
  if (input.runner && input.runner !== plan.runner) {
    throw configError('E_RESUME_RUNNER', `campaign ${plan.id} ran on the ${plan.runner} runner; resume keeps it (--runner ${input.runner} would mix runs of two runners in one configuration)`, [
      `lem resume ${plan.id}   # without --runner`,
      `lem campaign run ${plan.file} --fresh --runner ${input.runner}   # a new campaign on the other runner`,
    ]);
  }
  if (input.containerStrategy && input.containerStrategy !== plan.containerStrategy) {
    throw configError('E_RESUME_RUNNER', `campaign ${plan.id} ran with container strategy ${strategy}; resume keeps it (--container-strategy ${input.containerStrategy} would mix two kinds of runs)`, [
      `lem resume ${plan.id}   # without --container-strategy`,
      `lem campaign run ${plan.file} --fresh --container-strategy ${input.containerStrategy}`,
    ]);
  }
}

/**
 * Entries a kill left `running`: adopt a complete result of that try, else mark interrupted.
 * A result that records an interruption (a Ctrl+C, then a kill before its run-end was journaled)
 * is settled as the run-end would have been: interrupted, not an attempt, run again. Returns the adopted keys.
 */
function settleLeftRunning(store: CampaignStore): string[] {
  const adopted: string[] = [];
  for (const entry of interruptedRunning(store.manifest)) {
    const last = entry.history.at(-1);
    const resultPath = last?.resultPath ?? `${entry.configuration}-c${entry.cycle}-t${entry.history.length}`;
    const result = readRunResult(join(store.plan.resultsDir, resultPath));
    const ours = result?.campaign?.planHash === store.plan.hash && result.campaign.configuration === entry.configuration && result.campaign.cycle === entry.cycle;
    const attempt = last?.attempt ?? entry.attempts + 1;
    if (result && ours && result.failure?.category === 'interrupted') {
      store.record({type: 'run-end', key: entry.key, attempt, status: 'interrupted', category: 'interrupted', code: result.failure.code, message: result.failure.message, resultPath, durationS: durationOf(result)});
    } else if (result && ours) {
      const failure = result.failure;
      store.record({type: 'run-end', key: entry.key, attempt, status: result.status, category: (failure?.category as never) ?? null, code: failure?.code ?? null, message: failure?.message ?? null, resultPath, durationS: durationOf(result), adopted: true});
      adopted.push(entry.key);
    } else {
      store.record({type: 'run-end', key: entry.key, attempt, status: 'interrupted', category: 'interrupted', code: 'E_INTERRUPTED', message: 'lem stopped during this run', resultPath, durationS: 0});
    }
  }
  return adopted;
}

function durationOf(result: NonNullable<ReturnType<typeof readRunResult>>): number {
  const phases = result.phases ?? [];
  if (phases.length === 0) return 0;
  return (Math.max(...phases.map((p) => p.endMs)) - Math.min(...phases.map((p) => p.startMs))) / 1000;
}

/** Measurement-affecting differences between the plan a campaign started with and the file's plan now, one line each. */
export function diffPlans(before: CampaignPlan, after: CampaignPlan): string[] {
  const changes: string[] = [];
  for (const key of ['cycles', 'order', 'gaps'] as const) {
    if (stableStringify(before[key]) !== stableStringify(after[key])) changes.push(`${key}: ${stableStringify(before[key])} → ${stableStringify(after[key])}`);
  }
  if ((before.order === 'shuffled' || before.order === 'latin_square') && before.seed !== after.seed) changes.push(`seed: ${before.seed} → ${after.seed}`);
  const now = new Map(after.configurations.map((c) => [c.name, c]));
  for (const c of before.configurations) {
    const next = now.get(c.name);
    if (!next) changes.push(`configuration ${c.name} is no longer planned`);
    else if (next.settingsHash !== c.settingsHash) changes.push(...settingChanges(c.name, c.settings, next.settings));
  }
  const had = new Set(before.configurations.map((c) => c.name));
  for (const c of after.configurations) if (!had.has(c.name)) changes.push(`configuration ${c.name} is new`);
  return changes;
}

function settingChanges(name: string, before: CampaignPlan['configurations'][number]['settings'], after: CampaignPlan['configurations'][number]['settings']): string[] {
  const was = new Map(before.filter((s) => isMeasured(s.key)).map((s) => [s.key, JSON.stringify(s.value)]));
  const now = new Map(after.filter((s) => isMeasured(s.key)).map((s) => [s.key, JSON.stringify(s.value)]));
  const out: string[] = [];
  for (const key of new Set([...was.keys(), ...now.keys()])) {
    if (was.get(key) !== now.get(key)) out.push(`${name}: ${key} ${was.get(key) ?? '(unset)'} → ${now.get(key) ?? '(unset)'}`);
  }
  return out.length > 0 ? out : [`${name}: its settings changed`];
}

/** Unfinished campaigns of the project, newest first (for `lem resume` without an id). */
export function unfinishedCampaigns(projectRoot: string): CampaignListing[] {
  return listCampaigns(stateRootOf(projectRoot)).filter((c) => c.unfinished);
}
