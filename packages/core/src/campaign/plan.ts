/**
 * Planning a campaign (DESIGN §7): read the file, resolve every configuration, order the runs
 * over cycles with their gaps, fingerprint the environment, and hash what affects measurement.
 * The plan is written to plan.json before anything runs; `lem resume` runs from it.
 */
import {createHash, randomInt} from 'node:crypto';
import {basename, isAbsolute, join, resolve} from 'node:path';
import {isDeepStrictEqual} from 'node:util';
import stableStringify from 'fast-json-stable-stringify';
import {configError, ErrorCodes} from '../errors.js';
import {isPlainObject} from '../config/paths.js';
import {commandLineLayer, dataLayer, formatSource, parseLocated, prepareLayers, throwLayerErrors, unknownSettingKey, type CliSetting, type Found, type LayerFile, type ResolvedExperiment} from '../config/resolve.js';
import {Redactor} from '../config/secrets.js';
import {loadYamlFile, type LoadedFile} from '../config/yaml-file.js';
import type {Registry} from '../registry.js';
import {VERSION} from '../version.js';
import {refuseStrategyWithoutDocker} from '../runner/routing.js';
import {planSlurm} from '../slurm/plan.js';
import {CAMPAIGN_KEYS, absolutePaths, campaignKeysSchema, loadCampaignFile, subFile, withData, type CampaignFile, type CampaignKeys} from './file.js';
import {expandCandidates, isPathEntry, mergeIdentical, nameConfigurations, plannedSettings, renamed, varyingKeys, type Candidate, type Configuration, type Dropped, type EntryLayers} from './configurations.js';
import {planEnvironment} from './environment.js';
import {gapsOf, orderRuns} from './order.js';
import {sweepPoints} from './sweep.js';
import {planReuse} from './reuse.js';
import {CAMPAIGN_SCHEMA_VERSION, type CampaignPlan, type CyclesSpec, type PlannedConfiguration, type PlannedRun, type PlannedSetting} from './types.js';

