/**
 * @lem/backend-pytorch — Hugging Face transformers' OpenAI-compatible server (`transformers serve`,
 * transformers 5.15.0) on the official PyTorch image.
 */
import {fileURLToPath} from 'node:url';
import {defineBackend, type GeneratedFile, type ReportedSetting, type ServerContext, type ServerSpec} from '@lem/plugin-kit';
import {placeModel, serverArgs} from './argv.js';
import {checkConfig} from './check.js';
import {configSchema, jsonSchema, type PytorchConfig} from './schema.js';
import {PLUGIN_VERSION} from './version.js';

/** The transformers release this plugin drives: its CLI reference is reference/transformers-5.15.0.txt. */
export const TRANSFORMERS_VERSION = '5.15.0';

/** The official image the Dockerfile builds on (Docker Hub `pytorch/pytorch`); transformers is pip-installed on it. */
export const PYTORCH_BASE_IMAGE = 'pytorch/pytorch:2.13.0-cuda12.6-cudnn9-runtime';

/** The Dockerfile of this backend's image; its folder is the build context (`lem images build pytorch`). */
export const DOCKERFILE_PATH = fileURLToPath(new URL('../docker/Dockerfile', import.meta.url));

/** The image lem runs this backend in: one per plugin version. */
export const IMAGE_REF = `lem/backend-pytorch:${PLUGIN_VERSION}`;

/** The generated start-up hook, under the launch's workdir (mounted at the same path), found through PYTHONPATH. */
export const SITECUSTOMIZE_FILE = 'sitecustomize.py';

/**
 * Python runs `sitecustomize` at start-up when it is on the path. Continuous batching logs through
 * its own logger, "ContinuousBatchingLogger" (src/transformers/generation/continuous_batching/
 * requests.py), which has its own handler, does not propagate, and is set to no level, so it passes
 * WARNING and up only; `--log-level` sets the "transformers" logger alone. The cache sizes and the
 * CUDA-graph decision lem records are logged there at INFO, once, when the first request sets the
 * manager up. This lets that logger's INFO lines through, and nothing else.
 */
export const SITECUSTOMIZE = [
  '# Written by lem: let the INFO lines of transformers continuous batching through (cache sizes, CUDA graphs).',
  'import logging',
  '',
  'logging.getLogger("ContinuousBatchingLogger").setLevel(logging.INFO)',
  '',
].join('\n');

/**
 * The values transformers 5.15.0 chooses at start-up, from its log lines (the last match wins); all
 * are continuous batching's, logged when the first request (lem's readiness probe) builds the manager:
 * - generation/continuous_batching/cache.py PagedAttentionMemoryHandler.get_available_memory:
 *   f"Memory available for cache allocation: {available_memory // 1024**2} MB" (MiB, after
 *   max_memory_percent);
 * - cache.py PagedAttentionCache.__init__: f"Paged cache initialized: {self.max_batch_tokens = },
 *   {self.num_blocks = }, {self.block_size = }";
 * - initialization.py decide_use_cuda_graphs: f"Using cuda graphs for (varlen, decode) paths:
 *   {cb_config.use_cuda_graph}" (a tuple of two booleans);
 * - initialization.py decide_use_async_batching: f"No behavior specified for use_async_batching,
 *   choosing {cb_config.use_async_batching = } because …".
 * The sequential (generate()) path logs no sizes: it allocates its KV cache per request.
 */
export const REPORTED_SETTINGS: ReportedSetting[] = [
  {name: 'cb_cache_memory_mib', pattern: String.raw`Memory available for cache allocation: (\d+) MB`},
  {name: 'cb_max_batch_tokens', pattern: String.raw`Paged cache initialized: self\.max_batch_tokens = (\d+)`},
  {name: 'cb_num_blocks', pattern: String.raw`Paged cache initialized: .*\bself\.num_blocks = (\d+)`},
  {name: 'cb_block_size', pattern: String.raw`Paged cache initialized: .*\bself\.block_size = (\d+)`},
  {name: 'cb_cuda_graph_varlen', pattern: String.raw`Using cuda graphs for \(varlen, decode\) paths: \((True|False), (?:True|False)\)`},
  {name: 'cb_cuda_graph_decode', pattern: String.raw`Using cuda graphs for \(varlen, decode\) paths: \((?:True|False), (True|False)\)`},
  {name: 'cb_async_batching', pattern: String.raw`choosing cb_config\.use_async_batching = (True|False) because`},
];

