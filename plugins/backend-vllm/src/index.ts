/**
 * @lem/backend-vllm — vLLM's OpenAI-compatible server (`vllm serve`, vLLM 0.22.1) in its official
 * container image.
 */
import {fileURLToPath} from 'node:url';
import {defineBackend, type GeneratedFile, type Mount, type ReportedSetting, type ServerContext, type ServerSpec} from '@lem/plugin-kit';
import {CONTAINER_DRAFT_DIR, CONTAINER_MODEL_DIR, placeModel, serverArgs, servedModelRef} from './argv.js';
import {checkConfig} from './check.js';
import {configSchema, jsonSchema, type VllmConfig} from './schema.js';
import {PLUGIN_VERSION} from './version.js';

/** The vLLM release this plugin drives: its CLI reference is reference/vllm-0.22.1.txt. */
export const VLLM_VERSION = '0.22.1';

/** The official image the Dockerfile builds on (Docker Hub `vllm/vllm-openai`, tags `v<version>`). */
export const VLLM_BASE_IMAGE = `vllm/vllm-openai:v${VLLM_VERSION}`;

/** The Dockerfile of this backend's image; its folder is the build context (`lem images build vllm`). */
export const DOCKERFILE_PATH = fileURLToPath(new URL('../docker/Dockerfile', import.meta.url));

/** The image lem runs this backend in: one per plugin version. */
export const IMAGE_REF = `lem/backend-vllm:${PLUGIN_VERSION}`;

/** The generated Python logging configuration, under the launch's workdir (mounted at the same path). */
export const LOGGING_CONFIG_FILE = 'vllm-logging.json';

/** Bytes of /dev/shm for a one-GPU container (vLLM's docs ask for `--ipc=host` or a larger `--shm-size`, with no figure). */
export const SHM_SIZE_BYTES = 8 * 1024 ** 3;

/**
 * vLLM's own logging, as its default (INFO to stdout, uvicorn's lines included), except that the
 * logger of vllm/engine/arg_utils.py also passes DEBUG: the values vLLM picks for max_num_seqs and
 * max_num_batched_tokens are logged there at DEBUG only, once at start-up. Read through
 * VLLM_LOGGING_CONFIG_PATH (vllm/logger.py; also the API server's default `--log-config-file`,
 * which hands it to uvicorn).
 */
export const LOGGING_CONFIG = {
  version: 1,
  disable_existing_loggers: false,
  formatters: {vllm: {format: '%(levelname)s %(asctime)s [%(filename)s:%(lineno)d] %(message)s', datefmt: '%m-%d %H:%M:%S'}},
  handlers: {vllm: {class: 'logging.StreamHandler', formatter: 'vllm', level: 'DEBUG', stream: 'ext://sys.stdout'}},
  loggers: {
    vllm: {handlers: ['vllm'], level: 'INFO', propagate: false},
    'vllm.engine.arg_utils': {level: 'DEBUG', propagate: true},
    uvicorn: {handlers: ['vllm'], level: 'INFO', propagate: false},
  },
} as const;

/**
 * The values vLLM chooses at start-up, from its log lines (the last match wins). Sources, vLLM 0.22.1:
 * - vllm/engine/arg_utils.py `_set_default_max_num_seqs_and_batched_tokens_args` (DEBUG):
 *   "Defaulting max_num_batched_tokens to %d for %s usage context." and
 *   "Defaulting max_num_seqs to %d for %s usage context.", printed only when the value was not given;
 * - vllm/config/scheduler.py `SchedulerConfig.__post_init__` (INFO):
 *   "Chunked prefill is enabled with max_num_batched_tokens=%d.";
 * - vllm/config/model.py (INFO): "Using max model len %s";
 * - vllm/v1/engine/core.py `EngineCore.__init__` (INFO): "Initializing a V1 LLM engine (v%s) with
 *   config: %s", the VllmConfig's `__str__` (`…, enable_prefix_caching=True,
 *   enable_chunked_prefill=True, …, compilation_config={…, 'cudagraph_mode': <CUDAGraphMode…>, …,
 *   'max_cudagraph_capture_size': 512, …}`);
 * - vllm/v1/worker/gpu_worker.py (INFO): "Available KV cache memory: %s GiB";
 * - vllm/v1/core/kv_cache_utils.py (INFO): "GPU KV cache size: %s tokens" (with thousands
 *   separators, so recorded as text) and "Maximum concurrency for %s tokens per request: %.2fx".
 */
export const REPORTED_SETTINGS: ReportedSetting[] = [
  {name: 'max_num_seqs', pattern: String.raw`Defaulting max_num_seqs to (\d+) for `},
  {name: 'max_num_batched_tokens', pattern: String.raw`Defaulting max_num_batched_tokens to (\d+) for `},
  {name: 'max_num_batched_tokens', pattern: String.raw`Chunked prefill is enabled with max_num_batched_tokens=(\d+)`},
  {name: 'max_model_len', pattern: String.raw`Using max model len (\d+)`},
  {name: 'enable_prefix_caching', pattern: String.raw`with config: .*\benable_prefix_caching=(True|False)\b`},
  {name: 'enable_chunked_prefill', pattern: String.raw`with config: .*\benable_chunked_prefill=(True|False)\b`},
  {name: 'cudagraph_mode', pattern: String.raw`with config: .*'cudagraph_mode': <?CUDAGraphMode\.([A-Z_]+)`},
  {name: 'max_cudagraph_capture_size', pattern: String.raw`with config: .*'max_cudagraph_capture_size': (\d+)`},
  {name: 'kv_cache_memory_gib', pattern: String.raw`Available KV cache memory: (-?[\d.]+) GiB`},
  {name: 'kv_cache_tokens', pattern: String.raw`GPU KV cache size: ([\d,]+) tokens`},
  {name: 'kv_cache_max_concurrency', pattern: String.raw`Maximum concurrency for [\d,]+ tokens per request: ([\d.]+)x`},
];

