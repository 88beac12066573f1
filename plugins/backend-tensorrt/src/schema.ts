/**
 * The `tensorrt:` section of experiment files. Defaults are TensorRT-LLM 1.3.0rc5's own: the CLI's
 * from reference/tensorrt-llm-1.3.0rc5.txt (BuildConfig's max_batch_size 2048 and max_num_tokens
 * 8192, free_gpu_memory_fraction 0.9), the rest from tensorrt_llm/llmapi/llm_args.py (BaseLlmArgs,
 * TorchLlmArgs, KvCacheConfig, CudaGraphConfig). Where TensorRT-LLM derives a value at start-up
 * (max_seq_len from the model), the key is optional and lem records what the engine reports.
 */
import {z} from 'zod';
import {sectionJsonSchema, type JsonSchema} from '@lem/plugin-kit';

/** `--backend`: the PyTorch runtime (TensorRT-LLM's default) or a TensorRT engine built at start-up. */
export const RUNTIMES = ['pytorch', 'tensorrt'] as const;
/** `dtype` of the LLM API (BaseLlmArgs.dtype, a string TensorRT-LLM maps to torch dtypes). */
export const DTYPES = ['auto', 'float16', 'bfloat16', 'float32'] as const;
/** `kv_cache_config.dtype`: the checkpoint's, or FP8 (which TorchLlmArgs turns into kv_cache_quant_algo FP8). */
export const KV_CACHE_DTYPES = ['auto', 'fp8'] as const;
/** TorchLlmArgs.attn_backend. */
export const ATTENTION_BACKENDS = ['TRTLLM', 'FLASHINFER', 'VANILLA'] as const;
/** `--log_level` choices (TensorRT-LLM's logger severity_map). */
export const LOG_LEVELS = ['internal_error', 'error', 'warning', 'info', 'verbose', 'debug', 'trace'] as const;
/** speculative_config.decoding_type values the PyTorch runtime serves. */
export const DRAFT_MODEL_DECODING = ['Eagle3', 'DraftTarget'] as const;
export const SELF_DECODING = ['NGram', 'MTP'] as const;

/** BuildConfig's defaults, which `trtllm-serve` takes for --max_batch_size and --max_num_tokens. */
export const DEFAULT_MAX_BATCH_SIZE = 2048;
export const DEFAULT_MAX_NUM_TOKENS = 8192;
/** `--kv_cache_free_gpu_memory_fraction` and KvCacheConfig.free_gpu_memory_fraction default. */
export const DEFAULT_FREE_GPU_MEMORY_FRACTION = 0.9;
/** TorchLlmArgs' CUDA-graph batch-size ceiling when cuda_graph_config.max_batch_size is 0 (its default). */
export const DEFAULT_CUDA_GRAPH_MAX_BATCH_SIZE = 128;
/** Readiness timeout: a TensorRT engine build or a large checkpoint's load takes many minutes. */
export const DEFAULT_STARTUP_TIMEOUT_S = 2400;

const parallelSize = (what: string) => z.int().min(1).default(1).describe(what);

export const speculativeSchema = z
  .object({
    decoding_type: z
      .enum([...DRAFT_MODEL_DECODING, ...SELF_DECODING])
      .describe(
        'How draft tokens are proposed (`speculative_config.decoding_type`). Eagle3 and DraftTarget run a separate draft model (its weights, KV cache and forward passes cost energy); NGram looks the continuation up in the prompt for almost no compute; MTP uses the model\'s own multi-token-prediction layers (DeepSeek-V3-style checkpoints). Accepted drafts cut target forward passes per output token; rejected ones are wasted work.',
      ),
    max_draft_len: z.int().min(1).describe('Draft tokens proposed per step and verified in one target forward pass (for MTP: the number of next-n prediction layers used).'),
    speculative_model: z
      .string()
      .min(1)
      .optional()
      .describe('The draft model (Eagle3 head or DraftTarget model): a hub id or an absolute path to its folder, mounted read-only. Required by Eagle3 and DraftTarget, refused by NGram and MTP.'),
    max_matching_ngram_size: z.int().min(1).optional().describe("NGram only: longest n-gram matched in the prompt. Default: TensorRT-LLM's."),
  })
  .strict()
  .describe('Speculative decoding, written to the options file as `speculative_config`. PyTorch runtime only. Absent: none.');