/**
 * Substrings of transformers serve's fatal output, by cause:
 * resource — PyTorch's allocator ("CUDA out of memory. Tried to allocate …"); continuous batching's
 * cache sizing (generation/continuous_batching/cache.py): "Memory footprint … is more than available
 * memory …" and, when no memory is left at all, "No real solution (discriminant = …)" / "No positive
 * solution (root = …)"; bitsandbytes' quantizers (quantizers/quantizer_bnb_4bit.py, _8bit.py) "Some
 * modules are dispatched on the CPU or the disk" when the quantised model does not fit the GPUs.
 * config — click's parser under typer ("No such option: --x", "Invalid value for '--x': …");
 * ModelManager._resolve_dtype / _validate_args (cli/serving/model_manager.py) "Unsupported dtype",
 * "Unsupported quantization method", "Unsupported attention implementation"; utils/hub.py "… is not a
 * local folder and is not a valid model identifier listed on …"; dynamic_module_utils.py "The
 * repository … contains custom code which must be executed …" (trust_remote_code off); cache.py "Block
 * size must be at least 4"; the bitsandbytes quantizers' "Using `bitsandbytes` 4-bit quantization
 * requires bitsandbytes: …".
 */
export const ERROR_PATTERNS = {
  resource: ['CUDA out of memory', 'is more than available memory', 'No real solution (discriminant', 'No positive solution (root', 'Some modules are dispatched on the CPU or the disk'],
  config: [
    'No such option:',
    "Invalid value for '",
    'Unsupported dtype',
    'Unsupported quantization method',
    'Unsupported attention implementation',
    'is not a local folder and is not a valid model identifier',
    'contains custom code which must be executed',
    'Block size must be at least',
    'quantization requires bitsandbytes',
  ],
};

/*
 * No versionProbe: transformers serve has no version route (its routes at 5.15.0 are the OpenAI
 * ones, /load_model, /reset, /v1/models and /health; FastAPI's /openapi.json carries FastAPI's
 * default app version), and an `exec` probe runs on lem's host, not in the server's container.
 * The version is the image's: the Dockerfile installs transformers==5.15.0 exactly and fails the
 * build otherwise, and every result records the image lem ran (its id and plugin version).
 */

/**
 * Builds the server's launch description. Pure. The model is a hub id (downloaded inside the
 * container) or an absolute host path, which is mounted read-only at the same path; lem resolves
 * relative paths first.
 */
export function serverSpec(cfg: PytorchConfig, ctx: ServerContext): ServerSpec {
  const mount = placeModel(ctx.model).mount;
  const files: GeneratedFile[] = [{path: SITECUSTOMIZE_FILE, contents: SITECUSTOMIZE}];
  return {
    argv: serverArgs(cfg, ctx),
    env: {
      PYTHONPATH: ctx.workdir.replace(/\/+$/, ''),
      // The CLI's entry point asks PyPI for a newer transformers at every start (huggingface_hub
      // check_cli_update); no telemetry or update check from inside a measurement.
      HF_HUB_DISABLE_UPDATE_CHECK: '1',
      HF_HUB_DISABLE_TELEMETRY: '1',
    },
    port: ctx.port,
    files,
    ...(mount !== undefined ? {mounts: [mount]} : {}),
    // One process, whatever the GPUs (device_map spreads layers, no worker processes): no shared
    // memory or IPC namespace to provide.
    // The model loads before the server listens, so /health answers only once it is in memory; the
    // 1-token completion proves it generates (and, with continuous batching, builds the paged cache,
    // which happens on the first request).
    readiness: {healthPath: '/health', probe: 'completion', timeoutS: cfg.startup_timeout_s},
    // SIGTERM stops uvicorn and unloads the model; continuous batching's generation thread is not
    // a daemon and is not stopped by that shutdown, so the process may only end at the SIGKILL.
    stop: {signal: 'SIGTERM', graceS: 15},
    // No tokenizePath (no tokenize route) and no metricsPath (no metrics endpoint) at 5.15.0.
    reportedSettings: REPORTED_SETTINGS,
    errorPatterns: ERROR_PATTERNS,
  };
}

export const backend = defineBackend<PytorchConfig>({
  id: 'pytorch',
  displayName: 'PyTorch (transformers)',
  configSchema,
  jsonSchema,
  gpu: 'required',
  local: false,
  image: {ref: IMAGE_REF, dockerfile: DOCKERFILE_PATH},
  apis: ['completions', 'chat'],
  // The handlers refuse any field outside OpenAI's request schema with 422 ("Unexpected fields in
  // the request", BaseHandler._validate_request, cli/serving/utils.py), so neither ignore_eos nor
  // min_tokens can be sent. Their one extension, a `generation_config` JSON string, replaces the
  // model's whole generation config (sampling defaults, EOS ids) instead of adding to it, and under
  // continuous batching only the first request's config sets the sampling: no fixed field holds every
  // output at max_tokens without changing what is measured.
  fixedOutputLength: false,
  check: checkConfig,
  server: serverSpec,
});

export {serverArgs, placeModel} from './argv.js';
export {checkConfig} from './check.js';
export {
  configSchema,
  jsonSchema,
  ATTN_IMPLEMENTATIONS,
  CB_KEYS,
  DEFAULT_CB_BLOCK_SIZE,
  DEFAULT_STARTUP_TIMEOUT_S,
  DTYPES,
  QUANTIZATIONS,
  REASONING_MODES,
  type PytorchConfig,
} from './schema.js';
