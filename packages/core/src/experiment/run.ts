/**
 * One experiment, end to end (DESIGN §5), as a pipeline of named steps, each in its own file:
 *
 *   preflight → devices → meters → launch → prompts → warm-up → idle → measure → teardown → figures → write
 *
 * Raw data goes to disk as it is measured (requests.jsonl, timeline.csv); result.json is written
 * once, atomically, whatever the outcome — a run that failed, even one whose figures could not be
 * computed, is recorded with its category beside its raw files. Core never prints: progress goes
 * out as events.
 */
import {join} from 'node:path';
import {isCodedError, runError, type RunError} from '../errors.js';
import {readTimelineCsv} from '../meters/index.js';
import {collectProvenance, hashModel} from '../provenance/index.js';
import {reapStaleServers} from '../runner/index.js';
import {openRunnerSession} from '../runner/session.js';
import {buildResult, type ExperimentResult, type PhaseRecord, type SamplingInfo, type WarmupInfo} from '../results/result.js';
import {RUN_FILES, writeResultFile} from '../results/run-files.js';
import {VERSION} from '../version.js';
import {abortReason, openRun, type Run, type RunExperimentOptions} from './context.js';
import {acquireDevices} from './devices.js';
import {environmentInfo} from './environment.js';
import {toRunError} from './errors.js';
import {computeFigures, deriveWarnings, FIGURES_FAILED, type Figures} from './figures.js';
import {containerSettle, launch, runnerOf} from './launch.js';
import {measure, type Measured} from './measure.js';
import {startMeters} from './meters.js';
import {preflight, resolveModelPath, servedModel, type RunPlan} from './preflight.js';
import {prepareRequests} from './prompts.js';
import {settleAndIdle} from './idle.js';
import {teardown, type Held} from './teardown.js';
import {warmUp} from './warmup.js';

export type {ExperimentEvent, RunExperimentOptions} from './context.js';

export interface ExperimentOutcome {
  status: 'completed' | 'failed';
  runDir: string;
  result: ExperimentResult;
  error?: RunError;
}

/** Failed requests above this fraction fail the run (`runtime`); fewer are counted and reported. */
export const MAX_FAILED_FRACTION = 0.05;

/** What the steps produced, for the result. */
interface Outputs {
  plan: RunPlan | null;
  warmup: WarmupInfo | null;
  measured: Measured | null;
  sampling: SamplingInfo | null;
}

/**
 * One experiment. Without a runner of the caller's (a campaign opens one for all its runs), the
 * experiment's own `runner` setting decides: under docker, the session checks the engine and
 * the image and confirms persistent mode before anything starts — a refusal or a missing image
 * is a config error that writes nothing — and ends with the experiment.
 */
export async function runExperiment(opts: RunExperimentOptions): Promise<ExperimentOutcome> {
  const {settings, backend} = opts.resolved;
  if (opts.runner || settings.runner !== 'docker' || !backend) return runPipeline(opts);
  const session = await openRunnerSession({
    runner: 'docker',
    docker: settings.docker,
    backends: [{backend, runs: [{gpus: settings.gpus, backendConfig: opts.resolved.backendConfig, model: resolveModelPath(servedModel(settings.model, opts.resolved.backendConfig), opts.baseDir)}]}],
    nvmlLibrary: opts.meterRoots?.nvmlLibrary,
    projectRoot: opts.projectRoot,
    confirmPersistent: opts.confirmPersistent,
    env: opts.env,
  });
  try {
    return await runPipeline({...opts, runner: session.runner});
  } finally {
    await session.close();
  }
}

async function runPipeline(opts: RunExperimentOptions): Promise<ExperimentOutcome> {
  const run = openRun(opts);
  const onOuterAbort = () => run.abort.abort(opts.signal?.reason ?? new Error('interrupted'));
  opts.signal?.addEventListener('abort', onOuterAbort, {once: true});
  if (opts.signal?.aborted) onOuterAbort();
  const held: Held = {devices: null, server: null, client: null};
  const out: Outputs = {plan: null, warmup: null, measured: null, sampling: null};
  let failure: RunError | undefined;
  try {
    await measureRun(run, held, out);
  } catch (error) {
    // Once the run is aborted (a dead server, a signal), what fails after is its consequence.
    failure = run.abort.signal.aborted ? withLaunchOutput(abortReason(run), error) : toRunError(error, held.server);
  } finally {
    opts.signal?.removeEventListener('abort', onOuterAbort);
    const torn = await teardown(run, held);
    out.sampling = torn.sampling;
    failure ??= torn.failure;
  }
  const figures = figuresOf(run, out);
  failure ??= figures.failure ?? requestFailures(figures.figures);
  const result = await writeRun(run, held, out, figures.figures, failure);
  return {status: failure ? 'failed' : 'completed', runDir: run.runDir, result, ...(failure ? {error: failure} : {})};
}

/**
 * An abort (a timeout, a signal) that cut a launch short: the abort's reason is the run's error,
 * but the launch's error holds the server's last lines (there is no server object yet), so they
 * go with it. A copy: the reason may be shared by other runs.
 */
function withLaunchOutput(reason: RunError, error: unknown): RunError {
  const details = isCodedError(error) ? error.details : undefined;
  if (reason.details?.length || !details?.length) return reason;
  return runError(reason.code, reason.message, reason.try, reason.category, details, reason.cause);
}

