/**
 * The `sglang:` section of experiment files. Keys are SGLang's own ServerArgs names; defaults are
 * SGLang 0.5.18's own (the ServerArgs dataclass in python/sglang/srt/server_args.py, shown in
 * reference/sglang-0.5.18.txt). Where SGLang decides a value at start-up from the GPU or the model,
 * the key is optional and absent from the command line unless set, and lem records what SGLang
 * reports (index.ts, `reportedSettings`).
 */
import {z} from 'zod';
import {sectionJsonSchema, type JsonSchema} from '@lem/plugin-kit';

/** `--dtype` choices at 0.5.18. */
export const DTYPES = ['auto', 'half', 'float16', 'bfloat16', 'float', 'float32'] as const;

/**
 * `--quantization` methods of 0.5.18 that load on NVIDIA GPUs: the parser's QUANTIZATION_CHOICES
 * that have a config class on CUDA (python/sglang/srt/layers/quantization/__init__.py), without
 * `marlin` (a choice with no config class, refused at start-up as an unknown method), `unquant`
 * (an opt-out of the checkpoint's own quantization, not a method), the Apple-only `mlx_q4`/`mlx_q8`,
 * the Ascend-only `modelslim`/`mxfp_w4a8`, and the AMD-only `petit_nvfp4` (its config applies only
 * on HIP) and `quark_int4fp8_moe` ("only supported on AMD GPUs").
 */
export const QUANTIZATION_METHODS = [
  'awq',
  'awq_marlin',
  'gptq',
  'gptq_marlin',
  'fp8',
  'mxfp8',
  'modelopt',
  'modelopt_fp8',
  'modelopt_fp4',
  'modelopt_mixed',
  'nvfp4_online',
  'w8a8_int8',
  'w8a8_fp8',
  'w4afp8',
  'mxfp4',
  'moe_wna16',
  'bitsandbytes',
  'gguf',
  'compressed-tensors',
  'auto-round',
  'auto-round-int8',
  'quark',
  'quark_mxfp4',
  'humming',
] as const;

/** `--kv-cache-dtype` choices at 0.5.18. */
export const KV_CACHE_DTYPES = ['auto', 'fp8_e5m2', 'fp8_e4m3', 'mxfp8', 'bf16', 'bfloat16', 'nvfp4', 'fp4_mx_block16', 'fp4_e2m1'] as const;

/**
 * `--schedule-policy` choices at 0.5.18 that order a plain workload; `priority` and `routing-key`
 * are left out because lem's requests carry neither a priority nor a routing key.
 */
export const SCHEDULE_POLICIES = ['fcfs', 'lpm', 'dfs-weight', 'lof', 'random'] as const;

/** CUDA-graph backends a phase can use (ALLOWED_BACKENDS_PER_PHASE, model_executor/cuda_graph_config.py). */
export const CUDA_GRAPH_BACKENDS = ['full', 'breakable', 'tc_piecewise', 'disabled'] as const;

/** Speculative algorithms that propose tokens with a separate draft model, given as `speculative.draft_model_path`. */
export const DRAFT_MODEL_ALGORITHMS = ['EAGLE', 'EAGLE3', 'STANDALONE', 'DFLASH'] as const;

/**
 * The other built-in algorithms: NEXTN runs the model's own multi-token-prediction layers (SGLang
 * points the draft at the served model for the architectures that have them), DSPARK reads draft
 * weights bundled in the checkpoint unless a draft is given, NGRAM looks continuations up in the
 * prompt and the tokens generated so far.
 */
export const SELF_DRAFT_ALGORITHMS = ['NEXTN', 'DSPARK', 'NGRAM'] as const;

/** The EAGLE-style algorithms whose num_steps / eagle_topk / num_draft_tokens SGLang reads as given. */
export const EAGLE_FAMILY_ALGORITHMS = ['EAGLE', 'EAGLE3', 'NEXTN', 'STANDALONE'] as const;

/** SGLang 0.5.18's `--max-prefill-tokens` default. */
export const DEFAULT_MAX_PREFILL_TOKENS = 16384;
/** Readiness timeout: loading, kernel JIT and CUDA-graph capture of a large model take minutes. */
export const DEFAULT_STARTUP_TIMEOUT_S = 1800;

const parallelSize = (what: string) => z.int().min(1).default(1).describe(what);

