/**
 * The `pytorch:` section of experiment files. Defaults are transformers 5.15.0's own
 * (reference/transformers-5.15.0.txt; the continuous-batching defaults are those of
 * ContinuousBatchingConfig in src/transformers/generation/configuration_utils.py). Where transformers
 * sizes a value at start-up, the key is optional and absent from the command line unless set, and lem
 * records what transformers reports (index.ts, `reportedSettings`).
 */
import {z} from 'zod';
import {sectionJsonSchema, type JsonSchema} from '@lem/plugin-kit';

/**
 * `--dtype` values lem offers. transformers 5.15.0 takes `auto` or the name of any torch dtype
 * (ModelManager._resolve_dtype, src/transformers/cli/serving/model_manager.py); these are the ones
 * that serve a language model on a GPU.
 */
export const DTYPES = ['auto', 'bfloat16', 'float16', 'float32'] as const;

/** `--quantization` values at 5.15.0 (ModelManager._validate_args): bitsandbytes, applied while loading. */
export const QUANTIZATIONS = ['bnb-4bit', 'bnb-8bit'] as const;

/**
 * `--attn-implementation` values lem offers. transformers 5.15.0 accepts eager, sdpa,
 * flash_attention_2, flash_attention_3, flex_attention and kernels-community/* hub kernels
 * (ModelManager._validate_args); the flash-attention packages and the `kernels` package are not in
 * this backend's image, so only the implementations PyTorch itself provides are offered.
 */
export const ATTN_IMPLEMENTATIONS = ['sdpa', 'eager', 'flex_attention'] as const;

/** The attention implementations continuous batching has a paged kernel for (AttentionInterface, modeling_utils.py, at 5.15.0), of those offered. */
export const PAGED_ATTN_IMPLEMENTATIONS = ['sdpa', 'eager'] as const;

/** `--reasoning` choices (ReasoningMode, src/transformers/cli/serve.py). */
export const REASONING_MODES = ['auto', 'on', 'off'] as const;

/** ContinuousBatchingConfig.block_size at 5.15.0. */
export const DEFAULT_CB_BLOCK_SIZE = 256;
/** PagedAttentionCache._min_block_size at 5.15.0: smaller blocks are refused at start-up. */
export const MIN_CB_BLOCK_SIZE = 4;
/** Readiness timeout: loading a large model (and, under continuous batching, sizing the cache and warming up on the first request) takes minutes. */
export const DEFAULT_STARTUP_TIMEOUT_S = 1800;

/** `auto`, `cuda`, or one GPU as `cuda:<n>` (inside the container, GPUs are numbered from 0 in the order lem gives them). */
const DEVICE = z.union([z.literal('auto'), z.literal('cuda'), z.string().regex(/^cuda:\d+$/, 'a device is auto, cuda or cuda:<n>')]);

const cbOptions = {
  cb_block_size: z
    .int()
    .min(MIN_CB_BLOCK_SIZE)
    .default(DEFAULT_CB_BLOCK_SIZE)
    .describe('Continuous batching: tokens per KV-cache block (`--cb-block-size`). transformers 5.15.0\'s default is 256. Smaller blocks waste less cache on the last, partly filled block of each sequence; larger ones mean fewer blocks to manage.'),
  cb_num_blocks: z
    .int()
    .min(1)
    .optional()
    .describe('Continuous batching: KV-cache blocks allocated (`--cb-num-blocks`), i.e. how many tokens of context all running sequences share. Default: sized by transformers from the GPU memory left after loading (with max_batch_tokens and max_memory_percent); lem records the value transformers reports.'),
  cb_max_batch_tokens: z
    .int()
    .min(1)
    .optional()
    .describe('Continuous batching: most tokens (prefill and decode) processed in one forward pass (`--cb-max-batch-tokens`). Default: 8192, lowered by transformers when the GPU memory left would not hold it; lem records the value transformers reports. Larger batches raise throughput and usually lower energy per token, at the cost of activation memory and longer steps.'),
  cb_max_memory_percent: z
    .number()
    .gt(0)
    .max(1)
    .optional()
    .describe('Continuous batching: fraction of the GPU memory free after loading that the KV cache and batch buffers may take (`--cb-max-memory-percent`). Default: 0.9, or 0.8 when sampling needs logits processors (resolved by transformers at start-up). More memory fits more concurrent sequences.'),
  cb_use_cuda_graph: z
    .boolean()
    .optional()
    .describe('Continuous batching: replay the forward passes as CUDA graphs (`--[no-]cb-use-cuda-graph`), which removes most kernel-launch overhead of small decode batches. Default: decided by transformers (on only for attention implementations that need no attention mask, i.e. flash attention; off for sdpa and eager); lem records the decision.'),
};

