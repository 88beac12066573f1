/**
 * @lem/backend-sglang — SGLang's OpenAI-compatible server (`python3 -m sglang.launch_server`,
 * SGLang 0.5.18) in its official container image.
 */
import {fileURLToPath} from 'node:url';
import {defineBackend, type Mount, type ReportedSetting, type ServerContext, type ServerSpec} from '@lem/plugin-kit';
import {CONTAINER_DRAFT_DIR, CONTAINER_MODEL_DIR, placeModel, serverArgs, servedModelRef} from './argv.js';
import {checkConfig} from './check.js';
import {configSchema, jsonSchema, type SglangConfig} from './schema.js';
import {PLUGIN_VERSION} from './version.js';

/** The SGLang release this plugin drives: its CLI reference is reference/sglang-0.5.18.txt. */
export const SGLANG_VERSION = '0.5.18';

/**
 * The official image the Dockerfile builds on: Docker Hub `lmsysorg/sglang`, the CUDA 12.9 build of
 * the release (tags `v<version>-cu129`; `v<version>` is the CUDA 13 one).
 */
export const SGLANG_BASE_IMAGE = `lmsysorg/sglang:v${SGLANG_VERSION}-cu129`;

/** The Dockerfile of this backend's image; its folder is the build context (`lem images build sglang`). */
export const DOCKERFILE_PATH = fileURLToPath(new URL('../docker/Dockerfile', import.meta.url));

/** The image lem runs this backend in: one per plugin version. */
export const IMAGE_REF = `lem/backend-sglang:${PLUGIN_VERSION}`;

/** Bytes of /dev/shm for a one-GPU container: the 32 GB of SGLang's own `docker run` examples (docs/docs/get-started/install.mdx). */
export const SHM_SIZE_BYTES = 32 * 1024 ** 3;

/**
 * The values SGLang chooses at start-up, from its log lines (the last match wins). Sources, SGLang
 * 0.5.18 (python/sglang/srt/…):
 * - entrypoints/engine.py `_launch_subprocesses` (INFO, launcher process): `logger.info(f"{server_args=}")`,
 *   the ServerArgs dataclass repr after __post_init__ (`server_args=ServerArgs(model_path='…', …,
 *   mem_fraction_static=0.871, …, disable_radix_cache=False, …, attention_backend='fa3', …,
 *   cuda_graph_config=CudaGraphConfig(decode=PhaseConfig(backend='full', max_bs=256, bs=[…], …),
 *   prefill=PhaseConfig(backend='breakable', …)), …, speculative_num_steps=3, …)`);
 * - managers/scheduler.py `Scheduler.__init__` (INFO, TP rank 0 of each scheduler):
 *   "max_total_num_tokens=%d, chunked_prefill_size=%d, max_prefill_tokens=%d,
 *   max_running_requests=%d, context_len=%d, available_gpu_mem=%.2f GB";
 * - model_executor/model_runner_components/cuda_graph_setup.py (INFO): "Capture target decode CUDA
 *   graph end. elapsed=%.2f s, mem usage=%.2f GB, avail mem=%.2f GB.".
 */