/** The steps that start and measure things; each one's output feeds the next. */
async function measureRun(run: Run, held: Held, out: Outputs): Promise<void> {
  const plan = (out.plan = await preflight(run));
  await reapStaleServers(run.stateDir);
  run.emit({type: 'start', name: run.settings.name, runDir: run.runDir, backend: run.settings.backend});
  held.devices = await acquireDevices(run, plan);
  await startMeters(run, plan, held.devices, runnerOf(run));
  held.server = await launch(run, plan, held.devices);
  await containerSettle(run, held.server);
  held.client = await prepareRequests(run, plan, held.server);
  out.warmup = await warmUp(run, held.client);
  await settleAndIdle(run);
  out.measured = await measure(run, held.client, held.server);
}

/** The figures step. A computation that throws fails the run, but loses nothing: the result is still written, and `lem results recompute` can redo it. */
function figuresOf(run: Run, out: Outputs): {figures: Figures | null; failure?: RunError} {
  const compute = run.opts.computeFigures ?? computeFigures;
  try {
    const figures = compute({
      records: run.records,
      phases: run.phases,
      boundaries: run.boundaries,
      channels: run.sampler?.channels ?? [],
      energyNullReason: run.energyNullReason,
      steadyWindow: out.measured?.workload.steadyWindow ?? null,
      model: out.plan ? {info: out.plan.model.info, reason: out.plan.model.reason} : undefined,
      intervalMs: run.settings.measure.sample_interval_ms,
      timeline: run.sampler ? readTimelineCsv(join(run.runDir, RUN_FILES.timeline)) : [],
    });
    return {figures};
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      figures: null,
      failure: runError(FIGURES_FAILED, `the figures could not be computed: ${message}`, [`the raw files are kept: lem results recompute ${run.runDir} --write computes them again`], 'runtime', undefined, error),
    };
  }
}

function requestFailures(figures: Figures | null): RunError | undefined {
  const r = figures?.metrics?.requests;
  if (!r || r.failedFraction === null || r.failedFraction <= MAX_FAILED_FRACTION) return undefined;
  return runError(
    'E_REQUESTS_FAILED',
    `${r.failed} of ${r.sent} measured requests failed (${(r.failedFraction * 100).toFixed(1)} % > ${MAX_FAILED_FRACTION * 100} %)`,
    ['look at requests.jsonl in the result folder for the errors; raise workload.request_timeout_s if they timed out'],
    'runtime',
  );
}

function containerFields(server: Held['server']): Pick<ExperimentResult['backend'], 'strategy' | 'container' | 'serverReused' | 'warmupDelayS' | 'effective'> {
  const c = server?.container;
  return {
    strategy: c?.strategy ?? null,
    container: c ? {id: c.id, name: c.name, imageRef: c.imageRef, imageId: c.imageId, adopted: c.adopted, cpusetCpus: c.cpusetCpus} : null,
    serverReused: server?.reused ?? false,
    warmupDelayS: server?.warmupDelayS ?? 0,
    effective: server?.reported() ?? {},
  };
}

/** The write step: provenance, warnings from the figures, and result.json, once. */
async function writeRun(run: Run, held: Held, out: Outputs, figures: Figures | null, failure: RunError | undefined): Promise<ExperimentResult> {
  const {settings, resolved} = run;
  const plan = out.plan;
  const metrics = figures?.metrics ?? null;
  for (const w of deriveWarnings({metrics, maxOutputTokens: settings.workload.max_output_tokens, channels: run.sampler?.channels ?? [], loop: out.measured?.eventLoopDelay ?? null})) run.warn(w);
  const probe = plan?.gpus.probe;
  const provenance = collectProvenance({
    lemVersion: VERSION,
    plugins: run.opts.plugins ?? (resolved.backend ? [resolved.backend.plugin] : []),
    engine: held.server?.engineVersion ?? null,
    serverArgv: held.server?.argv ?? null,
    model: resolved.backend && plan ? await hashModel(plan.modelRef, {cacheDir: run.opts.cacheDir}) : {kind: 'hub', id: settings.model, revision: null},
    gpus: probe?.available ? probe.devices.filter((d) => plan!.gpus.uuids.includes(d.uuid)).map((d) => ({...d, driverVersion: probe.driverVersion})) : [],
    redact: (text) => resolved.redactor.text(text),
    processEnv: run.env,
  });
  const phases: PhaseRecord[] = figures?.phases ?? run.phases;
  const result = buildResult(resolved, run.opts.experimentFile ?? null, {
    status: failure ? 'failed' : 'completed',
    failure: failure
      ? {
          category: failure.category,
          code: failure.code,
          message: failure.message,
          try: failure.try,
          // A launch that failed has no server object: its last lines travel in the error's details.
          serverOutput: held.server?.outputTail() ?? (failure.details ?? []).map((d) => d.message),
        }
      : null,
    backend: {
      id: settings.backend,
      plugin: resolved.backend ? `${resolved.backend.plugin.name}@${resolved.backend.plugin.version}` : null,
      runner: held.server?.runnerId ?? null,
      argv: held.server?.argv ?? null,
      baseUrl: held.server?.baseUrl ?? settings.base_url ?? '',
      ...containerFields(held.server),
    },
    environment: environmentInfo(),
    clock: run.anchor,
    phases,
    boundaries: run.boundaries,
    meters: {channels: run.sampler?.channels ?? [], sampling: out.sampling, energyNullReason: run.energyNullReason},
    prompts: held.client?.info ?? null,
    warmup: out.warmup,
    workload: out.measured?.workload ?? null,
    provenance,
    model: plan?.model ?? null,
    client: {eventLoopDelay: out.measured?.eventLoopDelay ?? null, clientCpuS: out.measured?.clientCpuS ?? null, pinning: held.devices?.pinning ?? null},
    metrics,
    engineMetrics: out.measured?.engineMetrics ?? null,
    warnings: run.warnings,
    campaign: run.opts.campaign ?? null,
  });
  writeResultFile(run.runDir, result);
  return result;
}
