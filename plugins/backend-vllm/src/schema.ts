/**
 * The `vllm:` section of experiment files. Defaults are vLLM 0.22.1's own (reference/vllm-0.22.1.txt);
 * where vLLM decides a value at start-up, the key is optional and absent from the command line
 * unless set, and lem records what vLLM reports (index.ts, `reportedSettings`).
 */
import {z} from 'zod';
import {sectionJsonSchema, type JsonSchema} from '@lem/plugin-kit';

/** `--dtype` choices at 0.22.1. */
export const DTYPES = ['auto', 'bfloat16', 'float', 'float16', 'float32', 'half'] as const;

/**
 * Weight quantisation methods of vLLM 0.22.1 that run on NVIDIA GPUs without
 * `--allow-deprecated-quantization`. The 0.22.1 parser takes any string here (validation happens in
 * ModelConfig against `QuantizationMethods`, vllm/model_executor/layers/quantization/__init__.py);
 * this list holds the names present both in v0.16.0's list and in the later lists of main, leaving
 * out the deprecated ones (fbgemm_fp8, fp_quant), those deprecated in some of these versions
 * (experts_int8) and those for other hardware (cpu_awq, inc).
 */
export const QUANTIZATION_METHODS = [
  'awq',
  'awq_marlin',
  'gptq',
  'gptq_marlin',
  'fp8',
  'fp8_per_tensor',
  'fp8_per_block',
  'modelopt',
  'modelopt_fp4',
  'modelopt_mxfp8',
  'compressed-tensors',
  'bitsandbytes',
  'gguf',
  'mxfp4',
  'moe_wna16',
  'torchao',
  'quark',
] as const;

/** `--kv-cache-dtype` choices at 0.22.1, without `fp8_inc` (Intel Gaudi only). */
export const KV_CACHE_DTYPES = [
  'auto',
  'bfloat16',
  'float16',
  'fp8',
  'fp8_e4m3',
  'fp8_e5m2',
  'fp8_ds_mla',
  'fp8_per_token_head',
  'int8_per_token_head',
  'nvfp4',
  'turboquant_3bit_nc',
  'turboquant_4bit_nc',
  'turboquant_k3v4_nc',
  'turboquant_k8v4',
] as const;

/** Speculative methods that propose tokens with a separate draft model, given as `speculative.model`. */
export const DRAFT_MODEL_METHODS = ['draft_model', 'eagle', 'eagle3', 'dflash', 'medusa', 'mlp_speculator'] as const;

/** Speculative methods that need no draft model: n-gram/suffix lookup in the prompt, or the model's own MTP layers. */
export const SELF_SPECULATIVE_METHODS = [
  'ngram',
  'ngram_gpu',
  'suffix',
  'mtp',
  'deepseek_mtp',
  'ernie_mtp',
  'exaone4_5_mtp',
  'exaone_moe_mtp',
  'gemma4_mtp',
  'glm4_moe_lite_mtp',
  'glm4_moe_mtp',
  'glm_ocr_mtp',
  'hy_v3_mtp',
  'longcat_flash_mtp',
  'mimo_mtp',
  'mimo_v2_mtp',
  'nemotron_h_mtp',
  'pangu_ultra_moe_mtp',
  'qwen3_5_mtp',
  'qwen3_next_mtp',
  'step3p5_mtp',
] as const;

/** The methods whose prompt look-up window `prompt_lookup_min/max` sets. */
export const NGRAM_METHODS = ['ngram', 'ngram_gpu'] as const;

/** vLLM 0.22.1's `--gpu-memory-utilization` default. */
export const DEFAULT_GPU_MEMORY_UTILIZATION = 0.92;
/** Readiness timeout: loading, torch.compile and CUDA-graph capture of a large model take minutes. */
export const DEFAULT_STARTUP_TIMEOUT_S = 1800;

const parallelSize = (what: string) => z.int().min(1).default(1).describe(what);