/** Keys that only the PyTorch runtime's TorchLlmArgs has; TrtLlmArgs refuses them (extra="forbid"). */
export const PYTORCH_ONLY_KEYS = ['cuda_graphs', 'cuda_graph_max_batch_size', 'cuda_graph_padding', 'overlap_scheduler', 'attention_backend', 'speculative'] as const;

const cudaGraphsSchema = {
  cuda_graphs: z
    .boolean()
    .optional()
    .describe('PyTorch runtime: capture CUDA graphs for decode-only batches (`cuda_graph_config`; false writes `cuda_graph_config: null`, eager decoding). Default: true, TensorRT-LLM\'s. Graphs remove kernel-launch overhead of small decode batches (faster, usually less energy per token), at up to ~200 MB of memory per captured size.'),
  cuda_graph_max_batch_size: z
    .int()
    .min(1)
    .optional()
    .describe(`PyTorch runtime: largest decode batch captured as a CUDA graph (\`cuda_graph_config.max_batch_size\`); larger batches run without graphs. Default: ${DEFAULT_CUDA_GRAPH_MAX_BATCH_SIZE}, TensorRT-LLM's.`),
  cuda_graph_padding: z
    .boolean()
    .optional()
    .describe('PyTorch runtime: pad a decode batch up to the next captured size so it can use a graph (`cuda_graph_config.enable_padding`). Default: false. Padding spends compute on empty slots to save launches.'),
  overlap_scheduler: z
    .boolean()
    .optional()
    .describe("PyTorch runtime: schedule the next step while the GPU runs the current one (false writes `disable_overlap_scheduler: true`). Default: true, TensorRT-LLM's. Overlap closes gaps in GPU utilisation."),
  attention_backend: z.enum(ATTENTION_BACKENDS).optional().describe("PyTorch runtime: attention kernels (`attn_backend`). Default: TRTLLM, TensorRT-LLM's own fused kernels."),
};

