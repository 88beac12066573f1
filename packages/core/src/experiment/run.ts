/**
 * One experiment, end to end (DESIGN §5): launch → warmup → idle → measure → teardown, with
 * energy from boundary reads, every request recorded, and the result written atomically whatever
 * the outcome. Core never prints: progress goes out as events.
 */
import {existsSync, mkdirSync} from 'node:fs';
import {monitorEventLoopDelay} from 'node:perf_hooks';
import {join, resolve} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import {Agent} from 'node:http';
import {availableParallelism, tmpdir} from 'node:os';
import type {ServerSpec} from '@lem/plugin-kit';
import {configError, isCodedError, isRunError, runError, type FailureCategory, type RunError} from '../errors.js';
import type {ResolvedExperiment} from '../config/resolve.js';
import {makeAnchor, msSince, monoNs, type Boundary, type PhaseName, type RequestRecord, type TimelineSample} from '../measure/types.js';
import {checkDatasetAvailable, loadPrompts, truncateToTokens, assertCanTruncate} from '../datasets/index.js';
import {classifyFailure, launchLocalServer, reapStaleServers, findFreePort, type RunningServer} from '../runner/index.js';
import {runWorkload, sendRequest, type LoadMode, type Prompt, type RequestTemplate} from '../workload/index.js';
import {startSampler, phaseEnergy, probeNvml, probeRapl, resolveGpus, type ChannelInfo, type NvmlProbe, type Sampler, type SamplerConfig} from '../meters/index.js';
import {loadModelInfo, type ModelInfo} from '../flops/index.js';
import {acquireDeviceLocks, collectProvenance, hashModel, probeEngineVersion, type DeviceLocks, type EngineVersion} from '../provenance/index.js';
import {VERSION} from '../version.js';
import {environmentInfo, isLoopbackHost, listeningProcess, pinLem, unpinLem, type Pinning} from './environment.js';
import {computeMetrics, sampleCoverage, type PhaseEnergyInput, type RunMetrics} from './metrics.js';
import {requestMetrics} from '../workload/stats.js';
import {buildResult, writeRunFiles, type ExperimentResult, type PhaseRecord, type ResultWarning, type WorkloadInfo} from '../results/result.js';

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
}

export interface ExperimentOutcome {
  status: 'completed' | 'failed';
  runDir: string;
  result: ExperimentResult;
  error?: RunError;
}

/** Period of the event-loop delay probe during measure, ms. */
const LOOP_RESOLUTION_MS = 2;

/** Failed requests above this fraction fail the run (`runtime`); fewer are counted and reported. */
export const MAX_FAILED_FRACTION = 0.05;

function timestamp(date = new Date()): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.(\d{3})Z$/, '$1Z');
}

/** Everything that can be checked before a server starts (DESIGN: fail before anything launches). */
/** The GPUs of a run, as NVML knows them. */
interface GpuSelection {
  uuids: string[];
  probe: NvmlProbe | null;
}

/** The powercap root: the option, $LEM_POWERCAP_ROOT (a copied or bind-mounted tree), else /sys/class/powercap. */
function raplRoot(opts: RunExperimentOptions): string | undefined {
  return opts.meterRoots?.raplRoot ?? (opts.env ?? process.env).LEM_POWERCAP_ROOT;
}

function nvmlLibrary(opts: RunExperimentOptions): string | undefined {
  return opts.meterRoots?.nvmlLibrary ?? (opts.env ?? process.env).LEM_NVML_LIBRARY;
}

