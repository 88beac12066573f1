/**
 * The preflight step: everything that can be checked before anything starts, so that a bad
 * setting costs nothing (DESIGN §5: fail before anything launches). It resolves the model path,
 * probes the meters and the GPUs, reads the prompts, and asks the backend — whose `server()` is
 * pure — what its server will offer (a tokenizer, request extras), once, for the whole run.
 */
import {existsSync} from 'node:fs';
import {resolve} from 'node:path';
import {availableParallelism} from 'node:os';
import type {ServerSpec} from '@lem/plugin-kit';
import {isModelPath, isPlainObject} from '../config/paths.js';
import {configError} from '../errors.js';
import {assertCanTruncate, checkDatasetAvailable, loadPromptSets, type PreparedPrompt} from '../datasets/index.js';
import {loadModelInfo, type ModelInfo} from '../flops/index.js';
import {probeNvml, probeRapl, resolveGpus, type NvmlProbe} from '../meters/index.js';
import {attachEndpoint, type AttachedEndpoint} from '../runner/endpoint.js';
import type {RegisteredBackend} from '../registry.js';
import type {Run} from './context.js';

/** The GPUs of a run, as NVML knows them. */
export interface GpuSelection {
  uuids: string[];
  probe: NvmlProbe | null;
}

/** Which meters the run uses (decided once, from one probe of each). */
export interface MeterPlan {
  rapl: boolean;
  estimate: boolean;
  nvml: boolean;
  raplRoot: string | undefined;
  nvmlLibrary: string | undefined;
  /** A CPU meter is measured: then, and only then, the CPU is locked for the run. */
  cpu: boolean;
}

export interface RunPlan {
  /** The model as the server is given it: a path resolved from the experiment file's folder, or a hub id. */
  modelRef: string;
  /** The model's shape for the FLOPs estimate, or why it is unknown. */
  model: {ref: string; info: ModelInfo | null; reason?: string};
  gpus: GpuSelection;
  meters: MeterPlan;
  /** The backend lem starts, and what its server offers; null for an endpoint. */
  server: {backend: RegisteredBackend; offers: Pick<ServerSpec, 'tokenizePath' | 'requestExtras'>} | null;
  /** The endpoint lem measures without starting it (`backend: openai`); null otherwise. */
  endpoint: AttachedEndpoint | null;
  /** The measured prompts, and the rest of the dataset (held back for warm-up). */
  prompts: {measure: PreparedPrompt[]; heldBack: PreparedPrompt[]};
}

/** A path-looking model is relative to the experiment file; a hub id (org/name) is left alone. */
export function resolveModelPath(model: string, baseDir: string): string {
  if (isModelPath(model)) return resolve(baseDir, model);
  return model;
}

/**
 * The model a backend serves: its section's `model_path` where it gives one (a quantised variant
 * of `model`, the plugins' convention), else `model`. It is the one hashed, read for FLOPs and
 * recorded, so a result describes the file that was served.
 */
export function servedModel(model: string, backendConfig: unknown): string {
  const override = isPlainObject(backendConfig) ? backendConfig.model_path : undefined;
  return typeof override === 'string' ? override : model;
}

export async function preflight(run: Run): Promise<RunPlan> {
  const {settings, backend} = run.resolved;
  const runnerId = run.opts.runner?.id ?? settings.runner;
  if (backend && !backend.contribution.local && runnerId === 'local') {
    throw configError('E_RUNNER_UNSUPPORTED', `backend ${backend.contribution.id} cannot run as a local process`, ['--runner docker']);
  }
  if (backend?.contribution.gpu === 'required' && settings.gpus.length === 0) {
    throw configError('E_GPU_REQUIRED', `backend ${backend.contribution.id} needs a GPU and the experiment gives it none`, ['gpus: [0]   # or a GPU UUID']);
  }
  const served = servedModel(settings.model, run.resolved.backendConfig);
  const modelRef = backend ? resolveModelPath(served, run.opts.baseDir) : settings.model;
  // A model given as a path must exist before a server is started for it (a hub id is the backend's business).
  if (backend && modelRef !== served && !existsSync(modelRef)) {
    throw configError('E_MODEL_NOT_FOUND', `the model ${modelRef} does not exist`, [
      "check `model:` (or the backend's model_path; a relative path is resolved from the folder of the file that gives it)",
      'lem llamacpp tiny-model models/tiny.gguf   # a small test model',
    ]);
  }
  const locations = {baseDir: run.opts.baseDir, cacheDir: run.opts.cacheDir};
  await checkDatasetAvailable(settings.dataset, locations);
  const gpus = selectGpus(run);
  const server = backend ? {backend, offers: serverOffers(run, backend, modelRef, gpus.uuids)} : null;
  if ('max_input_tokens' in settings.dataset && settings.dataset.max_input_tokens !== undefined) {
    assertCanTruncate(server?.offers.tokenizePath !== undefined, backend?.contribution.id ?? 'openai');
  }
  const meters = planMeters(run, gpus);
  const endpoint = backend ? null : attachEndpoint(settings.base_url!, run.opts.meterRoots?.procRoot);
  const prompts = await loadPromptSets(settings.dataset, locations);
  const info = await loadModelInfo(modelRef, {baseDir: run.opts.baseDir, env: run.env, timeoutMs: 5000});
  return {
    modelRef,
    model: info.available ? {ref: modelRef, info: info.info} : {ref: modelRef, info: null, reason: info.reason},
    gpus,
    meters,
    server,
    endpoint,
    prompts,
  };
}