export const speculativeSchema = z
  .object({
    method: z
      .enum([...DRAFT_MODEL_METHODS, ...SELF_SPECULATIVE_METHODS])
      .describe(
        'How draft tokens are proposed (`method` of `--speculative-config`). Draft models (draft_model, eagle, eagle3, dflash, medusa, mlp_speculator) cost their own weights, KV cache and forward passes; ngram/ngram_gpu/suffix look the continuation up in the prompt for almost no compute; the *mtp methods use the model\'s own multi-token-prediction layers. Accepted tokens cut the number of target forward passes per output token; rejected ones are wasted work.',
      ),
    model: z
      .string()
      .min(1)
      .optional()
      .describe('The draft model (hub id or absolute path, mounted read-only like the main model). Required by the draft-model methods, refused by the others.'),
    num_speculative_tokens: z
      .int()
      .min(1)
      .describe('Tokens proposed per step and verified in one target forward pass. More tokens help only while the acceptance rate stays high; each rejected token is compute spent for nothing.'),
    draft_tensor_parallel_size: z.int().min(1).optional().describe("Tensor-parallel size of the draft model: 1 or the target's `tensor_parallel_size`. Default: vLLM's (the target's)."),
    prompt_lookup_max: z.int().min(1).optional().describe('ngram methods: longest n-gram matched in the prompt. Default: vLLM\'s.'),
    prompt_lookup_min: z.int().min(1).optional().describe("ngram methods: shortest n-gram matched in the prompt. Default: vLLM's."),
  })
  .strict()
  .describe('Speculative decoding, passed as `--speculative-config` JSON. Absent: no speculative decoding.');