/** Everything that can be checked before a server starts (DESIGN: fail before anything launches). */
async function preflight(opts: RunExperimentOptions): Promise<GpuSelection> {
  const {settings, backend} = opts.resolved;
  if (backend && !backend.contribution.local && settings.runner === 'local') {
    throw configError('E_RUNNER_UNSUPPORTED', `backend ${backend.contribution.id} cannot run as a local process`, ['--runner docker']);
  }
  if (backend?.contribution.gpu === 'required' && settings.gpus.length === 0) {
    throw configError('E_GPU_REQUIRED', `backend ${backend.contribution.id} needs a GPU and the experiment gives it none`, ['gpus: [0]   # or a GPU UUID']);
  }
  if (backend) {
    // A model given as a path must exist before a server is started for it (a hub id is the backend's business).
    const model = resolveModelPath(settings.model, opts.baseDir);
    if (model !== settings.model && !existsSync(model)) {
      throw configError('E_MODEL_NOT_FOUND', `the model ${model} does not exist`, [
        'check `model:` (a relative path is resolved from the experiment file\'s folder)',
        'lem llamacpp tiny-model models/tiny.gguf   # a small test model',
      ]);
    }
  }
  await checkDatasetAvailable(settings.dataset, {baseDir: opts.baseDir, cacheDir: opts.cacheDir});
  if ('max_input_tokens' in settings.dataset && settings.dataset.max_input_tokens !== undefined) {
    assertCanTruncate(backend === null ? false : true);
  }
  const wanted = settings.measure.meters ?? [];
  let selection: GpuSelection = {uuids: [], probe: null};
  if (settings.gpus.length > 0 || wanted.includes('nvml')) {
    const probe = probeNvml({libraryPath: nvmlLibrary(opts)});
    if (!probe.available) {
      throw configError('E_GPU_UNAVAILABLE', `GPUs were asked for but NVML cannot be used: ${probe.reason}`, [
        'remove gpus: (and nvml from measure.meters) to run on the CPU',
        'check that nvidia-smi works on this machine (inside a container: the utility driver capability)',
      ]);
    }
    if (settings.gpus.length === 0) {
      throw configError('E_METER_UNAVAILABLE', 'measure.meters asks for nvml but the experiment gives no GPU to measure', ['gpus: [0]   # the GPUs the server uses']);
    }
    selection = {uuids: resolveGpus(settings.gpus, probe), probe};
  }
  if (wanted.includes('rapl')) {
    const probe = probeRapl(raplRoot(opts));
    if (!probe.available) throw configError('E_METER_UNAVAILABLE', `the rapl meter is not available here: ${probe.reason}`, ['remove rapl from measure.meters to use the estimate, or fix the reason above']);
  }
  return selection;
}

/** Picks meters: what the settings ask for, else RAPL where present, else the labelled CPU estimate; NVML for the experiment's GPUs. */
function meterConfig(opts: RunExperimentOptions, pgid: number, serverCpus: number, gpuUuids: string[]): SamplerConfig['meters'] {
  const wanted = opts.resolved.settings.measure.meters;
  const rapl = probeRapl(raplRoot(opts));
  const raplWanted = wanted ? wanted.includes('rapl') : rapl.available;
  const estimateWanted = wanted ? wanted.includes('cpu-estimate') : !rapl.available;
  const nvmlWanted = wanted ? wanted.includes('nvml') : true;
  const meters: SamplerConfig['meters'] = [];
  if (raplWanted && rapl.available) meters.push({kind: 'rapl', root: raplRoot(opts)});
  if (estimateWanted) meters.push({kind: 'cpu-estimate', procRoot: opts.meterRoots?.procRoot, pgid, cpus: serverCpus});
  if (nvmlWanted && gpuUuids.length > 0) meters.push({kind: 'nvml', uuids: gpuUuids, pgid, libraryPath: nvmlLibrary(opts), procRoot: opts.meterRoots?.procRoot});
  return meters;
}