/**
 * What the backend's server will offer, from its pure `server()` with a provisional context (no
 * port yet): the tokenize path (truncation, exact synthetic lengths, token counts) and the
 * request extras. The launch asks again with the real port.
 */
function serverOffers(run: Run, backend: RegisteredBackend, model: string, gpus: string[]): Pick<ServerSpec, 'tokenizePath' | 'requestExtras'> {
  const planned = backend.contribution.server(run.resolved.backendConfig, {
    model,
    port: 0,
    gpus,
    workdir: run.stateDir,
    threads: Math.max(1, availableParallelism() - 1),
    runner: (run.opts.runner?.id ?? run.settings.runner) === 'docker' ? 'docker' : 'local',
  });
  return {tokenizePath: planned.tokenizePath, requestExtras: planned.requestExtras};
}

function selectGpus(run: Run): GpuSelection {
  const {settings} = run;
  const wanted = settings.measure.meters ?? [];
  if (settings.gpus.length === 0 && !wanted.includes('nvml')) return {uuids: [], probe: null};
  const probe = probeNvml({libraryPath: nvmlLibrary(run)});
  if (!probe.available) {
    throw configError('E_GPU_UNAVAILABLE', `GPUs were asked for but NVML cannot be used: ${probe.reason}`, [
      'remove gpus: (and nvml from measure.meters) to run on the CPU',
      'check that nvidia-smi works on this machine (inside a container: the utility driver capability)',
    ]);
  }
  if (settings.gpus.length === 0) {
    throw configError('E_METER_UNAVAILABLE', 'measure.meters asks for nvml but the experiment gives no GPU to measure', ['gpus: [0]   # the GPUs the server uses']);
  }
  return {uuids: resolveGpus(settings.gpus, probe), probe};
}

/** The powercap root: the option, $LEM_POWERCAP_ROOT (a copied or bind-mounted tree), else /sys/class/powercap. */
function raplRoot(run: Run): string | undefined {
  return run.opts.meterRoots?.raplRoot ?? run.env.LEM_POWERCAP_ROOT;
}

function nvmlLibrary(run: Run): string | undefined {
  return run.opts.meterRoots?.nvmlLibrary ?? run.env.LEM_NVML_LIBRARY;
}

/**
 * Meters: what the settings ask for, else RAPL where it can be read, else the labelled CPU
 * estimate (never both: both would count the CPU twice); NVML for the experiment's GPUs.
 */
function planMeters(run: Run, gpus: GpuSelection): MeterPlan {
  const wanted = run.settings.measure.meters;
  const root = raplRoot(run);
  const probe = probeRapl(root);
  if (wanted?.includes('rapl') && !probe.available) {
    throw configError('E_METER_UNAVAILABLE', `the rapl meter is not available here: ${probe.reason}`, ['remove rapl from measure.meters to use the estimate, or fix the reason above']);
  }
  const rapl = wanted ? wanted.includes('rapl') : probe.available;
  const estimate = wanted ? wanted.includes('cpu-estimate') : !probe.available;
  if (estimate && !probe.available && (probe.code === 'permission-denied' || probe.code === 'unreadable')) {
    run.warn({code: 'W_RAPL_UNREADABLE', message: `RAPL counters exist but cannot be read (${probe.reason}); CPU energy is estimated instead`});
  }
  const nvml = (wanted ? wanted.includes('nvml') : true) && gpus.uuids.length > 0;
  return {rapl, estimate, nvml, raplRoot: root, nvmlLibrary: nvmlLibrary(run), cpu: rapl || estimate};
}