/**
 * Substrings of vLLM's fatal output, by cause:
 * resource — PyTorch's allocator ("CUDA out of memory. Tried to allocate …"); vllm/v1/core/
 * kv_cache_utils.py "No available memory for the cache blocks. Try increasing
 * `gpu_memory_utilization` …" and "… KV cache is needed, which is larger than the available KV cache
 * memory (… GiB)"; the start-up memory check "Free memory on device (…) on startup is less than
 * desired GPU memory utilization (…)".
 * config — argparse ("vllm serve: error: argument --x: invalid choice …", "error: unrecognized
 * arguments"); pydantic's "1 validation error for ModelConfig" around every config ValueError;
 * vllm/transformers_utils/config.py "Invalid repository ID or local directory specified";
 * vllm/config/model.py "Total number of attention heads (…) must be divisible by tensor parallel
 * size (…)" and "Unknown quantization method: … Must be one of …".
 */
export const ERROR_PATTERNS = {
  resource: ['CUDA out of memory', 'No available memory for the cache blocks', 'larger than the available KV cache memory', 'is less than desired GPU memory utilization'],
  config: [
    'error: argument ',
    'error: unrecognized arguments',
    'validation error for',
    'Invalid repository ID or local directory specified',
    'must be divisible by tensor parallel size',
    'Unknown quantization method',
  ],
};

/** The host folders the models come from, mounted read-only (the served model and any draft model). */
function modelMounts(cfg: VllmConfig, ctx: ServerContext): Mount[] {
  const mounts = [placeModel(servedModelRef(cfg, ctx), CONTAINER_MODEL_DIR).mount];
  if (cfg.speculative?.model !== undefined) mounts.push(placeModel(cfg.speculative.model, CONTAINER_DRAFT_DIR).mount);
  return mounts.filter((m): m is Mount => m !== undefined);
}

/**
 * Builds the server's launch description. Pure. The model is a hub id (downloaded inside the
 * container) or an absolute host path, which is mounted read-only; lem resolves relative paths first.
 */
export function serverSpec(cfg: VllmConfig, ctx: ServerContext): ServerSpec {
  const multiGpu = ctx.gpus.length > 1;
  const mounts = modelMounts(cfg, ctx);
  const files: GeneratedFile[] = [{path: LOGGING_CONFIG_FILE, contents: `${JSON.stringify(LOGGING_CONFIG, null, 2)}\n`}];
  return {
    argv: serverArgs(cfg, ctx),
    env: {
      VLLM_LOGGING_CONFIG_PATH: `${ctx.workdir.replace(/\/+$/, '')}/${LOGGING_CONFIG_FILE}`,
      // No usage report to vLLM's servers from inside a measurement.
      VLLM_NO_USAGE_STATS: '1',
    },
    port: ctx.port,
    files,
    ...(mounts.length > 0 ? {mounts} : {}),
    // PyTorch shares tensors between vLLM's processes through shared memory (vLLM's Docker docs).
    ...(multiGpu ? {ipcHost: true} : {shmSizeBytes: SHM_SIZE_BYTES}),
    // /health answers once the engine is built; the 1-token completion proves the model generates.
    readiness: {healthPath: '/health', probe: 'completion', timeoutS: cfg.startup_timeout_s},
    // SIGTERM: the API server shuts its engine-core and worker processes down first.
    stop: {signal: 'SIGTERM', graceS: 30},
    // No tokenizePath: vLLM's /tokenize takes {model, prompt} and answers {count, max_model_len,
    // tokens}, not the llama.cpp `{content}` → `{tokens}` shape lem posts.
    metricsPath: '/metrics',
    metrics: {
      format: 'prometheus',
      running: 'vllm:num_requests_running',
      waiting: 'vllm:num_requests_waiting',
      kvCacheUsage: 'vllm:kv_cache_usage_perc',
      // One gauge per engine (data-parallel rank), each a fraction: their sum over dp is the mean × dp.
      ...(cfg.data_parallel_size > 1 ? {kvCacheUsageScale: 1 / cfg.data_parallel_size} : {}),
    },
    reportedSettings: REPORTED_SETTINGS,
    // GET /version answers {"version": "0.22.1"}.
    versionProbe: {kind: 'http', path: '/version', pick: 'version'},
    errorPatterns: ERROR_PATTERNS,
    // vLLM's extra sampling parameter on both completions and chat: EOS (and the generation
    // config's extra EOS ids) no longer end a request, so each one runs to max_tokens.
    requestExtras: {ignore_eos: true},
  };
}

export const backend = defineBackend<VllmConfig>({
  id: 'vllm',
  displayName: 'vLLM',
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

export {serverArgs, placeModel, speculativeJson, servedModelRef, CONTAINER_MODEL_DIR, CONTAINER_DRAFT_DIR} from './argv.js';
export {checkConfig} from './check.js';
export {
  configSchema,
  jsonSchema,
  DEFAULT_GPU_MEMORY_UTILIZATION,
  DEFAULT_STARTUP_TIMEOUT_S,
  DRAFT_MODEL_METHODS,
  DTYPES,
  KV_CACHE_DTYPES,
  QUANTIZATION_METHODS,
  SELF_SPECULATIVE_METHODS,
  type SpeculativeConfig,
  type VllmConfig,
} from './schema.js';