export async function runExperiment(opts: RunExperimentOptions): Promise<ExperimentOutcome> {
  const {resolved} = opts;
  const {settings} = resolved;
  const emit = (e: ExperimentEvent) => opts.onEvent?.(e);
  const runDir = join(opts.resultsDir, `${settings.name}-${timestamp()}`);
  const {t0Ns, anchor} = makeAnchor();
  let prompts: Awaited<ReturnType<typeof loadPrompts>>;
  // The model's shape, for the FLOPs estimate: from the GGUF header, a config.json, or the hub.
  const modelRef = resolved.backend ? resolveModelPath(settings.model, opts.baseDir) : settings.model;
  let model: {ref: string; info: ModelInfo | null; reason?: string};
  let gpus: GpuSelection;
  try {
    gpus = await preflight(opts);
    prompts = await loadPrompts(settings.dataset, {baseDir: opts.baseDir, cacheDir: opts.cacheDir});
    const modelInfo = await loadModelInfo(modelRef, {baseDir: opts.baseDir, env: opts.env ?? process.env, timeoutMs: 5000});
    model = modelInfo.available ? {ref: modelRef, info: modelInfo.info} : {ref: modelRef, info: null, reason: modelInfo.reason};
  } catch (error) {
    // Nothing was launched; the attempt is still recorded, as failed with its category.
    const failure = toRunError(error, null);
    mkdirSync(runDir, {recursive: true});
    const result = buildResult({
      status: 'failed',
      failure: {category: failure.category, code: failure.code, message: failure.message, try: failure.try, serverOutput: []},
      resolved,
      experimentFile: opts.experimentFile ?? null,
      anchor,
      environment: environmentInfo(),
      server: {backend: settings.backend, plugin: resolved.backend ? `${resolved.backend.plugin.name}@${resolved.backend.plugin.version}` : null, argv: null, baseUrl: settings.base_url ?? ''},
      phases: [],
      boundaries: [],
      channels: [],
      sampling: null,
      energyNullReason: null,
      warmup: null,
      client: {eventLoopDelay: null, clientCpuS: null, pinning: null},
      metrics: null,
      warnings: [],
    });
    writeRunFiles(runDir, result, [], []);
    return {status: 'failed', runDir, result, error: failure};
  }

  const stateDir = join(opts.projectRoot, '.lem-state');
  mkdirSync(stateDir, {recursive: true});
  await reapStaleServers(stateDir);

  mkdirSync(runDir, {recursive: true});
  emit({type: 'start', name: settings.name, runDir, backend: settings.backend});

  const phases: PhaseRecord[] = [];
  const boundaries: Boundary[] = [];
  const records: RequestRecord[] = [];
  const warnings: ResultWarning[] = [];
  const warn = (w: ResultWarning) => {
    warnings.push(w);
    emit({type: 'warning', warning: w});
  };
  let server: RunningServer | null = null;
  let sampler: Sampler | null = null;
  let channels: ChannelInfo[] = [];
  let samples: TimelineSample[] = [];
  let samplerStats: {jitterMs: {p50: number; p99: number; max: number}; missedTicks: number} | null = null;
  let pinning: Pinning | null = null;
  let energyNullReason: string | null = null;
  let baseUrl = '';
  let serverArgv: string[] | null = null;
  // What the backend asked for: request extras, tokenize path and failure patterns come from it.
  let launched: ServerSpec | null = null;
  let failure: RunError | undefined;
  let metrics: RunMetrics | null = null;
  let warmupInfo: ExperimentResult['warmup'] = null;
  let workloadInfo: WorkloadInfo | null = null;
  const loopDelay = monitorEventLoopDelay({resolution: LOOP_RESOLUTION_MS});
  let clientCpuS: number | null = null;
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort(opts.signal?.reason ?? new Error('interrupted'));
  opts.signal?.addEventListener('abort', onOuterAbort, {once: true});
  const agent = new Agent({keepAlive: true, maxSockets: Math.max(64, settings.workload.concurrency * 2)});
  let nextId = 0;
  // Set once teardown starts, so the server's own exit is not taken for a crash.
  let stopping = false;

  const boundary = async (label: string) => {
    if (!sampler) return;
    boundaries.push(await sampler.boundary(label));
  };
  const phase = async <T>(name: PhaseName, body: () => Promise<T>): Promise<T> => {
    if (abort.signal.aborted) throw interruption();
    emit({type: 'phase', phase: name, state: 'start'});
    await boundary(`${name}:start`);
    const startMs = msSince(t0Ns);
    try {
      return await body();
    } finally {
      await boundary(`${name}:end`).catch(() => undefined);
      const endMs = msSince(t0Ns);
      phases.push({name, startMs, endMs, durationMs: endMs - startMs});
      emit({type: 'phase', phase: name, state: 'end'});
    }
  };
  const interruption = () => runError('E_INTERRUPTED', 'the experiment was interrupted', [`lem experiment ${opts.experimentFile ?? '<file>'} to run it again`], 'interrupted');

  let locks: DeviceLocks | null = null;
  let engineVersion: EngineVersion | null = null;
  try {
    // ---------------------------------------------------------------- devices
    // Two lem runs must never measure the same device at once: lock the CPU and the GPUs for the whole run.
    const measuredHere = resolved.backend !== null || isLoopbackHost(new URL(settings.base_url ?? 'http://127.0.0.1').hostname);
    if (measuredHere) {
      locks = await acquireDeviceLocks(['cpu', ...gpus.uuids], {
        lockDir: opts.lockDir ?? (opts.env ?? process.env).LEM_LOCK_DIR ?? join(tmpdir(), 'lem-device-locks'),
        waitS: opts.waitForDevicesS ?? 0,
        signal: abort.signal,
      });
      for (const device of locks.tookOver) warn({code: 'W_STALE_LOCK', message: `took over the lock of ${device} left by a lem process that is gone`});
    }

    // ---------------------------------------------------------------- launch
    const backend = resolved.backend;
    const local = backend !== null;
    pinning = local ? pinLem() : null;
    const serverCpus = pinning?.serverCpus ?? [];
    if (!local) {
      const url = new URL(settings.base_url!);
      baseUrl = settings.base_url!;
      if (!isLoopbackHost(url.hostname)) {
        energyNullReason = 'remote-endpoint';
      } else {
        const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
        const owner = listeningProcess(port, opts.meterRoots?.procRoot);
        const meters = owner ? meterConfig(opts, owner.pgid, availableParallelism(), gpus.uuids) : [];
        if (owner && meters.length) sampler = await startSampler({meters, intervalMs: settings.measure.sample_interval_ms, t0Ns: t0Ns.toString()});
        else energyNullReason = owner ? 'no-meter' : 'endpoint-process-not-found';
      }
    } else {
      // The sampler starts before the server so that launch energy is measured too; it learns the server's process group once it exists.
      // Attributed vCPUs: the server's pinned set, else every CPU (it may use them all).
      const meters = meterConfig(opts, 0, serverCpus.length || availableParallelism(), gpus.uuids);
      if (meters.length) sampler = await startSampler({meters, intervalMs: settings.measure.sample_interval_ms, t0Ns: t0Ns.toString()});
      else energyNullReason = 'no-meter';
    }
    channels = sampler?.channels ?? [];
    const rapl = probeRapl(raplRoot(opts));
    if (!rapl.available && (rapl.code === 'permission-denied' || rapl.code === 'unreadable')) {
      warn({code: 'W_RAPL_UNREADABLE', message: `RAPL counters exist but cannot be read (${rapl.reason}); CPU energy is estimated instead`});
    }

    await phase('launch', async () => {
      if (!backend) {
        emit({type: 'phase', phase: 'launch', state: 'start', detail: `endpoint ${baseUrl}`});
        return;
      }
      const port = await findFreePort();
      const workdir = join(stateDir, 'work', `${settings.name}-${process.pid}-${port}`);
      mkdirSync(workdir, {recursive: true});
      const model = resolveModelPath(settings.model, opts.baseDir);
      const planned: ServerSpec = backend.contribution.server(resolved.backendConfig, {
        model,
        port,
        gpus: gpus.uuids,
        workdir,
        threads: Math.max(1, serverCpus.length),
        runner: 'local',
      });
      // A local server sees exactly the experiment's GPUs (CUDA accepts UUIDs); without any, none.
      const spec: ServerSpec = {...planned, env: {...planned.env, CUDA_VISIBLE_DEVICES: gpus.uuids.join(',')}};
      serverArgv = spec.argv;
      launched = spec;
      server = await launchLocalServer({
        spec,
        model,
        stateDir,
        workdir,
        cpus: pinning?.applied ? serverCpus : undefined,
        onLine: (line) => emit({type: 'server-line', line}),
        onWarning: (message) => warn({code: 'W_RUNNER', message}),
        signal: abort.signal,
      });
      serverArgv = server.argv;
      baseUrl = `http://127.0.0.1:${spec.port}`;
      sampler?.setPgid?.(server.pid);
      engineVersion = await probeEngineVersion(baseUrl, spec.versionProbe);
      // A server that dies mid-run aborts the workload at once instead of failing request by request.
      void server.exited.then((exit) => {
        if (!abort.signal.aborted && !stopping) abort.abort(serverDied(server!, exit, spec));
      });
    });

    const spec = launched as ServerSpec | null;
    // Fixed output length: the backend says how (its request extras); an endpoint gets the common `ignore_eos`.
    const extras = settings.workload.fixed_output_length ? (spec ? (spec.requestExtras ?? {}) : {ignore_eos: true}) : {};
    const apiKey = settings.api_key_env ? (opts.env ?? process.env)[settings.api_key_env] : undefined;
    const template: RequestTemplate = {
      baseUrl,
      api: settings.workload.api,
      model: settings.model,
      maxTokens: settings.workload.max_output_tokens,
      temperature: settings.workload.temperature,
      seed: settings.workload.seed,
      extras,
      timeoutMs: settings.workload.request_timeout_s * 1000,
      apiKey,
      tokenizePath: spec?.tokenizePath,
    };

    let measurePrompts: Prompt[] = prompts.map((p) => ({index: p.index, text: p.text}));
    if ('max_input_tokens' in settings.dataset && settings.dataset.max_input_tokens !== undefined) {
      measurePrompts = await truncateToTokens(measurePrompts, settings.dataset.max_input_tokens, tokenizerOf(baseUrl, spec?.tokenizePath ?? '/tokenize'));
    }

    const progress = (name: PhaseName, target: number) => {
      let sent = 0;
      let done = 0;
      let failed = 0;
      let outputTokens = 0;
      let lastEmitNs = 0n;
      const push = (force = false) => {
        const now = monoNs();
        // At most 10 updates a second: the display cannot show more, and each costs the event loop.
        if (!force && now - lastEmitNs < 100_000_000n) return;
        lastEmitNs = now;
        emit({type: 'progress', phase: name, sent, done, failed, outputTokens, target});
      };
      return {
        onStart: () => {
          sent++;
          push();
        },
        onDone: (r: RequestRecord) => {
          done++;
          if (!r.ok) failed++;
          outputTokens += r.outputTokens ?? 0;
          records.push(r);
          push(done === target);
        },
      };
    };
    const drive = async (name: PhaseName, list: Prompt[], mode: LoadMode) => {
      const p = progress(name, list.length);
      const result = await runWorkload({template, prompts: list, mode, phase: name, t0Ns, firstId: nextId, onStart: p.onStart, onDone: p.onDone, signal: abort.signal});
      nextId += list.length;
      if (abort.signal.aborted) throw abortReason(abort.signal);
      return result;
    };

    // ---------------------------------------------------------------- warmup
    const concurrency = settings.workload.concurrency;
    await phase('warmup', async () => {
      const w = settings.warmup;
      const fixed = measurePrompts[0]!;
      if (w.mode === 'fixed') {
        const n = Math.max(w.requests, concurrency);
        await drive('warmup', Array.from({length: n}, (_, i) => measurePrompts[i % measurePrompts.length]!), {kind: 'closed', concurrency});
        warmupInfo = {mode: 'fixed', requests: n, warmupConverged: null, finalCv: null};
        return;
      }
      // Convergence: one request at a time on one fixed prompt until per-request ITL settles.
      const itls: number[] = [];
      let cv: number | null = null;
      let converged = false;
      const p = progress('warmup', w.max_requests);
      while (itls.length < w.max_requests) {
        p.onStart();
        const r = await sendRequest(template, fixed, {t0Ns, id: nextId++, phase: 'warmup', scheduledMs: msSince(t0Ns), agent, signal: abort.signal});
        p.onDone(r);
        if (abort.signal.aborted) throw abortReason(abort.signal);
        const itl = requestMetrics(r).itlMs;
        if (r.ok && itl !== null) itls.push(itl);
        else if (!r.ok && itls.length === 0 && records.filter((x) => x.phase === 'warmup' && !x.ok).length >= 3) break;
        if (itls.length >= Math.max(w.min_requests, w.window)) {
          cv = coefficientOfVariation(itls.slice(-w.window));
          if (cv < w.cv_threshold) {
            converged = true;
            break;
          }
        }
      }
      if (itls.length < concurrency) {
        const extra = concurrency - itls.length;
        await drive('warmup', Array.from({length: extra}, () => fixed), {kind: 'closed', concurrency});
      }
      warmupInfo = {mode: 'convergence', requests: records.filter((r) => r.phase === 'warmup').length, warmupConverged: converged, finalCv: cv};
      if (!converged) warn({code: 'W_WARMUP_NOT_CONVERGED', message: `warm-up stopped after ${w.max_requests} requests without ITL settling (last CV ${cv === null ? 'n/a' : (cv * 100).toFixed(1)} % ≥ ${w.cv_threshold * 100} %)`});
    });

    const warmupRecords = records.filter((r) => r.phase === 'warmup');
    if (warmupRecords.length > 0 && warmupRecords.every((r) => !r.ok)) {
      // Nothing works: say why now rather than after a measure phase of failures.
      const first = warmupRecords[0]!.error;
      throw runError('E_WARMUP_FAILED', `every warm-up request failed: ${first?.kind ?? 'error'}: ${first?.message ?? 'unknown'}`, [
        backend ? 'read the server output in result.json (failure.serverOutput)' : `check that ${baseUrl} is up and serves the model "${settings.model}"`,
      ], 'runtime');
    }

    // ---------------------------------------------------------------- idle
    await phase('idle', async () => {
      await sleep(settings.measure.baseline_s * 1000, undefined, {signal: abort.signal}).catch(() => {
        throw abortReason(abort.signal);
      });
    });

    // ---------------------------------------------------------------- rewarm + measure
    await phase('rewarm', () => drive('rewarm', Array.from({length: concurrency}, (_, i) => measurePrompts[i % measurePrompts.length]!), {kind: 'closed', concurrency}));
    const rate = settings.workload.request_rate;
    const mode: LoadMode = rate === undefined ? {kind: 'closed', concurrency} : rate === 'inf' ? {kind: 'burst'} : {kind: 'open', ratePerS: rate, seed: settings.workload.seed};
    const cpuBefore = process.cpuUsage();
    loopDelay.enable();
    await phase('measure', async () => {
      const w = await drive('measure', measurePrompts, mode);
      workloadInfo = {
        mode: mode.kind,
        steadyWindow: w.steadyState,
        targetRatePerS: w.targetRatePerS,
        achievedRatePerS: w.achievedRatePerS,
        sendLagMs: w.sendLagMs,
        maxInFlight: w.maxInFlight,
      };
    });
    loopDelay.disable();
    const cpu = process.cpuUsage(cpuBefore);
    clientCpuS = (cpu.user + cpu.system) / 1e6;
  } catch (error) {
    failure = toRunError(error, server);
  } finally {
    opts.signal?.removeEventListener('abort', onOuterAbort);
    // ---------------------------------------------------------------- teardown
    stopping = true;
    const teardownStartMs = msSince(t0Ns);
    emit({type: 'phase', phase: 'teardown', state: 'start'});
    await boundary('teardown:start').catch(() => undefined); // a broken sampler is reported when it stops
    try {
      if (server) await (server as RunningServer).stop();
    } catch (error) {
      failure ??= toRunError(error, server);
    }
    agent.destroy();
    if (sampler) {
      try {
        boundaries.push(await sampler.boundary('teardown:end'));
        const stopped = await sampler.stop();
        samples = stopped.samples;
        samplerStats = {jitterMs: stopped.jitterMs, missedTicks: stopped.missedTicks};
      } catch (error) {
        failure ??= toRunError(error, null);
      }
    }
    if (pinning?.applied) unpinLem([...pinning.lemCpus, ...pinning.serverCpus].sort((a, b) => a - b));
    locks?.release();
    const teardownEndMs = msSince(t0Ns);
    phases.push({name: 'teardown', startMs: teardownStartMs, endMs: teardownEndMs, durationMs: teardownEndMs - teardownStartMs});
    emit({type: 'phase', phase: 'teardown', state: 'end'});
  }

  // ---------------------------------------------------------------- figures
  const measured = records.filter((r) => r.phase === 'measure');
  if (measured.length > 0) {
    metrics = computeMetrics({
      records: measured,
      energy: energyOf('measure', boundaries, channels, energyNullReason, samples),
      idle: idleInput(phases, boundaries, channels, energyNullReason, samples),
      samples,
      steadyWindow: (workloadInfo as WorkloadInfo | null)?.steadyWindow ?? null,
      channels,
      energyNullReason,
      boundaries,
      model,
      intervalMs: settings.measure.sample_interval_ms,
    });
    if (!failure && metrics.requests.failedFraction > MAX_FAILED_FRACTION) {
      failure = runError(
        'E_REQUESTS_FAILED',
        `${metrics.requests.failed} of ${metrics.requests.sent} measured requests failed (${(metrics.requests.failedFraction * 100).toFixed(1)} % > ${MAX_FAILED_FRACTION * 100} %)`,
        ['look at requests.jsonl in the result folder for the errors; raise workload.request_timeout_s if they timed out'],
        'runtime',
      );
    }
  }
  // The histogram records the whole interval between its timer's runs; the delay is what exceeds the resolution.
  const lag = (ns: number) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
  const loop = loopDelay.count > 0 ? {p50Ms: lag(loopDelay.percentile(50)), p99Ms: lag(loopDelay.percentile(99)), maxMs: lag(loopDelay.max)} : null;
  for (const w of deriveWarnings({metrics, settings, samples, channels, loop, records: measured})) warn(w);

  const provenance = collectProvenance({
    lemVersion: VERSION,
    plugins: opts.plugins ?? (resolved.backend ? [resolved.backend.plugin] : []),
    engine: engineVersion,
    serverArgv,
    model: resolved.backend ? await hashModel(modelRef, {cacheDir: opts.cacheDir}) : {kind: 'hub', id: settings.model, revision: null},
    gpus: gpus.probe?.available
      ? gpus.probe.devices.filter((d) => gpus.uuids.includes(d.uuid)).map((d) => ({...d, driverVersion: (gpus.probe as {driverVersion: string}).driverVersion}))
      : [],
    redact: (text) => resolved.redactor.text(text),
  });
  const result = buildResult({
    provenance,
    status: failure ? 'failed' : 'completed',
    failure: failure
      ? {
          category: failure.category,
          code: failure.code,
          message: failure.message,
          try: failure.try,
          // A launch that failed has no server object: its last lines travel in the error's details.
          serverOutput: (server as RunningServer | null)?.outputTail() ?? (failure.details ?? []).map((d) => d.message),
        }
      : null,
    resolved,
    experimentFile: opts.experimentFile ?? null,
    anchor,
    environment: environmentInfo(),
    server: {backend: settings.backend, plugin: resolved.backend ? `${resolved.backend.plugin.name}@${resolved.backend.plugin.version}` : null, argv: serverArgv, baseUrl},
    // Every phase's energy, from its own boundary reads (launch and teardown included).
    phases: phases.map((p) => ({...p, energy: energyOf(p.name, boundaries, channels, energyNullReason, samples)})),
    boundaries,
    channels,
    sampling: samplerStats
      ? {
          intervalMs: settings.measure.sample_interval_ms,
          samples: samples.length,
          ...samplerStats,
          coverage: metrics ? sampleCoverage(samples, metrics.window, settings.measure.sample_interval_ms) : null,
        }
      : null,
    energyNullReason,
    warmup: warmupInfo,
    workload: workloadInfo,
    model,
    client: {eventLoopDelay: loop, clientCpuS, pinning},
    metrics,
    warnings,
  });
  writeRunFiles(runDir, result, records, samples);
  return {status: failure ? 'failed' : 'completed', runDir, result, error: failure};
}