export const configSchema = z
  .object({
    model_path: z
      .string()
      .min(1)
      .optional()
      .describe("Model to serve instead of the experiment's top-level `model`, e.g. a quantised variant: a hub id (`org/name`, downloaded inside the container) or an absolute path to a model folder or a .gguf file (mounted read-only at /models/<name>)."),
    dtype: z
      .enum(DTYPES)
      .default('auto')
      .describe('Precision of weights and activations for unquantised layers. `auto`: the checkpoint\'s (FP16 for FP32/FP16 checkpoints, BF16 for BF16). FP32 doubles weight memory and runs far slower than BF16/FP16 on tensor cores.'),
    quantization: z
      .enum(QUANTIZATION_METHODS)
      .optional()
      .describe(
        "Weight quantisation method (`--quantization`). Default: read from the checkpoint's quantization_config (none for an unquantised one). fp8_per_tensor/fp8_per_block quantise a BF16/FP16 checkpoint to FP8 while loading; the others read pre-quantised checkpoints. Fewer weight bytes mean less memory traffic per decode step (usually less energy per token) and more room for the KV cache, at some accuracy cost.",
      ),
    kv_cache_dtype: z
      .enum(KV_CACHE_DTYPES)
      .default('auto')
      .describe('Element type of the KV cache. `auto`: the model\'s dtype. fp8 variants halve KV memory per token (more sequences fit, less memory traffic in attention); fp8_ds_mla is for DeepSeek MLA models, nvfp4 and turboquant_* go further at more accuracy risk.'),
    gpu_memory_utilization: z
      .number()
      .gt(0)
      .max(1)
      .default(DEFAULT_GPU_MEMORY_UTILIZATION)
      .describe('Fraction of each GPU\'s memory vLLM may use for weights, activations, CUDA graphs and the KV cache; the KV cache gets what is left. vLLM 0.22.1\'s default is 0.92. Lower leaves room for other processes but fits fewer concurrent sequences.'),
    max_model_len: z
      .int()
      .min(1)
      .optional()
      .describe("Longest sequence (prompt + output), tokens. Default: the model's context length from its config; lem records the value vLLM reports. Shorter lets vLLM start with less KV cache per sequence and reject longer prompts."),
    max_num_seqs: z
      .int()
      .min(1)
      .optional()
      .describe(
        'Most sequences scheduled together in one iteration (the running batch). Default: chosen by vLLM from the GPU (1024 on GPUs of 70 GiB or more other than the A100, else 256; doubled with performance_mode throughput; at most max_num_batched_tokens); lem records the value vLLM reports. Larger batches raise throughput and usually lower energy per token, until the KV cache or latency limits.',
      ),
    max_num_batched_tokens: z
      .int()
      .min(1)
      .optional()
      .describe(
        'Most tokens (prefill chunks and decode tokens) processed in one iteration. Default: chosen by vLLM from the GPU (8192 on GPUs of 70 GiB or more other than the A100, else 2048; doubled with performance_mode throughput); lem records the value vLLM reports. Larger values speed prefill up but lengthen the steps that decoding sequences wait through.',
      ),
    tensor_parallel_size: parallelSize('GPUs each layer is split across (all-reduce after every layer). Needs NVLink-class links to pay off; more GPUs draw more idle power.'),
    pipeline_parallel_size: parallelSize('Pipeline stages: consecutive layer groups on different GPUs. Less communication than tensor parallelism, but bubbles leave GPUs idle at small batch sizes.'),
    data_parallel_size: parallelSize('Independent engine replicas behind one API server, each with tensor_parallel_size × pipeline_parallel_size GPUs.'),
    enable_expert_parallel: z
      .boolean()
      .default(false)
      .describe('MoE models: place whole experts on GPUs (expert parallelism over the tensor × data parallel group) instead of splitting every expert across them.'),
    enforce_eager: z
      .boolean()
      .default(false)
      .describe('Run the model eagerly, without CUDA graphs. CUDA graphs (the default) remove most kernel-launch overhead of small decode batches (faster, usually less energy per token) at the cost of capture time and some memory at start-up.'),
    max_cudagraph_capture_size: z
      .int()
      .min(1)
      .optional()
      .describe('Largest batch size captured as a CUDA graph; larger batches run piecewise or eagerly. Default: chosen by vLLM from max_num_seqs; lem records the value vLLM reports.'),
    enable_prefix_caching: z
      .boolean()
      .optional()
      .describe('Reuse the KV cache of prompt prefixes already computed (shared system prompts, repeated prompts): skipped prefill is saved time and energy, so it changes what a run with repeated prompts measures. Default: chosen by vLLM for the model (on for most decoder-only models, off for hybrid and pooling ones); lem records the value vLLM reports.'),
    enable_chunked_prefill: z
      .boolean()
      .optional()
      .describe('Split long prefills into chunks of at most max_num_batched_tokens, batched together with decoding sequences. Default: chosen by vLLM for the model (on for generative decoder models); lem records the value vLLM reports.'),
    async_scheduling: z
      .boolean()
      .optional()
      .describe('Schedule the next step while the GPU runs the current one, closing gaps in GPU utilisation. Default: chosen by vLLM (off where a feature does not support it).'),
    performance_mode: z
      .enum(['balanced', 'interactivity', 'throughput'])
      .default('balanced')
      .describe("vLLM's tuning preset. `throughput` doubles vLLM's default max_num_seqs and max_num_batched_tokens when they are not set; `interactivity` captures CUDA graphs more finely for small batches (lower latency)."),
    optimization_level: z
      .int()
      .min(0)
      .max(3)
      .default(2)
      .describe("vLLM's -O level. 0: no torch.compile and no CUDA graphs (fastest start, slowest steps); 1: compilation and piecewise CUDA graphs; 2 (vLLM's default): compilation with full and piecewise CUDA graphs; 3: the most aggressive level. Higher levels start slower and usually cost less energy per token."),
    speculative: speculativeSchema.optional(),
    trust_remote_code: z.boolean().default(false).describe("Run the model repository's own Python code (needed by some architectures vLLM does not ship)."),
    startup_timeout_s: z
      .int()
      .min(1)
      .default(DEFAULT_STARTUP_TIMEOUT_S)
      .describe('Seconds to wait for the server to answer its health check and a first completion. Big models load, compile and capture CUDA graphs for minutes.'),
    extra_args: z
      .array(z.string())
      .default([])
      .describe('Arguments appended verbatim to `vllm serve`. Not validated by lem; recorded in the result with the rest of the command line.'),
  })
  .strict()
  .describe('Settings of the vLLM backend (`vllm serve` 0.22.1 in its official container image).');

/** The validated section, defaults applied: what `server()` and `check()` receive. */
export type VllmConfig = z.output<typeof configSchema>;
export type SpeculativeConfig = z.output<typeof speculativeSchema>;

/** The section as JSON Schema (draft 2020-12, input view: keys with defaults are optional). */
export const jsonSchema: JsonSchema = sectionJsonSchema(z.toJSONSchema(configSchema, {io: 'input', target: 'draft-2020-12'}));