export const speculativeSchema = z
  .object({
    algorithm: z
      .enum([...DRAFT_MODEL_ALGORITHMS, ...SELF_DRAFT_ALGORITHMS])
      .describe(
        "How draft tokens are proposed (`--speculative-algorithm`). EAGLE/EAGLE3/STANDALONE/DFLASH run a separate draft model (its own weights, KV cache and forward passes); NEXTN uses the model's own multi-token-prediction layers; DSPARK a draft bundled in the checkpoint; NGRAM looks the continuation up in the prompt for almost no compute. Accepted tokens cut the number of target forward passes per output token; rejected ones are wasted work. With speculative decoding SGLang caps max_running_requests at 48 unless it is set.",
      ),
    draft_model_path: z
      .string()
      .min(1)
      .optional()
      .describe('The draft model (`--speculative-draft-model-path`): a hub id or an absolute path, mounted read-only like the main model. Required by EAGLE, EAGLE3, STANDALONE and DFLASH, refused with NGRAM.'),
    num_steps: z
      .int()
      .min(1)
      .optional()
      .describe("Draft steps per verification (`--speculative-num-steps`). Default: SGLang's choice for the model (3 for most, 5 for Llama and Grok), made together with eagle_topk and num_draft_tokens; lem records what SGLang uses."),
    eagle_topk: z
      .int()
      .min(1)
      .optional()
      .describe('Branches kept per draft step (`--speculative-eagle-topk`): 1 drafts a chain, more draft a tree that is verified in one pass (more compute per step, more tokens accepted). EAGLE-style algorithms only; needs num_steps.'),
    num_draft_tokens: z
      .int()
      .min(1)
      .optional()
      .describe('Draft tokens verified per target forward pass (`--speculative-num-draft-tokens`). With eagle_topk 1 SGLang makes it num_steps + 1; NGRAM defaults it to 12.'),
  })
  .strict()
  .describe('Speculative decoding. Absent: none.');

