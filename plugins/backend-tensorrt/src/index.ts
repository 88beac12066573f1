/**
 * @lem/backend-tensorrt — NVIDIA TensorRT-LLM's OpenAI-compatible server (`trtllm-serve`,
 * TensorRT-LLM 1.3.0rc5) in NVIDIA's release image. Not bundled with the CLI:
 * `lem plugins install @lem/backend-tensorrt`.
 */
import {fileURLToPath} from 'node:url';
import {defineBackend, type Mount, type ReportedSetting, type ServerContext, type ServerSpec} from '@lem/plugin-kit';
import {CONTAINER_DRAFT_DIR, CONTAINER_MODEL_DIR, OPTIONS_FILE, optionsFileText, placeModel, serverArgs, servedModelRef} from './argv.js';
import {checkConfig} from './check.js';
import {configSchema, jsonSchema, type TensorrtConfig} from './schema.js';
import {PLUGIN_VERSION} from './version.js';

/** The TensorRT-LLM release this plugin drives: its CLI reference is reference/tensorrt-llm-1.3.0rc5.txt. */
export const TRTLLM_VERSION = '1.3.0rc5';

/** The official image the Dockerfile builds on (NGC `nvidia/tensorrt-llm/release`, tags `<version>`). */
export const TRTLLM_BASE_IMAGE = `nvcr.io/nvidia/tensorrt-llm/release:${TRTLLM_VERSION}`;

/** The Dockerfile of this backend's image; its folder is the build context (`lem images build tensorrt`). */
export const DOCKERFILE_PATH = fileURLToPath(new URL('../docker/Dockerfile', import.meta.url));

/** The image lem runs this backend in: one per plugin version. */
export const IMAGE_REF = `lem/backend-tensorrt:${PLUGIN_VERSION}`;

/**
 * The values TensorRT-LLM settles at start-up, from its log (the last match wins). Sources:
 * - tensorrt_llm/_torch/pyexecutor (INFO, "[TRT-LLM] [I] max_seq_len=%d, max_num_requests=%d,
 *   max_num_tokens=%d, max_batch_size=%d"), once the KV cache is sized; max_num_requests is the
 *   batch the scheduler runs with;
 * - the same, WARNING "Adjusted max_seq_len to %d" when the KV cache cannot hold a whole sequence;
 * - cpp/tensorrt_llm/batch_manager/kvCacheManager.cpp (INFO): "Number of tokens per block: %d."
 *   and "[MemUsageChange] Allocated %0.2f GiB for max tokens in paged KV cache (%d).".
 */
export const REPORTED_SETTINGS: ReportedSetting[] = [
  {name: 'max_seq_len', pattern: String.raw`Adjusted max_seq_len to (\d+)`},
  {name: 'max_seq_len', pattern: String.raw`\bmax_seq_len=(\d+), max_num_requests=`},
  {name: 'max_batch_size', pattern: String.raw`\bmax_num_requests=(\d+), max_num_tokens=`},
  {name: 'max_num_tokens', pattern: String.raw`\bmax_num_requests=\d+, max_num_tokens=(\d+)`},
  {name: 'kv_cache_tokens_per_block', pattern: String.raw`Number of tokens per block: (\d+)\.`},
  {name: 'kv_cache_memory_gib', pattern: String.raw`Allocated ([\d.]+) GiB for max tokens in paged KV cache`},
  {name: 'kv_cache_tokens', pattern: String.raw`for max tokens in paged KV cache \((\d+)\)`},
];

/**
 * Substrings of TensorRT-LLM's fatal output, by cause:
 * resource — PyTorch's allocator ("CUDA out of memory. Tried to allocate …", also behind
 * torch.OutOfMemoryError), the C++ runtime's CUDA errors ("[TensorRT-LLM][ERROR] … out of memory");
 * config — click ("Error: Invalid value for '--backend'", "Error: No such option: --x"), pydantic
 * around the LLM API's arguments ("validation error for TorchLlmArgs", "… for TrtLlmArgs",
 * "Extra inputs are not permitted" for a key of the options file that does not exist), and
 * TrtLlmArgs' "KvCacheConfig.dtype is not supported by the TensorRT backend.".
 */
