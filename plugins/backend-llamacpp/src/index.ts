/**
 * @lem/backend-llamacpp — lem's embedded default backend: an OpenAI-compatible server on
 * node-llama-cpp that needs nothing but Node and a GGUF file.
 */
import {basename, dirname, posix} from 'node:path';
import {fileURLToPath} from 'node:url';
import {defineBackend, type ServerContext, type ServerSpec} from '@lem/plugin-kit';
import {configSchema, jsonSchema, type LlamacppConfig} from './schema.js';
import {PLUGIN_VERSION} from './version.js';

/** Absolute path of the server entry (src/ and dist/ sit side by side, so this holds from both). */
export const SERVER_MAIN_PATH = fileURLToPath(new URL('../dist/server/main.js', import.meta.url));

/** The Dockerfile of this backend's image; its folder is the build context (`lem images build llamacpp`). */
export const DOCKERFILE_PATH = fileURLToPath(new URL('../docker/Dockerfile', import.meta.url));

/** The image lem runs this backend in under the docker runner: one per plugin version. */
export const IMAGE_REF = `lem/backend-llamacpp:${PLUGIN_VERSION}`;

/**
 * The launcher every image of this backend has (docker/lem-llamacpp-server): it execs Node on the
 * server's main.js with its arguments. Not under /usr, which a "mounted" image replaces by a mount.
 */
export const CONTAINER_LAUNCHER = '/opt/lem/bin/lem-llamacpp-server';

/** Where the model's folder is mounted, read-only, in the container. */
export const CONTAINER_MODEL_DIR = '/models';

/**
 * Builds the server's launch description. Pure: no file system, network or native calls.
 * `local`: the host's Node on this plugin's main.js. `docker`: argv inside the container (the
 * launcher), the model's folder mounted read-only at /models; the model path must be absolute,
 * as lem resolves it before launch.
 */
export function serverSpec(cfg: LlamacppConfig, ctx: ServerContext): ServerSpec {
  const model = cfg.model_path ?? ctx.model;
  const inContainer = ctx.runner === 'docker';
  const argv = inContainer ? [CONTAINER_LAUNCHER, ...serverFlags(cfg, ctx, posix.join(CONTAINER_MODEL_DIR, basename(model)))] : [process.execPath, SERVER_MAIN_PATH, ...serverFlags(cfg, ctx, model)];
  return {
    argv,
    env: {},
    port: ctx.port,
    ...(inContainer ? {mounts: [{hostPath: dirname(model), containerPath: CONTAINER_MODEL_DIR, readOnly: true}]} : {}),
    // Health answers 503 until the model is loaded; the 1-token completion proves generation works.
    readiness: {healthPath: '/health', probe: 'completion', timeoutS: 120},
    stop: {signal: 'SIGTERM', graceS: 5},
    tokenizePath: '/tokenize',
    metricsPath: '/metrics',
    metrics: {running: 'llamacpp:requests_running', waiting: 'llamacpp:requests_deferred'},
    versionProbe: {kind: 'http', path: '/version'},
    errorPatterns: {
      resource: ['failed to allocate', 'out of memory', 'E_OUT_OF_MEMORY', 'InsufficientMemoryError', 'cudaMalloc failed'],
      // E_IMAGE_INCOMPLETE: the launcher found no Node or no server code (a mounted image run without its mounts).
      config: ['E_MODEL_INVALID', 'E_MODEL_NOT_FOUND', 'E_SERVER_ARGS', 'E_GPU_UNAVAILABLE', 'E_IMAGE_INCOMPLETE'],
    },
    requestExtras: {ignore_eos: true},
  };
}

/** The server's flags, the same on every runner; only the model's path differs. */
function serverFlags(cfg: LlamacppConfig, ctx: ServerContext, model: string): string[] {
  const flags = ['--model', model, '--host', '127.0.0.1', '--port', String(ctx.port), '--threads', String(cfg.threads ?? ctx.threads), '--parallel', String(cfg.parallel), '--gpu-layers', String(cfg.gpu_layers)];
  if (cfg.context_size !== undefined) flags.push('--context-size', String(cfg.context_size));
  if (cfg.batch_size !== undefined) flags.push('--batch-size', String(cfg.batch_size));
  if (cfg.flash_attention) flags.push('--flash-attention');
  return flags;
}

export const backend = defineBackend<LlamacppConfig>({
  id: 'llamacpp',
  displayName: 'llama.cpp (embedded)',
  configSchema,
  jsonSchema,
  gpu: 'optional',
  local: true,
  // LEM_PLUGIN_VERSION: the image installs this very version of the plugin from npm (LEM_SOURCE=npm).
  image: {ref: IMAGE_REF, dockerfile: DOCKERFILE_PATH, buildArgs: {LEM_PLUGIN_VERSION: PLUGIN_VERSION}},
  server: serverSpec,
});

export {configSchema, jsonSchema, DEFAULT_CONTEXT_CAP, DEFAULT_PARALLEL, type LlamacppConfig} from './schema.js';
export {inspectGguf, type GgufSummary, type InspectOptions} from './gguf/validate.js';
export {writeTinyModel, encodeTinyModel, TINY_MODEL_SHAPE, type TinyModelOptions, type TinyModelResult} from './gguf/tiny-model.js';
export {encodeGguf, gguf, writeFileAtomic, type GgufDocument, type GgufTensor, type GgufValue} from './gguf/writer.js';
export {ServerExitCode} from './server/options.js';