export const REPORTED_SETTINGS: ReportedSetting[] = [
  {name: 'mem_fraction_static', pattern: String.raw`server_args=ServerArgs\(.*, mem_fraction_static=([\d.]+)`},
  {name: 'disable_radix_cache', pattern: String.raw`server_args=ServerArgs\(.*, disable_radix_cache=(True|False)`},
  {name: 'disable_overlap_schedule', pattern: String.raw`server_args=ServerArgs\(.*, disable_overlap_schedule=(True|False)`},
  {name: 'attention_backend', pattern: String.raw`server_args=ServerArgs\(.*, attention_backend='([\w-]+)'`},
  {name: 'cuda_graph_backend_decode', pattern: String.raw`server_args=ServerArgs\(.*cuda_graph_config=CudaGraphConfig\(decode=PhaseConfig\(backend='(\w+)'`},
  {name: 'cuda_graph_max_bs_decode', pattern: String.raw`server_args=ServerArgs\(.*cuda_graph_config=CudaGraphConfig\(decode=PhaseConfig\(backend='\w+', max_bs=(\d+)`},
  {name: 'cuda_graph_backend_prefill', pattern: String.raw`server_args=ServerArgs\(.*cuda_graph_config=CudaGraphConfig\(decode=PhaseConfig\([^)]*\), prefill=PhaseConfig\(backend='(\w+)'`},
  {name: 'speculative_num_steps', pattern: String.raw`server_args=ServerArgs\(.*, speculative_num_steps=(\d+)`},
  {name: 'speculative_eagle_topk', pattern: String.raw`server_args=ServerArgs\(.*, speculative_eagle_topk=(\d+)`},
  {name: 'speculative_num_draft_tokens', pattern: String.raw`server_args=ServerArgs\(.*, speculative_num_draft_tokens=(\d+)`},
  {name: 'max_total_num_tokens', pattern: String.raw`\bmax_total_num_tokens=(\d+), chunked_prefill_size=`},
  {name: 'chunked_prefill_size', pattern: String.raw`max_total_num_tokens=\d+, chunked_prefill_size=(-?\d+), `},
  {name: 'max_prefill_tokens', pattern: String.raw`max_total_num_tokens=\d+, .*\bmax_prefill_tokens=(\d+), `},
  {name: 'max_running_requests', pattern: String.raw`max_total_num_tokens=\d+, .*\bmax_running_requests=(\d+), `},
  {name: 'context_len', pattern: String.raw`max_total_num_tokens=\d+, .*\bcontext_len=(\d+), `},
  {name: 'available_gpu_mem_gb', pattern: String.raw`max_total_num_tokens=\d+, .*\bavailable_gpu_mem=([\d.]+) GB`},
  {name: 'cuda_graph_decode_memory_gb', pattern: String.raw`Capture target decode CUDA graph end\. elapsed=[\d.]+ s, mem usage=(-?[\d.]+) GB`},
];

/**
 * Substrings of SGLang's fatal output, by cause:
 * resource — PyTorch's allocator ("CUDA out of memory. Tried to allocate …");
 * model_executor/pool_configurator.py "Not enough memory. Please try to increase
 * --mem-fraction-static."; mem_cache/kv_cache_configurator.py "Loaded weights leave no GPU memory
 * for the KV cache under --mem-fraction-static=…"; mem_cache/allocation.py "Prefill out of memory.
 * Try to lower your batch size." and "Decode out of memory. …".
 * config — argparse ("sglang serve: error: argument --x: invalid choice …", "error: unrecognized
 * arguments"); configs/model_config.py "Unknown quantization method: …", "Quantization method
 * specified in the model config (…) does not match the quantization method specified in the
 * `quantization` argument (…)" and "… is greater than the derived context_length (…)";
 * server_args.py check_server_args "served_model_name cannot contain a colon (':') character";
 * speculative/spec_info.py "Unknown speculative algorithm name: …"; distributed/utils.py
 * ensure_divisibility "{} is not divisible by {}" (head counts against tp_size); transformers'
 * hub lookup "… is not a local folder and is not a valid model identifier …".
 */
export const ERROR_PATTERNS = {
  resource: [
    'CUDA out of memory',
    'Not enough memory. Please try to increase --mem-fraction-static',
    'Loaded weights leave no GPU memory for the KV cache',
    'Prefill out of memory',
    'Decode out of memory',
  ],
  config: [
    'error: argument ',
    'error: unrecognized arguments',
    'Unknown quantization method',
    'does not match the quantization method specified',
    'is greater than the derived context_length',
    'served_model_name cannot contain a colon',
    'Unknown speculative algorithm name',
    'is not divisible by',
    'is not a valid model identifier',
  ],
};