export const configSchema = z
  .object({
    model_path: z
      .string()
      .min(1)
      .optional()
      .describe("Model to serve instead of the experiment's top-level `model`, e.g. a pre-quantised checkpoint (nvidia/Llama-3.1-8B-Instruct-FP8): a hub id (downloaded inside the container) or an absolute path to a Hugging Face checkpoint folder or a TensorRT engine folder (mounted read-only at /models/<name>). TensorRT-LLM takes weight quantisation from the checkpoint (ModelOpt's hf_quant_config.json), so FP8 or FP4 weights mean an FP8 or FP4 checkpoint here."),
    runtime: z
      .enum(RUNTIMES)
      .default('pytorch')
      .describe('`--backend`: the PyTorch runtime (TensorRT-LLM\'s default, loads checkpoints directly) or `tensorrt`, which builds a TensorRT engine at start-up (minutes; a different kernel set, so different energy per token).'),
    dtype: z.enum(DTYPES).default('auto').describe("Precision of weights and activations of unquantised layers (`dtype`). `auto`: the checkpoint's (FP16 on GPUs older than SM 80). FP32 doubles weight memory and forgoes tensor-core speed."),
    kv_cache_dtype: z
      .enum(KV_CACHE_DTYPES)
      .default('auto')
      .describe('Element type of the KV cache (`kv_cache_config.dtype`). `fp8` halves KV memory per token: more sequences fit and attention moves fewer bytes. PyTorch runtime only (the TensorRT runtime takes it from the engine).'),
    free_gpu_memory_fraction: z
      .number()
      .gt(0)
      .max(1)
      .default(DEFAULT_FREE_GPU_MEMORY_FRACTION)
      .describe("Fraction of the GPU memory left free after weights and buffers that the KV cache takes (`--kv_cache_free_gpu_memory_fraction`, and the options file's kv_cache_config, which would otherwise reset it). TensorRT-LLM's default is 0.9. More KV cache fits more concurrent sequences."),
    enable_block_reuse: z
      .boolean()
      .default(true)
      .describe('Reuse KV-cache blocks of prompt prefixes already computed (`kv_cache_config.enable_block_reuse`, TensorRT-LLM\'s prefix caching, on by default). Skipped prefill is saved time and energy, so it changes what a run with repeated prompts measures.'),
    max_batch_size: z
      .int()
      .min(1)
      .default(DEFAULT_MAX_BATCH_SIZE)
      .describe(`Most requests scheduled together (\`--max_batch_size\`). TensorRT-LLM's default is ${DEFAULT_MAX_BATCH_SIZE}; the running batch is also bounded by the KV cache. Larger batches raise throughput and usually lower energy per token, until latency or memory limits.`),
    max_num_tokens: z
      .int()
      .min(1)
      .default(DEFAULT_MAX_NUM_TOKENS)
      .describe(`Most tokens (prompt and decode) batched in one iteration (\`--max_num_tokens\`). TensorRT-LLM's default is ${DEFAULT_MAX_NUM_TOKENS}. Larger values speed prefill up but lengthen the steps decoding requests wait through.`),
    max_seq_len: z
      .int()
      .min(1)
      .optional()
      .describe('Longest request, prompt plus output, tokens (`--max_seq_len`). Default: deduced from the model config (and lowered by TensorRT-LLM when the KV cache cannot hold one such sequence); lem records the value the engine reports.'),
    enable_chunked_prefill: z
      .boolean()
      .default(false)
      .describe('Split long prompts into chunks of at most max_num_tokens, batched with decoding requests (`enable_chunked_prefill`, off by default in TensorRT-LLM). Without it a prompt longer than max_num_tokens cannot be scheduled.'),
    tensor_parallel_size: parallelSize('GPUs each layer is split across (`--tp_size`). Needs NVLink-class links to pay off; every GPU added draws its idle power too.'),
    pipeline_parallel_size: parallelSize('Pipeline stages on different GPUs (`--pp_size`). Less communication than tensor parallelism; bubbles idle GPUs at small batches.'),
    moe_expert_parallel_size: z
      .int()
      .min(1)
      .optional()
      .describe("MoE models: GPUs the experts are spread over (`--ep_size`), within the tensor-parallel group. Default: TensorRT-LLM's choice for the model."),
    enable_attention_dp: z.boolean().default(false).describe('Attention data parallelism (`enable_attention_dp`): each tensor-parallel rank runs attention for its own requests (MoE models such as DeepSeek), trading KV-cache duplication for less all-reduce.'),
    ...cudaGraphsSchema,
    speculative: speculativeSchema.optional(),
    trust_remote_code: z.boolean().default(false).describe("Run the model repository's own Python code (`--trust_remote_code`)."),
    log_level: z.enum(LOG_LEVELS).default('info').describe("`--log_level`. lem reads the engine's start-up sizes from its `info` lines, so a level above info loses them."),
    startup_timeout_s: z
      .int()
      .min(1)
      .default(DEFAULT_STARTUP_TIMEOUT_S)
      .describe('Seconds to wait for /health and a first completion. Engine builds (runtime tensorrt) and large checkpoints take many minutes.'),
    extra_options: z
      .record(z.string(), z.unknown())
      .default({})
      .describe('More LLM API settings written into the options file (e.g. `{stream_interval: 4}`), after lem\'s own keys, which they may override. Not validated by lem; recorded in the result with the file.'),
    extra_args: z
      .array(z.string())
      .default([])
      .describe('Arguments appended verbatim to `trtllm-serve serve`. Not validated by lem; recorded in the result with the rest of the command line.'),
  })
  .strict()
  .describe('Settings of the TensorRT-LLM backend (`trtllm-serve` 1.3.0rc5 in NVIDIA\'s release image), passed on the command line and in a generated options file (`--config`).');

/** The validated section, defaults applied: what `server()` and `check()` receive. */
export type TensorrtConfig = z.output<typeof configSchema>;
export type SpeculativeConfig = z.output<typeof speculativeSchema>;

/** The section as JSON Schema (draft 2020-12, input view: keys with defaults are optional). */
export const jsonSchema: JsonSchema = sectionJsonSchema(z.toJSONSchema(configSchema, {io: 'input', target: 'draft-2020-12'}));