function coefficientOfVariation(values: number[]): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  if (mean === 0) return Infinity;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1);
  return Math.sqrt(variance) / mean;
}

function resolveModelPath(model: string, baseDir: string): string {
  // A path-looking model is relative to the experiment file; a hub id (org/name) is left alone.
  if (model.startsWith('/') || model.startsWith('.') || /\.gguf$/i.test(model)) return resolve(baseDir, model);
  return model;
}

/** The server's llama.cpp-style tokenizer: `POST tokenizePath {content}` and its `/detokenize` sibling. */
function tokenizerOf(baseUrl: string, tokenizePath: string) {
  const detokenizePath = tokenizePath.replace(/tokenize$/, 'detokenize');
  const post = async (path: string, body: unknown) => {
    const res = await fetch(new URL(path, baseUrl), {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)});
    if (!res.ok) throw runError('E_TOKENIZE_FAILED', `${path} answered ${res.status}`, ['check that the backend serves a llama.cpp-style tokenizer'], 'runtime');
    return res.json() as Promise<Record<string, unknown>>;
  };
  return {
    tokenize: async (text: string) => (await post(tokenizePath, {content: text})).tokens as number[],
    detokenize: async (tokens: number[]) => (await post(detokenizePath, {tokens})).content as string,
  };
}