/** Chunked-prefill chunk size: -1 disables chunking, otherwise a positive token count. */
const chunkSize = z.union([z.literal(-1), z.int().min(1)]);

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
      .describe("Precision of weights and activations for unquantised layers (`--dtype`). `auto`: FP16 for FP32/FP16 checkpoints, BF16 for BF16 ones. FP32 doubles weight memory and runs far slower than BF16/FP16 on tensor cores."),
    quantization: z
      .enum(QUANTIZATION_METHODS)
      .optional()
      .describe(
        "Weight quantisation method (`--quantization`). Default: read from the checkpoint's quantization config (none for an unquantised one). fp8, mxfp8 and nvfp4_online quantise a BF16/FP16 checkpoint while loading; the others read pre-quantised checkpoints. Fewer weight bytes mean less memory traffic per decode step (usually less energy per token) and more room for the KV cache, at some accuracy cost.",
      ),
    kv_cache_dtype: z
      .enum(KV_CACHE_DTYPES)
      .default('auto')
      .describe("Element type of the KV cache (`--kv-cache-dtype`). `auto`: the model's dtype. fp8 variants halve KV memory per token (more sequences fit, less memory traffic in attention); mxfp8 needs the FA4 attention backend; nvfp4 and fp4_* quarter it, at more accuracy risk."),
    mem_fraction_static: z
      .number()
      .gt(0)
      .lt(1)
      .optional()
      .describe(
        "Fraction of each GPU's memory for the model weights and the KV-cache pool (`--mem-fraction-static`); activations and CUDA graphs live in the rest. Default: computed by SGLang from the GPU's memory, the chunked-prefill size, the parallel sizes and the CUDA-graph reserve (at least 10 GB left free on GPUs above 60 GB); lem records the value SGLang uses. Higher fits more concurrent tokens, until activations run out of memory.",
      ),
    context_length: z
      .int()
      .min(1)
      .optional()
      .describe("Longest sequence (prompt + output), tokens (`--context-length`). Default: the model's config.json; lem records the value SGLang reports. SGLang refuses a value above the model's own unless an environment override is set."),
    max_running_requests: z
      .int()
      .min(1)
      .optional()
      .describe(
        "Most requests decoded together (`--max-running-requests`): the running batch. Default: computed by SGLang from the KV-cache pool (pool tokens / context length × 512, kept within 2048–4096 and at most half the pool's tokens), or 48 with speculative decoding; lem records the value SGLang reports. Larger batches raise throughput and usually lower energy per token, until the KV cache or latency limits.",
      ),
    max_total_tokens: z
      .int()
      .min(1)
      .optional()
      .describe('Size of the KV-cache pool in tokens (`--max-total-tokens`), capping what mem_fraction_static would give. Default: what fits in mem_fraction_static; lem records the pool size SGLang reports.'),
    chunked_prefill_size: chunkSize
      .optional()
      .describe(
        'Largest prefill chunk, tokens (`--chunked-prefill-size`); -1 disables chunked prefill. Default: chosen by SGLang from GPU memory (2048 below 35 GB, 4096 below 60 GB, 8192 below 160 GB such as H100/H200, 16384 above); lem records the value SGLang reports. Larger chunks speed prefill up but lengthen the steps decoding requests wait through, and reserve more activation memory.',
      ),
    max_prefill_tokens: z
      .int()
      .min(1)
      .default(DEFAULT_MAX_PREFILL_TOKENS)
      .describe("Token budget of one prefill batch (`--max-prefill-tokens`); the real bound is the larger of this and the model's context length. SGLang 0.5.18's default is 16384."),
    schedule_policy: z
      .enum(SCHEDULE_POLICIES)
      .default('fcfs')
      .describe("Order in which waiting requests are admitted (`--schedule-policy`). `fcfs` (SGLang 0.5.18's default): arrival order; `lpm`: longest shared prefix first, which raises radix-cache hits (skipped prefill is saved energy); `dfs-weight`: prefix-tree order; `lof`: longest output first; `random`."),
    disable_radix_cache: z
      .boolean()
      .default(false)
      .describe('Turn off RadixAttention prefix caching (`--disable-radix-cache`). With it on (the default), the KV cache of prompt prefixes already computed is reused: skipped prefill is saved time and energy, so it changes what a run with repeated or shared prompts measures.'),
    disable_overlap_schedule: z
      .boolean()
      .default(false)
      .describe('Turn off the overlap scheduler (`--disable-overlap-schedule`), which prepares the next batch on the CPU while the GPU runs the current one; off, the GPU idles between steps. SGLang turns it off itself with pipeline parallelism.'),
    enable_mixed_chunk: z
      .boolean()
      .default(false)
      .describe('Batch prefill chunks together with decoding requests (`--enable-mixed-chunk`), so decoding does not pause during long prefills. Needs chunked prefill; SGLang turns it off with speculative decoding.'),
    tp_size: parallelSize('Tensor parallelism (`--tp-size`): GPUs each layer is split across, with an all-reduce after every layer. Needs NVLink-class links to pay off; more GPUs draw more idle power.'),
    pp_size: parallelSize('Pipeline parallelism (`--pp-size`): consecutive layer groups on different GPUs. Less communication than tensor parallelism, but bubbles leave GPUs idle at small batch sizes.'),
    dp_size: parallelSize('Data parallelism (`--dp-size`): independent engine replicas behind one server, each with tp_size × pp_size GPUs.'),
    ep_size: parallelSize('MoE models: expert parallelism (`--ep-size`) inside the tensor-parallel group: whole experts are placed on GPUs instead of every expert being split across them. Must divide tp_size.'),
    cuda_graph_backend_decode: z
      .enum(CUDA_GRAPH_BACKENDS)
      .optional()
      .describe("How decode steps are captured as CUDA graphs (`--cuda-graph-backend-decode`): `full` graphs, `breakable` segments, `tc_piecewise` (torch.compile pieces) or `disabled` (eager, every kernel launched from Python: slower and usually more energy per token at small batches). Default: SGLang's (`full`, changed for models and settings it knows to be incompatible); lem records the backend SGLang uses. Setting it skips SGLang's own compatibility adjustments."),
    cuda_graph_backend_prefill: z
      .enum(CUDA_GRAPH_BACKENDS)
      .optional()
      .describe("How prefill batches are captured as CUDA graphs (`--cuda-graph-backend-prefill`). Default: SGLang's (`breakable` on CUDA, turned off for incompatible models and settings); lem records the backend SGLang uses. Setting it skips SGLang's own compatibility adjustments; `full` is experimental in SGLang."),
    cuda_graph_max_bs_decode: z
      .int()
      .min(1)
      .optional()
      .describe('Largest decode batch captured as a CUDA graph (`--cuda-graph-max-bs-decode`); larger batches run without one. Default: chosen by SGLang from GPU memory and tp_size (256 on H100/H200-class GPUs below tp 4, 512 from tp 4); lem records the value SGLang uses. Graphs cost capture time and memory taken from the KV cache.'),
    enable_torch_compile: z
      .boolean()
      .default(false)
      .describe('Compile the model with torch.compile (`--enable-torch-compile`, experimental in SGLang): faster small-batch decode steps at the cost of a longer start.'),
    speculative: speculativeSchema.optional(),
    trust_remote_code: z.boolean().default(false).describe("Run the model repository's own Python code (`--trust-remote-code`), needed by some architectures SGLang does not ship."),
    startup_timeout_s: z
      .int()
      .min(1)
      .default(DEFAULT_STARTUP_TIMEOUT_S)
      .describe('Seconds to wait for the server to answer its health check and a first completion. Big models load, JIT-compile kernels and capture CUDA graphs for minutes.'),
    extra_args: z
      .array(z.string())
      .default([])
      .describe('Arguments appended verbatim to `python3 -m sglang.launch_server`. Not validated by lem; recorded in the result with the rest of the command line.'),
  })
  .strict()
  .describe('Settings of the SGLang backend (`python3 -m sglang.launch_server`, SGLang 0.5.18, in its official container image).');

/** The validated section, defaults applied: what `server()` and `check()` receive. */
export type SglangConfig = z.output<typeof configSchema>;
export type SpeculativeConfig = z.output<typeof speculativeSchema>;

/** The section as JSON Schema (draft 2020-12, input view: keys with defaults are optional). */
export const jsonSchema: JsonSchema = sectionJsonSchema(z.toJSONSchema(configSchema, {io: 'input', target: 'draft-2020-12'}));