export interface PlanInput {
  registry: Registry;
  campaignPath: string;
  projectFile?: LoadedFile;
  projectRoot: string;
  /** `--set`, `--runner`, …: a key of the campaign's own (`cycles`) applies to the campaign, any other to every run. */
  cli?: CliSetting[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  plugins?: Array<{name: string; version: string}>;
  /** Dataset cache (`lem datasets fetch`). */
  cacheDir: string;
  now?: Date;
  /** Resume: the seed a previous plan drew, so that the same file plans the same order. */
  seed?: number;
  nvmlLibrary?: string;
  /** How a Slurm job starts this lem on the node (default: this process's Node binary and script). */
  lemCommand?: string[];
}

/** The plan, and each configuration resolved for running (not in plan.json: it holds secrets). */
export interface Planned {
  plan: CampaignPlan;
  resolved: Map<string, ResolvedExperiment>;
  /** Things the user should know: merged configurations, dropped points, few cycles. */
  notes: string[];
}

export async function planCampaign(input: PlanInput): Promise<Planned> {
  const env = input.env ?? process.env;
  const cwd = input.cwd ?? process.cwd();
  const campaign = loadCampaignFile(input.campaignPath, cwd);
  const keys = campaignKeys(campaign, input.cli ?? []);
  const redactor = new Redactor();
  const backendIds = new Set(input.registry.backends.keys());
  const entries = await entryLayers(input, campaign, keys.value, redactor, backendIds);
  const {candidates, dropped} = await candidatesOf(input, campaign, keys.value, entries, redactor);
  const groups = mergeIdentical(candidates);
  const varying = varyingKeys(groups.map((g) => g.candidate.resolved));
  const named = nameConfigurations(groups, varying, keys.value.name);
  const resolved = new Map(named.map((c) => [c.name, renamed(c.candidate.resolved, c.name)]));
  const {runner, strategy} = routeRunner(resolved, campaign, input.registry);
  refuseStrategyWithoutDocker(input.cli ?? [], runner);
  const first = resolved.values().next().value!;
  const shape = campaignShape(keys, first, input.seed);
  const ordered = sequence(named.map((c) => c.name), shape);
  const reuse = planReuse(ordered, resolved);
  const configurations = named.map((c) => plannedConfiguration(c, resolved.get(c.name)!, {serverReused: reuse.reusing.has(c.name), launchKey: reuse.keys.get(c.name)!}));
  const runs = ordered.map((r) => ({...r, keepServer: reuse.keeping.has(r.key)}));
  const environment = await planEnvironment([...resolved.values()], {
    lemVersion: VERSION,
    plugins: input.plugins ?? [],
    hashCacheDir: join(input.projectRoot, '.lem-state', 'cache'),
    datasets: {baseDir: campaign.dir, cacheDir: input.cacheDir},
    nvmlLibrary: input.nvmlLibrary ?? env.LEM_NVML_LIBRARY,
  });
  const now = input.now ?? new Date();
  const id = `${slug(keys.value.name)}-${timestamp(now)}`;
  const resultsRoot = isAbsolute(first.settings.results_dir) ? first.settings.results_dir : join(input.projectRoot, first.settings.results_dir);
  const plan: CampaignPlan = {
    schemaVersion: CAMPAIGN_SCHEMA_VERSION,
    id,
    name: keys.value.name,
    file: campaign.path,
    createdAt: now.toISOString(),
    cli: redactor.deep(input.cli ?? []),
    ...shape,
    runner,
    containerStrategy: strategy,
    executor: keys.value.executor,
    slurm: keys.value.executor === 'slurm' ? planSlurm({keys: keys.value.slurm, configurations: [...resolved.values()], file: campaign.file, lemCommand: input.lemCommand}) : null,
    resultsDir: join(resultsRoot, id),
    configurations,
    varying,
    dropped: dropped.map(({point, reasons}) => ({point, reasons})),
    runs,
    campaignSettings: [...keys.sources.map((s) => (s.key === 'seed' ? {...s, value: shape.seed, from: shape.seedSource === 'drawn' ? (input.seed === undefined ? 'drawn' : 'drawn (kept from the first plan)') : s.from} : s)), ...campaignRunSettings(first)],
    environment,
    etaS: planEtaS(runs, configurations),
    hash: '',
  };
  plan.hash = planHash(plan);
  return {plan, resolved, notes: [...planNotes(plan, named.length, candidates.length), ...ignoredNotes(candidates), ...executorNotes(plan, campaign, resolved)]};
}

// ---------------------------------------------------------------------------------------------
// Steps

/** Every entry crossed with every sweep point and resolved, the CLI settings over each; refuses entries that give nothing. */
async function candidatesOf(input: PlanInput, campaign: CampaignFile, keys: CampaignKeys, entries: EntryLayers[], redactor: Redactor): Promise<{candidates: Candidate[]; dropped: Dropped[]}> {
  const backendIds = new Set(input.registry.backends.keys());
  const runCli = (input.cli ?? []).filter((s) => !CAMPAIGN_KEYS.includes(s.key.split('.')[0]!) || ['gaps', 'retry', 'failure_threshold'].includes(s.key.split('.')[0]!));
  const sweepKeys = {isSetting: (first: string) => isSettingKey(first, backendIds), known: settingKeyNames(backendIds), problem: (key: string) => unknownSettingKey(input.registry, key)};
  const points = sweepPoints(keys.sweep, sweepKeys, campaign.file);
  const expanded = await expandCandidates({
    registry: input.registry,
    entries,
    points,
    cli: runCli.length > 0 ? commandLineLayer(runCli) : null,
    campaignFile: campaign.file,
    campaignDir: campaign.dir,
    env: input.env ?? process.env,
    redactor,
    defaultName: keys.name,
  });
  refuseEmptyEntries(campaign, entries, expanded.candidates, expanded.dropped);
  return expanded;
}

function plannedConfiguration(c: Configuration, resolved: ResolvedExperiment, server: Pick<PlannedConfiguration, 'serverReused' | 'launchKey'>): PlannedConfiguration {
  return {
    name: c.name,
    varies: c.varies,
    entry: c.candidate.entry.entry,
    point: Object.fromEntries(c.candidate.point.assignments.map((a) => [a.key, a.value])),
    mergedFrom: c.mergedFrom,
    backend: resolved.settings.backend,
    settings: plannedSettings(resolved),
    settingsHash: c.candidate.settingsHash,
    estimateS: estimateRunS(resolved),
    ...server,
  };
}

/** The campaign's own keys, validated and located; CLI `--set` of those keys wins. */
function campaignKeys(campaign: CampaignFile, cli: CliSetting[]): {value: CampaignKeys; sources: PlannedSetting[]} {
  const own: Record<string, unknown> = {...campaign.own};
  const fromCli = new Map<string, string>();
  for (const s of cli) {
    const top = s.key.split('.')[0]!;
    if (!CAMPAIGN_KEYS.includes(top) || ['gaps', 'retry', 'failure_threshold'].includes(top)) continue;
    if (s.key.includes('.')) {
      const [, sub] = s.key.split('.');
      own[top] = {...(isPlainObject(own[top]) ? own[top] : {}), [sub!]: s.value};
    } else own[top] = s.value;
    fromCli.set(top, s.flag);
  }
  const {value, details} = parseLocated(campaignKeysSchema, own, campaign.file);
  if (!value) throwLayerErrors(details.map((d) => fromFlag(d, cli)), campaign.file.path);
  refuseAdaptiveGrouped(value!, campaign, fromCli);
  const sources: PlannedSetting[] = ['cycles', 'order', 'seed', 'run_timeout_s', 'executor'].map((key) => ({
    key,
    value: (value as Record<string, unknown>)[key] ?? (key === 'cycles' ? 3 : null),
    from: fromCli.get(key) ?? (key in campaign.own ? formatSource({kind: 'file', role: 'campaign', location: campaign.file.locate([key])}) : 'default'),
  }));
  return {value: value!, sources};
}

/** An error about a campaign key the command line set names the flag, not a place in the file it is not in. */
function fromFlag(detail: Found, cli: CliSetting[]): Found {
  const flag = cli.find((s) => s.key === detail.path || detail.path?.startsWith(`${s.key}.`) || detail.path?.startsWith(`${s.key}[`));
  if (!flag) return detail;
  const {location: _location, ...rest} = detail;
  return {...rest, message: `${detail.message} (from ${flag.flag}=${typeof flag.value === 'string' ? flag.value : JSON.stringify(flag.value)})`};
}

/**
 * Adaptive cycles decide after each whole cycle whether another is needed; `grouped` runs all of
 * one configuration's cycles before the next configuration, so no cycle is whole until the end.
 */
function refuseAdaptiveGrouped(keys: CampaignKeys, campaign: CampaignFile, fromCli: Map<string, string>): void {
  if (keys.order !== 'grouped' || typeof keys.cycles !== 'object') return;
  // Point at the key the file wrote; name the flags that set the others.
  const key = fromCli.has('order') && !fromCli.has('cycles') ? 'cycles' : 'order';
  const flags = ['order', 'cycles'].flatMap((k) => fromCli.get(k) ?? []);
  const detail: Found = {
    path: key,
    message: `adaptive cycles need every configuration to finish a cycle before the next one starts, which order: grouped does not do${flags.length ? ` (from ${flags.join(' and ')})` : ''}`,
    ...(key in campaign.own ? {location: campaign.file.locate([key], {key: true})} : {}),
    try: ['order: interleaved   # or shuffled, reverse, latin_square', 'cycles: 5   # a fixed number of cycles, if grouped order is what you need'],
  };
  throwLayerErrors([detail], campaign.file.path);
}

/** The layers of every `experiments` entry (or of `base` alone), each file validated on its own. */
async function entryLayers(input: PlanInput, campaign: CampaignFile, keys: CampaignKeys, redactor: Redactor, backendIds: ReadonlySet<string>): Promise<EntryLayers[]> {
  const files: Array<LayerFile & {entry?: {label: string; index: number}}> = [{role: 'campaign', file: withData(campaign.file, campaign.experimentKeys), schema: 'campaign'}];
  if (keys.base) files.push({role: 'experiment', file: loadYamlFile(resolve(campaign.dir, keys.base), {cwd: input.cwd})});
  (keys.experiments ?? []).forEach((e, index) => {
    const file = isPathEntry(e) ? loadYamlFile(resolve(campaign.dir, e.path), {cwd: input.cwd}) : subFile(campaign.file, ['experiments', index], e);
    const label = typeof (file.data as {name?: unknown})?.name === 'string' ? String((file.data as {name: string}).name) : isPathEntry(e) ? basename(e.path).replace(/\.ya?ml$/i, '') : `e${index + 1}`;
    files.push({role: 'entry', file, entry: {label, index}});
  });
  const prepared = await prepareLayers(input, files, redactor);
  throwLayerErrors(prepared.details, campaign.file.path);
  const dirOf = (file: LoadedFile) => (file.path === campaign.file.path ? campaign.dir : resolve(input.cwd ?? process.cwd(), file.path, '..'));
  const layers = prepared.layers.map((l) => ({...l, data: absolutePaths(l.data, l.file ? dirOf(l.file) : campaign.dir, backendIds)}));
  // Gaps, retries and the threshold are campaign keys that every run records among its settings.
  const own = Object.fromEntries(['gaps', 'retry', 'failure_threshold'].filter((k) => k in campaign.own).map((k) => [k, campaign.own[k]]));
  const withOwn = layers.map((l) => (l.role === 'campaign' ? dataLayer('campaign', {...l.data, ...own}, campaign.file) : l));
  const shared = withOwn.filter((l) => l.role !== 'entry');
  const entryFiles = files.filter((f) => f.entry);
  if (entryFiles.length === 0) return [{entry: null, label: '', layers: shared}];
  const entryLayersOnly = withOwn.filter((l) => l.role === 'entry');
  return entryFiles.map((f, i) => ({entry: isPathEntry(keys.experiments![f.entry!.index]) ? (keys.experiments![f.entry!.index] as {path: string}).path : `experiments[${f.entry!.index}]`, label: f.entry!.label, layers: [...shared, entryLayersOnly[i]!]}));
}

function isSettingKey(first: string, backendIds: ReadonlySet<string>): boolean {
  return backendIds.has(first) || (settingKeyNames(backendIds).includes(first) && !CAMPAIGN_KEYS.includes(first));
}

const EXPERIMENT_KEYS = ['model', 'backend', 'base_url', 'api_key_env', 'gpus', 'workload', 'warmup', 'measure', 'dataset', 'runner', 'docker', 'reuse_server', 'description'];

function settingKeyNames(backendIds: ReadonlySet<string>): string[] {
  return [...EXPERIMENT_KEYS, ...backendIds];
}

/**
 * No grid point valid (exit 2), or none for one of the `experiments` entries: an entry the user
 * listed is not dropped whole. The details are the points' own errors, each at its location.
 */
function refuseEmptyEntries(campaign: CampaignFile, entries: EntryLayers[], candidates: Candidate[], dropped: Dropped[]): void {
  if (candidates.length === 0) throw noValidPoint(campaign.file.path, dropped);
  if (entries.length < 2) return;
  const resolving = new Set(candidates.map((c) => c.entry));
  const empty = entries.find((e) => !resolving.has(e));
  if (empty) throw noValidPoint(`${campaign.file.path} (${empty.entry})`, dropped.filter((d) => d.entry === empty));
}

function noValidPoint(subject: string, dropped: Dropped[]): Error {
  const details = dropped.slice(0, 20).flatMap((d) => d.details.map((detail) => ({...detail, path: d.point, message: detail.path ? `${detail.path}: ${detail.message}` : detail.message})));
  return configError(ErrorCodes.configInvalid, `${subject}: no grid point resolves to a valid experiment (${dropped.length} dropped)`, ['fix the settings named below; `lem config schema` prints every key'], details);
}

/**
 * Where the campaign's servers run (DESIGN §4 routing). A campaign with more than one backend
 * (endpoints aside) runs in containers whatever `.lem-config.yaml` or the default says: its
 * configurations get `runner: docker` with the source `multi-backend campaign`; only a `local`
 * the user asked for here (the command line, the campaign or an experiment file) is an error.
 * `runner` and `docker.*` are then one value per campaign: configurations that disagree are an
 * error naming them. Rewrites `resolved` in place for the multi-backend case.
 */
function routeRunner(resolved: Map<string, ResolvedExperiment>, campaign: CampaignFile, registry: Registry): {runner: 'local' | 'docker'; strategy: 'ephemeral' | 'persistent' | null} {
  const backends = new Set([...resolved.values()].map((r) => r.settings.backend).filter((id) => id !== 'openai'));
  if (backends.size > 1) {
    for (const [name, r] of resolved) resolved.set(name, multiBackendDocker(r, [...backends], campaign));
  }
  const runner = oneRunner([...resolved.values()], campaign);
  if (runner === 'local') refuseLocalOnly([...resolved.values()], registry);
  return {runner, strategy: runner === 'docker' ? resolved.values().next().value!.settings.docker.strategy : null};
}

function multiBackendDocker(r: ResolvedExperiment, backends: string[], campaign: CampaignFile): ResolvedExperiment {
  const source = r.sources.find((s) => s.key === 'runner')?.source;
  const explicit = source !== undefined && source.kind !== 'default' && !(source.kind === 'file' && source.role === 'project');
  if (r.settings.runner === 'local' && explicit) {
    throw configError('E_RUNNER_CONFLICT', `${campaign.file.path}: a campaign of several backends (${backends.join(', ')}) runs in containers, but runner: local is asked for (${formatSource(source)})`, [
      'remove runner: local (or --runner local): lem then runs every backend in its container',
      'split the campaign into one file per backend to run them as host processes',
    ]);
  }
  const derived = {kind: 'derived' as const, by: 'multi-backend campaign'};
  const sources = r.sources.some((s) => s.key === 'runner') ? r.sources.map((s) => (s.key === 'runner' ? {...s, value: 'docker', source: derived} : s)) : [...r.sources, {key: 'runner', value: 'docker', source: derived}];
  return {...r, settings: {...r.settings, runner: 'docker'}, sources};
}

function oneRunner(configurations: ResolvedExperiment[], campaign: CampaignFile): 'local' | 'docker' {
  const keyOf = (r: ResolvedExperiment) => stableStringify({runner: r.settings.runner, docker: r.settings.docker});
  const [one] = configurations;
  // Deep equality first: comparing is cheaper than writing out thousands of configurations' keys.
  const same = (r: ResolvedExperiment) => r.settings.runner === one!.settings.runner && isDeepStrictEqual(r.settings.docker, one!.settings.docker);
  const distinct = configurations.every(same) ? new Map([['', one!]]) : new Map(configurations.map((r) => [keyOf(r), r]));
  if (distinct.size > 1) {
    const listing = [...distinct.values()].map((r) => `${r.settings.name}: runner ${r.settings.runner}, docker ${JSON.stringify(r.settings.docker)}`);
    throw configError(ErrorCodes.configInvalid, `${campaign.file.path}: runner and docker settings must be the same for every run of a campaign`, ['set runner: and docker: once, at the top of the campaign file'], listing.map((message) => ({path: 'runner', message})));
  }
  return one!.settings.runner;
}

/** Under `local`, every backend must be able to run as a host process: said at plan time, not at its first run. */
function refuseLocalOnly(configurations: ResolvedExperiment[], registry: Registry): void {
  const containerOnly = [...new Set(configurations.map((r) => r.settings.backend))].filter((id) => registry.backends.get(id)?.contribution.local === false);
  if (containerOnly.length > 0) {
    throw configError('E_RUNNER_UNSUPPORTED', `backend ${containerOnly.join(', ')} cannot run as a local process`, ['--runner docker   # or runner: docker in the campaign file']);
  }
}

type Shape = Pick<CampaignPlan, 'cycles' | 'order' | 'seed' | 'seedSource' | 'gaps' | 'retry' | 'failureThreshold' | 'runTimeoutS'>;

function campaignShape(keys: {value: CampaignKeys}, first: ResolvedExperiment, resumedSeed: number | undefined): Shape {
  const k = keys.value;
  const cycles: CyclesSpec =
    k.cycles === undefined ? {kind: 'fixed', count: 3} : typeof k.cycles === 'number' ? {kind: 'fixed', count: k.cycles} : {kind: 'adaptive', min: k.cycles.min, max: k.cycles.max, targetCiPct: k.cycles.target_ci_pct, metric: k.cycles.metric};
  const {gaps, retry, failure_threshold: ft} = first.settings;
  return {
    cycles,
    order: k.order,
    seed: k.seed ?? resumedSeed ?? randomInt(0, 2 ** 31),
    seedSource: k.seed === undefined ? 'drawn' : 'file',
    gaps: {betweenExperimentsS: gaps.between_experiments_s, betweenCyclesS: gaps.between_cycles_s, cooldown: {enabled: gaps.cooldown.enabled, deltaC: gaps.cooldown.delta_c, timeoutS: gaps.cooldown.timeout_s}},
    retry: {maxAttempts: retry.max_attempts},
    failureThreshold: {ratio: ft.ratio, scope: ft.scope, minFinished: ft.min_finished, promptTimeoutS: ft.prompt_timeout_s},
    runTimeoutS: k.run_timeout_s,
  };
}

function campaignRunSettings(first: ResolvedExperiment): PlannedSetting[] {
  return plannedSettings(first).filter((s) => /^(gaps|retry|failure_threshold|runner|docker)\./.test(s.key) || s.key === 'runner');
}

/** Every run in order, each with the gap before it; adaptive cycles beyond `min` are conditional. */
function sequence(names: string[], shape: Shape): Array<Omit<PlannedRun, 'keepServer'>> {
  const count = shape.cycles.kind === 'fixed' ? shape.cycles.count : shape.cycles.max;
  const order = orderRuns(names, count, shape.order, shape.seed);
  const gaps = gapsOf(order, shape.order, shape.gaps);
  const min = shape.cycles.kind === 'adaptive' ? shape.cycles.min : count;
  return order.map((r, i) => ({
    key: `${r.configuration}#${r.cycle}`,
    configuration: r.configuration,
    cycle: r.cycle,
    position: i + 1,
    gapBeforeS: gaps[i]!.gapBeforeS,
    gapKind: gaps[i]!.gapKind,
    conditional: r.cycle > min,
  }));
}

/**
 * Seconds one run is expected to take before any has finished: server start, warm-up, settle,
 * baseline, and the workload (open loop: prompts ÷ rate; closed loop: a guess of 50 tokens/s per
 * stream). Only the ETA uses it; once runs finish, their mean duration replaces it.
 */
export function estimateRunS(resolved: ResolvedExperiment): number {
  const s = resolved.settings;
  const prompts = 'n_prompts' in s.dataset && s.dataset.n_prompts ? s.dataset.n_prompts : 100;
  const rate = s.workload.request_rate;
  const perRequestS = s.workload.max_output_tokens / 50;
  const workload = typeof rate === 'number' ? prompts / rate : rate === 'inf' ? perRequestS : (prompts * perRequestS) / s.workload.concurrency;
  const warmup = (s.warmup.mode === 'fixed' ? s.warmup.requests : s.warmup.min_requests) * perRequestS;
  return Math.round(5 + warmup + s.measure.idle_settle_s + s.measure.baseline_s + workload);
}

/** Seconds: every gap plus every run's estimate (a map lookup per run: plans hold tens of thousands). */
function planEtaS(runs: PlannedRun[], configurations: PlannedConfiguration[]): number {
  const estimate = new Map(configurations.map((c) => [c.name, c.estimateS]));
  return runs.reduce((s, r) => s + r.gapBeforeS + estimate.get(r.configuration)!, 0);
}

/** sha256 over what affects measurement: the configurations' settings, cycles, order, seed and gaps. */
export function planHash(plan: Pick<CampaignPlan, 'configurations' | 'cycles' | 'order' | 'seed' | 'gaps'>): string {
  const basis = {
    configurations: plan.configurations.map((c) => [c.name, c.settingsHash]),
    cycles: plan.cycles,
    order: plan.order,
    seed: plan.order === 'shuffled' || plan.order === 'latin_square' ? plan.seed : null,
    gaps: plan.gaps,
  };
  return createHash('sha256').update(stableStringify(basis)).digest('hex');
}

function planNotes(plan: CampaignPlan, configurations: number, candidates: number): string[] {
  const notes: string[] = [];
  const count = plan.cycles.kind === 'fixed' ? plan.cycles.count : plan.cycles.min;
  if (count < 3) notes.push(`${count} cycle${count === 1 ? '' : 's'}: a confidence interval needs at least 2 values and is wide below 3 cycles; use cycles: 3 or more for figures you publish`);
  if (candidates > configurations) notes.push(`${candidates - configurations} grid point${candidates - configurations === 1 ? '' : 's'} resolved to settings identical to another and ${candidates - configurations === 1 ? 'was' : 'were'} merged`);
  if (plan.dropped.length > 0) notes.push(`${plan.dropped.length} grid point${plan.dropped.length === 1 ? '' : 's'} dropped as invalid (listed in the plan)`);
  return notes;
}

/** What the executor means for this campaign: a `slurm:` section that local ignores; a multi-backend campaign needing Docker on every node. */
function executorNotes(plan: CampaignPlan, campaign: CampaignFile, resolved: Map<string, ResolvedExperiment>): string[] {
  if (plan.executor !== 'slurm') return 'slurm' in campaign.own ? ['the slurm: section applies under executor: slurm only (--executor slurm); this campaign runs here'] : [];
  const notes: string[] = [];
  const multi = [...resolved.values()].some((r) => r.sources.some((s) => s.key === 'runner' && s.source.kind === 'derived'));
  if (multi) notes.push('a campaign of several backends runs in containers: every node needs Docker and the images (lem checks them on the node when a job starts); on a cluster without Docker, split the campaign into one file per backend with runner: local');
  const jobs = plan.cycles.kind === 'fixed' ? `${plan.cycles.count} job${plan.cycles.count === 1 ? '' : 's'}` : `${plan.cycles.min}–${plan.cycles.max} jobs`;
  notes.push(`executor slurm: ${jobs} (one per cycle), at most ${plan.slurm!.maxConcurrent} at once, ${plan.slurm!.gpusPerJob} GPU${plan.slurm!.gpusPerJob === 1 ? '' : 's'} each`);
  return notes;
}

/**
 * Sweep keys of a backend's section that an entry of another backend left out, once per entry.
 * Not where the point sets the backend itself: a sweep over backends gives each section to its
 * own backend by design.
 */
function ignoredNotes(candidates: Candidate[]): string[] {
  const byEntry = new Map<string, {backend: string; keys: Set<string>}>();
  for (const c of candidates) {
    if (c.ignored.length === 0 || c.point.assignments.some((a) => a.key === 'backend')) continue;
    const label = c.entry.entry ?? 'base';
    const seen = byEntry.get(label) ?? {backend: c.resolved.settings.backend, keys: new Set<string>()};
    for (const key of c.ignored) seen.keys.add(key);
    byEntry.set(label, seen);
  }
  return [...byEntry].map(([label, {backend, keys}]) => `${[...keys].join(', ')} ${keys.size === 1 ? 'applies' : 'apply'} to another backend's section: left out for ${label} (backend ${backend})`);
}

export function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'campaign';
}

function timestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