export const ERROR_PATTERNS = {
  resource: ['CUDA out of memory', 'OutOfMemoryError', 'out of memory'],
  config: ['Error: Invalid value for', 'Error: No such option', 'validation error for TorchLlmArgs', 'validation error for TrtLlmArgs', 'Extra inputs are not permitted', 'is not supported by the TensorRT backend'],
};

/** The host folders the models come from, mounted read-only (the served model and any draft model). */
function modelMounts(cfg: TensorrtConfig, ctx: ServerContext): Mount[] {
  const mounts = [placeModel(servedModelRef(cfg, ctx), CONTAINER_MODEL_DIR).mount];
  if (cfg.speculative?.speculative_model !== undefined) mounts.push(placeModel(cfg.speculative.speculative_model, CONTAINER_DRAFT_DIR).mount);
  return mounts.filter((m): m is Mount => m !== undefined);
}

/** Builds the server's launch description. Pure. */
export function serverSpec(cfg: TensorrtConfig, ctx: ServerContext): ServerSpec {
  const mounts = modelMounts(cfg, ctx);
  return {
    argv: serverArgs(cfg, ctx),
    env: {},
    port: ctx.port,
    files: [{path: OPTIONS_FILE, contents: optionsFileText(cfg)}],
    ...(mounts.length > 0 ? {mounts} : {}),
    // TensorRT-LLM's ranks talk through MPI and shared memory: its docs run the image with
    // `--ipc host` on one GPU as on many.
    ipcHost: true,
    // /health answers once the LLM is built (trtllm-serve builds it before the HTTP server
    // starts); the 1-token completion proves the model generates.
    readiness: {healthPath: '/health', probe: 'completion', timeoutS: cfg.startup_timeout_s},
    stop: {signal: 'SIGTERM', graceS: 30},
    // /metrics answers the iteration statistics gathered since the last call, a JSON array of
    // IterationStats (enable_iter_perf_stats in the options file); the last is the newest.
    // No tokenizePath: trtllm-serve has no tokenize route.
    metricsPath: '/metrics',
    metrics: {format: 'json', running: 'numActiveRequests', waiting: 'numQueuedRequests', kvCacheUsage: 'kvCacheStats.usedNumBlocks/kvCacheStats.maxNumBlocks'},
    reportedSettings: REPORTED_SETTINGS,
    // GET /version answers {"version": "<tensorrt_llm version>"}.
    versionProbe: {kind: 'http', path: '/version', pick: 'version'},
    errorPatterns: ERROR_PATTERNS,
    // TensorRT-LLM's extra sampling parameter on completions and chat: EOS no longer ends a
    // request, so each one runs to max_tokens.
    requestExtras: {ignore_eos: true},
  };
}

export const backend = defineBackend<TensorrtConfig>({
  id: 'tensorrt',
  displayName: 'TensorRT-LLM',
  configSchema,
  jsonSchema,
  gpu: 'required',
  local: false,
  image: {ref: IMAGE_REF, dockerfile: DOCKERFILE_PATH},
  apis: ['completions', 'chat'],
  fixedOutputLength: true,
  check: checkConfig,
  server: serverSpec,
});

export {serverArgs, placeModel, servedModelRef, llmApiOptions, optionsFileText, optionsPath, speculativeOptions, CONTAINER_MODEL_DIR, CONTAINER_DRAFT_DIR, OPTIONS_FILE} from './argv.js';
export {checkConfig} from './check.js';
export {
  configSchema,
  jsonSchema,
  DEFAULT_CUDA_GRAPH_MAX_BATCH_SIZE,
  DEFAULT_FREE_GPU_MEMORY_FRACTION,
  DEFAULT_MAX_BATCH_SIZE,
  DEFAULT_MAX_NUM_TOKENS,
  DEFAULT_STARTUP_TIMEOUT_S,
  DTYPES,
  KV_CACHE_DTYPES,
  RUNTIMES,
  type SpeculativeConfig,
  type TensorrtConfig,
} from './schema.js';