/** The host folders the models come from, mounted read-only (the served model and any draft model). */
function modelMounts(cfg: SglangConfig, ctx: ServerContext): Mount[] {
  const mounts = [placeModel(servedModelRef(cfg, ctx), CONTAINER_MODEL_DIR).mount];
  if (cfg.speculative?.draft_model_path !== undefined) mounts.push(placeModel(cfg.speculative.draft_model_path, CONTAINER_DRAFT_DIR).mount);
  return mounts.filter((m): m is Mount => m !== undefined);
}

/**
 * Builds the server's launch description. Pure. The model is a hub id (downloaded inside the
 * container) or an absolute host path, which is mounted read-only; lem resolves relative paths first.
 */
export function serverSpec(cfg: SglangConfig, ctx: ServerContext): ServerSpec {
  const multiGpu = ctx.gpus.length > 1;
  const mounts = modelMounts(cfg, ctx);
  // One sglang:token_usage gauge per scheduler that reports (the first attention-TP rank of every
  // data-parallel replica and pipeline stage), each a fraction: their sum is the mean × dp × pp.
  const kvGauges = cfg.dp_size * cfg.pp_size;
  return {
    argv: serverArgs(cfg, ctx),
    env: {},
    port: ctx.port,
    ...(mounts.length > 0 ? {mounts} : {}),
    // SGLang's processes share tensors through shared memory; its docs run containers with
    // --shm-size 32g and --ipc=host.
    ...(multiGpu ? {ipcHost: true} : {shmSizeBytes: SHM_SIZE_BYTES}),
    // /health answers 503 until the server's own warm-up request has run, then generates one token
    // per check (SGLANG_ENABLE_HEALTH_ENDPOINT_GENERATION defaults to on); the 1-token completion
    // also proves the OpenAI route answers under the name lem sends.
    readiness: {healthPath: '/health', probe: 'completion', timeoutS: cfg.startup_timeout_s},
    // SIGTERM: the tokenizer manager drains requests, shuts the schedulers down (15 s), then exits.
    stop: {signal: 'SIGTERM', graceS: 30},
    // No tokenizePath: SGLang's /tokenize takes {prompt} (or {messages}), not the llama.cpp
    // `{content}` → `{tokens}` shape lem posts.
    metricsPath: '/metrics',
    metrics: {
      format: 'prometheus',
      running: 'sglang:num_running_reqs',
      waiting: 'sglang:num_queue_reqs',
      kvCacheUsage: 'sglang:token_usage',
      ...(kvGauges > 1 ? {kvCacheUsageScale: 1 / kvGauges} : {}),
    },
    reportedSettings: REPORTED_SETTINGS,
    // GET /server_info answers the ServerArgs plus {"version": "0.5.18", …} (/get_server_info is its deprecated alias).
    versionProbe: {kind: 'http', path: '/server_info', pick: 'version'},
    errorPatterns: ERROR_PATTERNS,
    // SGLang's extra sampling parameter on both completions and chat: EOS and stop token ids no
    // longer end a request, so each one runs to max_tokens.
    requestExtras: {ignore_eos: true},
  };
}

export const backend = defineBackend<SglangConfig>({
  id: 'sglang',
  displayName: 'SGLang',
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

export {serverArgs, placeModel, speculativeArgs, servedModelRef, CONTAINER_MODEL_DIR, CONTAINER_DRAFT_DIR} from './argv.js';
export {checkConfig} from './check.js';
export {
  configSchema,
  jsonSchema,
  CUDA_GRAPH_BACKENDS,
  DEFAULT_MAX_PREFILL_TOKENS,
  DEFAULT_STARTUP_TIMEOUT_S,
  DRAFT_MODEL_ALGORITHMS,
  DTYPES,
  KV_CACHE_DTYPES,
  QUANTIZATION_METHODS,
  SCHEDULE_POLICIES,
  SELF_DRAFT_ALGORITHMS,
  type SglangConfig,
  type SpeculativeConfig,
} from './schema.js';