export const configSchema = z
  .object({
    model_path: z
      .string()
      .min(1)
      .optional()
      .describe("Model to serve instead of the experiment's top-level `model`, e.g. a quantised variant: a hub id (`org/name`, downloaded inside the container) or an absolute path to a model folder (mounted read-only at the same path in the container)."),
    dtype: z
      .enum(DTYPES)
      .default('auto')
      .describe("Precision the weights are loaded in and the model computes in (`--dtype`). `auto` (transformers 5.15.0's default): the checkpoint's own dtype. float32 doubles weight memory and memory traffic against bfloat16/float16 and runs far slower on tensor cores."),
    quantization: z
      .enum(QUANTIZATIONS)
      .optional()
      .describe('Quantise the weights with bitsandbytes while loading (`--quantization`): bnb-4bit (NF4 with double quantisation) or bnb-8bit (LLM.int8). Default: none; a pre-quantised checkpoint is read as its quantization_config says without this key. Fewer weight bytes cut memory use; bitsandbytes dequantises on the fly, so decoding is often slower and not always cheaper in energy.'),
    attn_implementation: z
      .enum(ATTN_IMPLEMENTATIONS)
      .optional()
      .describe("Attention kernel (`--attn-implementation`). Default: the model's own choice (sdpa where the architecture supports it, else eager). eager materialises the attention matrix (more memory traffic); flex_attention compiles its kernel with torch.compile on first use."),
    device: DEVICE.default('auto').describe(
      "Where the model is placed (`--device`, passed to from_pretrained as device_map). `auto` (transformers 5.15.0's default): accelerate spreads the layers over every GPU the container sees and, if they do not fit, offloads the rest to CPU memory (very slow). transformers serve has no tensor or pipeline parallelism: with several GPUs the layers run one GPU after the other, so only one is busy at a time. `cuda` or `cuda:<n>` put the whole model on one GPU.",
    ),
    continuous_batching: z
      .boolean()
      .default(false)
      .describe('Serve concurrent requests from a paged KV cache in one running batch (`--[no-]continuous-batching`). Off (transformers 5.15.0\'s default), requests are generated one after another with model.generate() on a single thread: concurrency then only queues requests. On, throughput at concurrency > 1 is far higher and energy per token usually far lower.'),
    ...cbOptions,
    compile: z
      .boolean()
      .default(false)
      .describe('Without continuous batching: generate with a static KV cache, which makes generate() torch.compile the decoding step (`--[no-]compile`). Compilation costs time at the first requests (part of warm-up) and then usually makes each token faster and cheaper; generate() skips it for quantisation methods that cannot be compiled and for models offloaded to CPU. No effect with continuous batching.'),
    reasoning: z
      .enum(REASONING_MODES)
      .default('auto')
      .describe("Chat API only: thinking mode of models whose chat template has one (Qwen3, Gemma 4, …), passed as enable_thinking (`--reasoning`). `auto` (the default): the template's own default. Thinking changes what is generated, not how fast."),
    trust_remote_code: z.boolean().default(false).describe("Run the model repository's own Python code (`--[no-]trust-remote-code`; needed by architectures transformers does not ship)."),
    startup_timeout_s: z
      .int()
      .min(1)
      .default(DEFAULT_STARTUP_TIMEOUT_S)
      .describe('Seconds to wait for the server to answer its health check and a first completion. transformers loads the model before it listens, and with continuous batching sizes the cache and warms up on the first request.'),
    extra_args: z
      .array(z.string())
      .default([])
      .describe('Arguments appended verbatim to `transformers serve`. Not validated by lem; recorded in the result with the rest of the command line.'),
  })
  .strict()
  .describe('Settings of the PyTorch backend (`transformers serve`, Hugging Face transformers 5.15.0 on the official PyTorch image).');

/** The validated section, defaults applied: what `server()` and `check()` receive. */
export type PytorchConfig = z.output<typeof configSchema>;

/** The keys that only matter with continuous batching. */
export const CB_KEYS = ['cb_num_blocks', 'cb_max_batch_tokens', 'cb_max_memory_percent', 'cb_use_cuda_graph'] as const;

/** The section as JSON Schema (draft 2020-12, input view: keys with defaults are optional). */
export const jsonSchema: JsonSchema = sectionJsonSchema(z.toJSONSchema(configSchema, {io: 'input', target: 'draft-2020-12'}));