function abortReason(signal: AbortSignal): RunError {
  const reason = signal.reason as unknown;
  if (isRunError(reason)) return reason;
  return runError('E_INTERRUPTED', 'the experiment was interrupted', ['run it again'], 'interrupted');
}

function serverDied(server: RunningServer, exit: {code: number | null; signal: string | null}, spec: ServerSpec): RunError {
  const tail = server.outputTail();
  return runError(
    'E_SERVER_DIED',
    `the server exited during the run (${exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`})`,
    ['read the server output below; the run is recorded as failed'],
    // The runner's classification: the backend's error patterns plus the common out-of-memory texts.
    classifyFailure(tail, exit.code, spec),
    tail.slice(-20).map((line) => ({message: line})),
  );
}

function toRunError(error: unknown, server: RunningServer | null): RunError {
  if (isRunError(error)) return error;
  if (isCodedError(error)) {
    const category: FailureCategory = error.exitCode === 2 ? 'config' : error.exitCode === 130 ? 'interrupted' : 'runtime';
    return Object.assign(error, {category});
  }
  const message = error instanceof Error ? error.message : String(error);
  return runError('E_RUN_FAILED', message, ['run again with --verbose'], 'runtime', server?.outputTail().slice(-20).map((line) => ({message: line})), error);
}

function findBoundary(boundaries: Boundary[], label: string): Boundary | undefined {
  return boundaries.find((b) => b.label === label);
}

/**
 * Energy of a phase from its boundary reads; `samples` lets power-only channels (a GPU without an
 * energy counter) be integrated over the timeline, and sharpen each edge's uncertainty.
 */
export function energyOf(phaseName: PhaseName, boundaries: Boundary[], channels: ChannelInfo[], nullReason: string | null, samples?: TimelineSample[]): PhaseEnergyInput {
  if (nullReason) return {energyJ: null, uncertaintyJ: null, estimated: false, channels: [], reason: nullReason};
  const start = findBoundary(boundaries, `${phaseName}:start`);
  const end = findBoundary(boundaries, `${phaseName}:end`);
  if (!start || !end || channels.length === 0) return {energyJ: null, uncertaintyJ: null, estimated: false, channels: [], reason: 'no-meter'};
  const e = phaseEnergy(start, end, channels, samples);
  return {energyJ: e.energyJ, uncertaintyJ: e.uncertaintyJ, estimated: e.estimated, channels: e.channels, ...(e.energyJ === null ? {reason: e.reason ?? 'invalid-counter'} : {})};
}

export function idleInput(phases: PhaseRecord[], boundaries: Boundary[], channels: ChannelInfo[], nullReason: string | null, samples?: TimelineSample[]) {
  const idle = phases.find((p) => p.name === 'idle');
  if (!idle || idle.durationMs <= 0) return null;
  const s = findBoundary(boundaries, 'idle:start');
  const e = findBoundary(boundaries, 'idle:end');
  return {energy: energyOf('idle', boundaries, channels, nullReason, samples), durationS: s && e ? (e.atMs - s.atMs) / 1000 : idle.durationMs / 1000};
}

export function deriveWarnings(input: {
  metrics: RunMetrics | null;
  settings: ResolvedExperiment['settings'];
  samples: TimelineSample[];
  channels: ChannelInfo[];
  loop: {p50Ms: number; p99Ms: number; maxMs: number} | null;
  records: RequestRecord[];
}): ResultWarning[] {
  const out: ResultWarning[] = [];
  const m = input.metrics;
  if (!m) return out;
  if (m.window.durationS < 10) out.push({code: 'W_SHORT_WINDOW', message: `the measure window is ${m.window.durationS.toFixed(2)} s (< 10 s): energy quantisation and start-up effects weigh more`});
  const ticks = new Set(input.samples.filter((s) => s.scheduledMs >= m.window.startMs && s.scheduledMs <= m.window.endMs).map((s) => s.scheduledMs)).size;
  if (input.channels.length > 0 && ticks < 10) out.push({code: 'W_FEW_SAMPLES', message: `only ${ticks} meter samples fall in the measure window (< 10)`});
  if (m.energy.available && m.energy.estimated) out.push({code: 'W_ENERGY_ESTIMATED', message: 'energy is estimated from CPU time with a per-vCPU power model, not measured by a counter'});
  if (m.requests.failed > 0) out.push({code: 'W_FAILED_REQUESTS', message: `${m.requests.failed} of ${m.requests.sent} measured requests failed (${(m.requests.failedFraction * 100).toFixed(1)} %); they are excluded from the figures`});
  const maxTokens = input.settings.workload.max_output_tokens;
  if (m.tokens.meanOutput !== null && m.tokens.meanOutput < 0.95 * maxTokens) {
    out.push({code: 'W_SHORT_OUTPUTS', message: `mean output is ${m.tokens.meanOutput.toFixed(1)} tokens, below 95 % of max_output_tokens (${maxTokens}): per-token figures compare poorly across configurations`});
  }
  if (m.tokens.output === null) out.push({code: 'W_NO_TOKEN_COUNTS', message: 'the server gave no token counts (no usage, no tokenize path): per-token figures are null'});
  if (m.energy.available) {
    for (const c of m.energy.channels) if (c.invalid) out.push({code: 'W_COUNTER_RESET', message: `${c.meter} ${c.channel}: ${c.invalid}; its energy is null for this window`});
  }
  for (const g of m.gpus) {
    const {start, end, max} = g.temperatureC;
    if (start !== null && ((end !== null && Math.abs(end - start) > 10) || (max !== null && max - start > 10))) {
      out.push({code: 'W_TEMPERATURE_DRIFT', message: `${g.uuid} went from ${start} °C to ${end} °C (max ${max} °C) during the window (> 10 °C): power rises with heat; leave longer gaps or cool down between runs`});
    }
    const throttled = Object.entries(g.throttledS).filter(([, seconds]) => seconds > 0);
    if (throttled.length > 0) out.push({code: 'W_THROTTLED', message: `${g.uuid} was throttled during the window: ${throttled.map(([r, sec]) => `${r} ${sec.toFixed(1)} s`).join(', ')}`});
    if (g.foreignProcessesMax > 0) out.push({code: 'W_FOREIGN_GPU_PROCESSES', message: `${g.uuid} ran up to ${g.foreignProcessesMax} compute process(es) that are not the server's: their energy is in the figures`});
    if (g.counterEnergyJ !== null && g.integratedPowerJ !== null && g.counterEnergyJ > 0) {
      const disagreement = Math.abs(g.integratedPowerJ - g.counterEnergyJ) / g.counterEnergyJ;
      if (disagreement > 0.05) {
        out.push({code: 'W_COUNTER_POWER_MISMATCH', message: `${g.uuid}: the energy counter (${g.counterEnergyJ.toFixed(1)} J) and integrated sampled power (${g.integratedPowerJ.toFixed(1)} J) differ by ${(disagreement * 100).toFixed(1)} % (> 5 %); the counter is used`});
      }
    }
  }
  if (input.loop) {
    const itl = m.itlMs?.p50 ?? null;
    if (input.loop.p99Ms > 5 || (itl !== null && input.loop.p99Ms > 0.1 * itl)) {
      out.push({code: 'W_EVENT_LOOP_LAG', message: `lem's event-loop delay p99 was ${input.loop.p99Ms.toFixed(2)} ms during measure${itl !== null ? ` (median ITL ${itl.toFixed(2)} ms)` : ''}: client timing may be inflated`});
    }
  }
  return out;
}
