/**
 * @lem/backend-llamacpp — lem's embedded default backend: an OpenAI-compatible server on
 * node-llama-cpp that needs nothing but Node and a GGUF file.
 */
import {fileURLToPath} from 'node:url';
import {defineBackend, type ServerContext, type ServerSpec} from '@lem/plugin-kit';
import {configSchema, jsonSchema, type LlamacppConfig} from './schema.js';

/** Absolute path of the server entry (src/ and dist/ sit side by side, so this holds from both). */
export const SERVER_MAIN_PATH = fileURLToPath(new URL('../dist/server/main.js', import.meta.url));

/** Builds the server's launch description. Pure: no file system, network or native calls. */
export function serverSpec(cfg: LlamacppConfig, ctx: ServerContext): ServerSpec {
  const argv = [
    process.execPath,
    SERVER_MAIN_PATH,
    '--model',
    cfg.model_path ?? ctx.model,
    '--host',
    '127.0.0.1',
    '--port',
    String(ctx.port),
    '--threads',
    String(cfg.threads ?? ctx.threads),
    '--parallel',
    String(cfg.parallel),
    '--gpu-layers',
    String(cfg.gpu_layers),
  ];
  if (cfg.context_size !== undefined) argv.push('--context-size', String(cfg.context_size));
  if (cfg.batch_size !== undefined) argv.push('--batch-size', String(cfg.batch_size));
  if (cfg.flash_attention) argv.push('--flash-attention');
  return {
    argv,
    env: {},
    port: ctx.port,
    // Health answers 503 until the model is loaded; the 1-token completion proves generation works.
    readiness: {healthPath: '/health', probe: 'completion', timeoutS: 120},
    stop: {signal: 'SIGTERM', graceS: 5},
    tokenizePath: '/tokenize',
    metricsPath: '/metrics',
    versionProbe: {kind: 'http', path: '/version'},
    errorPatterns: {
      resource: ['failed to allocate', 'out of memory', 'E_OUT_OF_MEMORY', 'InsufficientMemoryError', 'cudaMalloc failed'],
      config: ['E_MODEL_INVALID', 'E_MODEL_NOT_FOUND', 'E_SERVER_ARGS', 'E_GPU_UNAVAILABLE'],
    },
    requestExtras: {ignore_eos: true},
  };
}

export const backend = defineBackend<LlamacppConfig>({
  id: 'llamacpp',
  displayName: 'llama.cpp (embedded)',
  configSchema,
  jsonSchema,
  gpu: 'optional',
  local: true,
  server: serverSpec,
});

export {configSchema, jsonSchema, DEFAULT_CONTEXT_CAP, DEFAULT_PARALLEL, type LlamacppConfig} from './schema.js';
export {inspectGguf, type GgufSummary, type InspectOptions} from './gguf/validate.js';
export {writeTinyModel, encodeTinyModel, TINY_MODEL_SHAPE, type TinyModelOptions, type TinyModelResult} from './gguf/tiny-model.js';
export {encodeGguf, gguf, writeFileAtomic, type GgufDocument, type GgufTensor, type GgufValue} from './gguf/writer.js';
export {ServerExitCode} from './server/options.js';
