/**
 * The shape and parameter counts of a model, read from a GGUF file's header or a Hugging Face
 * `config.json`, for the FLOPs estimate (DESIGN §6). Nothing here loads weights: a GGUF is read
 * up to its tensor table, a config.json is a few hundred bytes.
 */
import {readdir, readFile, stat} from 'node:fs/promises';
import {basename, join, resolve} from 'node:path';
import type {GGUFParseOutput, GGUFTensorInfo} from '@huggingface/gguf';

// Imported on use: only a run (never a config command) reads a model's header.
const ggufLib = () => import('@huggingface/gguf');
import {z} from 'zod';
import {describeNetworkError, hfEndpoint, hubGet} from '../hub.js';
import {configError, ErrorCodes, type CodedError, type ErrorDetail} from '../errors.js';

export const ModelInfoErrorCodes = {
  /** A GGUF or config.json that exists but cannot describe a model: bad magic, truncated, missing keys. */
  invalid: 'E_MODEL_INFO_INVALID',
  /** A well-formed config.json whose architecture the parameter formula does not fit (loadModelInfo turns it into `available: false`). */
  unsupported: 'E_MODEL_INFO_UNSUPPORTED',
} as const;

/**
 * Parameter counts are numbers of weights (elements), whatever their storage type: a Q4_K tensor
 * of shape [4096, 4096] counts 16 777 216 however few bytes it takes.
 */
export interface ModelInfo {
  source: 'gguf' | 'config.json';
  /** Where it was read from: a file path or a URL. */
  origin: string;
  /** `general.architecture` (GGUF) or `model_type` (config.json), e.g. `llama`, `qwen2`. */
  architecture: string;
  layers: number;
  hiddenSize: number;
  /**
   * Query heads. Where a GGUF gives one value per layer (and some layers have none), this is the
   * mean over layers, so `layers × heads` is still the sum; the same holds for `kvHeads` and `ffnSize`.
   */
  heads: number;
  kvHeads: number;
  /** Per-head dimension of queries and keys; `heads × headDim` is the attention width. */
  headDim: number;
  /** Dense feed-forward width (`feed_forward_length` / `intermediate_size`). */
  ffnSize: number;
  vocabSize: number;
  /** Trained context length, or null when the source does not say. */
  contextLength: number | null;
  /** True when the LM head shares the token embedding matrix (counted once in `embeddingParams`). */
  tiedEmbeddings: boolean;
  totalParams: number;
  /** Token embedding + LM head (once when tied) + learned position/token-type embeddings. */
  embeddingParams: number;
  /** `totalParams − embeddingParams`: every block weight, norms and router included. */
  nonEmbeddingParams: number;
  /** Mixture of experts: experts per MoE layer and how many each token is routed to. */
  experts?: {count: number; used: number};
  /** Non-embedding parameters one token passes through: non-expert + used/count × expert parameters. Dense models: `nonEmbeddingParams`. */
  activeNonEmbeddingParams: number;
}

export type ModelInfoResult = {available: true; info: ModelInfo} | {available: false; reason: string};

function invalid(message: string, tryLines: string[], details?: ErrorDetail[]): CodedError {
  return configError(ModelInfoErrorCodes.invalid, message, tryLines, details);
}

const GGUF_TRY = ['check that the file is a complete GGUF (its size against the source, or download it again)'];

// ---------------------------------------------------------------------------------------------
// GGUF

/** Tensors that map tokens to vectors or vectors to logits (llama.cpp names). */
const EMBEDDING_TENSORS = new Set(['token_embd.weight', 'output.weight', 'position_embd.weight', 'token_types.weight']);
/** Routed-expert tensors: merged `blk.N.ffn_up_exps.weight` [n_embd, n_ff_exp, n_expert], or the old one-tensor-per-expert `blk.N.ffn_up.E.weight`. Shared experts (`*_shexp`) and the router (`ffn_gate_inp`) are always active. */
const EXPERT_TENSOR = /(_exps\.(weight|bias)$)|(^blk\.\d+\.ffn_(gate|up|down)\.\d+\.weight$)/;

const elements = (t: GGUFTensorInfo): bigint => t.shape.reduce((a, d) => a * d, 1n);

/** A metadata value as a number; a per-layer array as its mean (so `layers × value` is the sum). */
function metaNumber(metadata: Record<string, unknown>, key: string): number | undefined {
  const value = metadata[key];
  if (typeof value === 'number' || typeof value === 'bigint') return Number(value);
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'number' || typeof v === 'bigint')) {
    return value.reduce((a: number, v) => a + Number(v), 0) / value.length;
  }
  return undefined;
}

async function readGguf(path: string): Promise<GGUFParseOutput & {fileSize: number}> {
  let fileSize: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw Object.assign(new Error('not a file'), {code: 'EISDIR'});
    fileSize = s.size;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw configError(ErrorCodes.fileNotFound, code === 'ENOENT' ? `${path} does not exist` : `${path} cannot be read (${code ?? String(error)})`, [
      'check the model path',
    ]);
  }
  let parsed: GGUFParseOutput;
  try {
    parsed = await (await ggufLib()).gguf(path, {allowLocalFile: true});
  } catch (error) {
    throw invalid(`${path} is not a readable GGUF file: ${(error as Error).message}`, GGUF_TRY);
  }
  // The parser reads past the end of a truncated file as zeros instead of failing: check the table.
  const names = new Set<string>();
  for (const [i, t] of parsed.tensorInfos.entries()) {
    if (t.name === '' || t.n_dims < 1 || t.shape.length !== t.n_dims || t.shape.some((d) => d < 1n) || names.has(t.name)) {
      throw invalid(`${path} has a malformed tensor table (entry ${i}: name "${t.name}", shape [${t.shape.join(', ')}]); the file is probably truncated`, GGUF_TRY);
    }
    names.add(t.name);
    if (parsed.tensorDataOffset + t.offset > BigInt(fileSize)) {
      throw invalid(`${path} is shorter than its tensor table says (${t.name} starts past the end of the file); the file is truncated`, GGUF_TRY);
    }
  }
  return {...parsed, fileSize};
}

/**
 * Reads a GGUF file's header and counts parameters from the tensor shapes. A shard of a split
 * model (`name-00001-of-00003.gguf`) reads every shard beside it.
 * Throws `E_FILE_NOT_FOUND` when a file is missing and `E_MODEL_INFO_INVALID` when it is not a
 * usable GGUF (bad magic, truncated, missing `block_count`/`embedding_length`).
 */
export async function modelInfoFromGguf(path: string): Promise<ModelInfo> {
  const first = resolve(path);
  const {parseGgufShardFilename} = await ggufLib();
  const shard = parseGgufShardFilename(first);
  const paths =
    shard && Number(shard.total) > 1
      ? Array.from({length: Number(shard.total)}, (_, i) => `${shard.prefix}-${String(i + 1).padStart(shard.shard.length, '0')}-of-${shard.total}.gguf`)
      : [first];
  const parts = [];
  for (const p of paths) parts.push(await readGguf(p));
  const head = parts[0]!;
  const metadata = head.metadata as unknown as Record<string, unknown>;
  const tensors = parts.flatMap((p) => p.tensorInfos);

  const arch = metadata['general.architecture'];
  if (typeof arch !== 'string' || arch === '') throw invalid(`${first} has no general.architecture`, GGUF_TRY);
  const key = (suffix: string) => `${arch}.${suffix}`;
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const shape = ggufShape(first, metadata, byName, key);
  const counts = ggufParameterCounts(first, metadata, tensors, key);
  return {
    source: 'gguf',
    origin: first,
    architecture: arch,
    ...shape,
    ffnSize: metaNumber(metadata, key('feed_forward_length')) ?? 0,
    contextLength: metaNumber(metadata, key('context_length')) ?? null,
    tiedEmbeddings: !byName.has('output.weight'),
    totalParams: Number(counts.total),
    embeddingParams: Number(counts.embedding),
    nonEmbeddingParams: Number(counts.total - counts.embedding),
    ...(counts.experts ? {experts: counts.experts} : {}),
    activeNonEmbeddingParams: Number(counts.active),
  };
}

type GgufTensor = Awaited<ReturnType<typeof readGguf>>['tensorInfos'][number];

/** Layers, widths, heads and vocabulary from the metadata, with the tensors' shapes where the metadata is silent. */
function ggufShape(first: string, metadata: Record<string, unknown>, byName: Map<string, GgufTensor>, key: (suffix: string) => string) {
  const missing = ['block_count', 'embedding_length'].filter((k) => metaNumber(metadata, key(k)) === undefined);
  if (missing.length > 0) {
    throw invalid(`${first} lacks ${missing.map(key).join(' and ')}`, GGUF_TRY, missing.map((k) => ({path: key(k), message: 'required to describe the model'})));
  }
  const layers = metaNumber(metadata, key('block_count'))!;
  const hiddenSize = metaNumber(metadata, key('embedding_length'))!;
  // Attention-free architectures (mamba, rwkv) have no head count: their attention term is 0.
  const heads = metaNumber(metadata, key('attention.head_count')) ?? 0;
  const kvHeads = metaNumber(metadata, key('attention.head_count_kv')) ?? heads;
  const firstHeads = (() => {
    const v = metadata[key('attention.head_count')];
    return Array.isArray(v) ? Number(v[0]) : heads;
  })();
  const q = byName.get('blk.0.attn_q.weight');
  const headDim =
    metaNumber(metadata, key('attention.key_length')) ??
    (q && q.shape.length >= 2 && firstHeads > 0 ? Number(q.shape[1]) / firstHeads : heads > 0 ? hiddenSize / heads : 0);
  const embd = byName.get('token_embd.weight');
  const vocabSize =
    (embd && embd.shape.length >= 2 ? Number(embd.shape[1]) : undefined) ??
    metaNumber(metadata, key('vocab_size')) ??
    (Array.isArray(metadata['tokenizer.ggml.tokens']) ? (metadata['tokenizer.ggml.tokens'] as unknown[]).length : 0);
  return {layers, hiddenSize, heads, kvHeads, headDim, vocabSize};
}

/** Parameters counted from the tensors: total, embedding, and active (the used share of the experts). */
function ggufParameterCounts(first: string, metadata: Record<string, unknown>, tensors: GgufTensor[], key: (suffix: string) => string) {
  let total = 0n;
  let embedding = 0n;
  let expert = 0n;
  for (const t of tensors) {
    const n = elements(t);
    total += n;
    if (EMBEDDING_TENSORS.has(t.name)) embedding += n;
    else if (EXPERT_TENSOR.test(t.name)) expert += n;
  }
  const nonEmbedding = total - embedding;

  let experts: ModelInfo['experts'];
  let active = nonEmbedding;
  const count = metaNumber(metadata, key('expert_count'));
  const used = metaNumber(metadata, key('expert_used_count'));
  if (count !== undefined && count > 0) {
    if (used === undefined || used < 1 || used > count) {
      throw invalid(`${first} has ${key('expert_count')} = ${count} but ${key('expert_used_count')} is ${used ?? 'missing'}`, GGUF_TRY);
    }
    experts = {count, used};
    // Exact whenever the expert tensors hold `count` equal experts.
    active = nonEmbedding - expert + (expert * BigInt(used)) / BigInt(count);
  } else if (expert > 0n) {
    throw invalid(`${first} has expert tensors (*_exps) but no ${key('expert_count')}`, GGUF_TRY);
  }
  return {total, embedding, active, experts};
}

// ---------------------------------------------------------------------------------------------
// config.json

const positiveInt = z.number().int().positive();
const count = z.number().int().nonnegative();

/** The keys the formula reads; anything else in the file is ignored. */
const configSchema = z.looseObject({
  model_type: z.string().optional(),
  hidden_size: positiveInt,
  num_hidden_layers: positiveInt,
  num_attention_heads: positiveInt,
  num_key_value_heads: positiveInt.nullish(),
  head_dim: positiveInt.nullish(),
  intermediate_size: positiveInt,
  vocab_size: positiveInt,
  tie_word_embeddings: z.boolean().nullish(),
  max_position_embeddings: positiveInt.nullish(),
  attention_bias: z.boolean().nullish(),
  mlp_bias: z.boolean().nullish(),
  // Mixture of experts (Mixtral: num_local_experts; Qwen-MoE, OLMoE: num_experts).
  num_local_experts: count.nullish(),
  num_experts: count.nullish(),
  num_experts_per_tok: count.nullish(),
  moe_intermediate_size: positiveInt.nullish(),
  shared_expert_intermediate_size: count.nullish(),
  decoder_sparse_step: positiveInt.nullish(),
  mlp_only_layers: z.array(count).nullish(),
});

/**
 * Architectures whose blocks are not the gated-MLP decoder below (plain GELU MLPs with biases,
 * fused layouts, multi-head latent attention, state-space or encoder models): the formula would
 * miscount them, so they are refused rather than guessed. A GGUF of the same model is counted
 * from its tensors and has no such limit.
 */
const UNSUPPORTED_MODEL_TYPES = new Set([
  'gpt2', 'gpt_bigcode', 'gpt_neox', 'gptj', 'falcon', 'phi', 'bloom', 'opt', 'mpt', 'bert', 'roberta', 't5', 'whisper',
  'mamba', 'mamba2', 'falcon_mamba', 'rwkv', 'jamba', 'recurrent_gemma', 'deepseek_v2', 'deepseek_v3',
]);
/** Models tying the LM head to the embedding by default (transformers' config defaults). */
const TIED_BY_DEFAULT = /^gemma/;

/**
 * Parameter counts from a Hugging Face `config.json`, for the standard pre-norm decoder with a
 * gated MLP (SwiGLU/GeGLU: gate, up, down) and grouped-query attention. Per layer:
 *
 *   attention  = h·(H·d) + 2·h·(KV·d) + (H·d)·h        q, k, v, o projections
 *              + biases: q,k,v (Qwen2) or q,k,v,o (`attention_bias`); q/k norms 2·d (Qwen3)
 *   mlp        = 3·h·F (+ 2·F + h with `mlp_bias`)     gate, up, down
 *   norms      = 2·h
 *   MoE layer  = router h·E + E·3·h·F_e (+ shared expert 3·h·F_s + h, Qwen-MoE)
 * plus a final norm h, the token embedding V·h and the LM head V·h unless tied.
 *
 * Fits: Llama 1/2/3, Mistral, Mixtral, Qwen2/2.5/3 and their MoE variants, Gemma 1 (Gemma 2/3 add
 * two norms per layer: undercounted by 2·h·L, < 0.01 %), Phi-3/3.5, Yi, OLMo 2/OLMoE, Granite,
 * InternLM2-style configs with these keys. Multimodal configs are read from `text_config` (the
 * vision tower is not counted). Refused (`E_MODEL_INFO_UNSUPPORTED`): the types in
 * UNSUPPORTED_MODEL_TYPES and anything with `kv_lora_rank` (DeepSeek MLA).
 * Throws `E_MODEL_INFO_INVALID` when a required key is missing or not a positive integer.
 */
export function modelInfoFromConfigJson(json: unknown, origin = 'config.json'): ModelInfo {
  const {c, modelType} = readConfig(json, origin);
  const counts = decoderCounts(c, modelType, origin);
  return {
    source: 'config.json',
    origin,
    architecture: modelType,
    layers: c.num_hidden_layers,
    hiddenSize: c.hidden_size,
    heads: c.num_attention_heads,
    kvHeads: counts.kvHeads,
    headDim: counts.headDim,
    ffnSize: c.intermediate_size,
    vocabSize: c.vocab_size,
    contextLength: c.max_position_embeddings ?? null,
    tiedEmbeddings: counts.tied,
    totalParams: counts.nonEmbedding + counts.embedding,
    embeddingParams: counts.embedding,
    nonEmbeddingParams: counts.nonEmbedding,
    ...(counts.experts > 0 ? {experts: {count: counts.experts, used: counts.expertsUsed}} : {}),
    activeNonEmbeddingParams: counts.nonEmbedding - counts.expertParams + (counts.expertParams / Math.max(counts.experts, 1)) * counts.expertsUsed,
  };
}

type ModelConfig = z.output<typeof configSchema>;

/** The config (a multimodal one's `text_config` over its top level), refused when its architecture cannot be counted. */
function readConfig(json: unknown, origin: string): {c: ModelConfig; modelType: string} {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw invalid(`${origin} is not a JSON object`, ['check the file: it should be a model config.json']);
  }
  const top = json as Record<string, unknown>;
  const textConfig = top.text_config;
  const raw: Record<string, unknown> = typeof textConfig === 'object' && textConfig !== null && !Array.isArray(textConfig) ? {...top, ...(textConfig as Record<string, unknown>)} : top;

  const modelType = typeof raw.model_type === 'string' ? raw.model_type : 'unknown';
  if (UNSUPPORTED_MODEL_TYPES.has(modelType) || raw.kv_lora_rank !== undefined) {
    throw configError(
      ModelInfoErrorCodes.unsupported,
      `${origin}: model_type ${modelType} is not a gated-MLP decoder, so its parameters cannot be counted from config.json`,
      ['point model at a GGUF of the same model: its parameters are counted from the tensors'],
    );
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw invalid(
      `${origin} lacks the keys needed to count parameters`,
      ['check that it is the model config.json (hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, vocab_size)'],
      parsed.error.issues.map((issue) => ({path: issue.path.join('.'), message: issue.message})),
    );
  }
  return {c: parsed.data, modelType};
}

/** The formula above, layer by layer. */
function decoderCounts(c: ModelConfig, modelType: string, origin: string) {
  const h = c.hidden_size;
  const L = c.num_hidden_layers;
  const H = c.num_attention_heads;
  const KV = c.num_key_value_heads ?? H;
  const d = c.head_dim ?? h / H;
  const F = c.intermediate_size;
  const V = c.vocab_size;
  const tied = c.tie_word_embeddings ?? TIED_BY_DEFAULT.test(modelType);

  const qkvBias = modelType.startsWith('qwen2') ? H * d + 2 * KV * d : c.attention_bias ? H * d + 2 * KV * d + h : 0;
  const qkNorm = modelType.startsWith('qwen3') ? 2 * d : 0;
  const attention = h * H * d + 2 * h * KV * d + H * d * h + qkvBias + qkNorm;
  const mlp = (width: number) => 3 * h * width + (c.mlp_bias ? 2 * width + h : 0);
  const norms = 2 * h;

  const E = c.num_local_experts ?? c.num_experts ?? 0;
  const k = c.num_experts_per_tok ?? 0;
  if (E > 0 && (k < 1 || k > E)) {
    throw invalid(`${origin} has ${E} experts but num_experts_per_tok is ${c.num_experts_per_tok ?? 'missing'}`, ['check num_experts_per_tok in the config']);
  }
  const Fe = c.moe_intermediate_size ?? F;
  const Fs = c.shared_expert_intermediate_size ?? 0;
  const step = c.decoder_sparse_step ?? 1;
  const denseLayers = new Set(c.mlp_only_layers ?? []);

  let nonEmbedding = h; // final norm
  let expertParams = 0;
  for (let layer = 0; layer < L; layer++) {
    nonEmbedding += attention + norms;
    const moe = E > 0 && !denseLayers.has(layer) && (layer + 1) % step === 0;
    if (!moe) {
      nonEmbedding += mlp(F);
      continue;
    }
    const routed = E * mlp(Fe);
    expertParams += routed;
    nonEmbedding += h * E + routed + (Fs > 0 ? mlp(Fs) + h : 0);
  }
  return {kvHeads: KV, headDim: d, tied, nonEmbedding, embedding: V * h * (tied ? 1 : 2), expertParams, experts: E, expertsUsed: k};
}

// ---------------------------------------------------------------------------------------------
// loadModelInfo

export interface LoadModelInfoOptions {
  /** Relative model paths resolve against this folder (the project root). */
  baseDir: string;
  /** Reads HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE. */
  env: Readonly<Record<string, string | undefined>>;
  /** Injected for tests and proxies; default: the global fetch. */
  fetchImpl?: typeof fetch | undefined;
  /** Whole hub request, redirects included (default 10 000). */
  timeoutMs?: number | undefined;
}

/** `org/name`, optionally with a llama.cpp-style `:quant` tag (dropped). */
const HUB_ID = /^([A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*)(:[\w.-]+)?$/;

const unavailable = (reason: string): ModelInfoResult => ({available: false, reason});

/**
 * Finds a model's shape from whatever names it:
 * - a `.gguf` file (relative to `baseDir`) → its header;
 * - a `config.json`, or a folder holding one → that file; a folder with a single GGUF model → it;
 * - a hub id `org/name` (when no such path exists) → `${HF_ENDPOINT}/${id}/resolve/main/config.json`,
 *   with `HF_TOKEN` as a bearer token when set; nothing is cached.
 * Returns `{available: false, reason}` when nothing describes the model (no such file, no network,
 * 404, an architecture the config formula does not fit, a hub answer that is not a config). Throws
 * `E_MODEL_INFO_INVALID` only for a local file that exists and is malformed.
 */
export async function loadModelInfo(model: string, options: LoadModelInfoOptions): Promise<ModelInfoResult> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(model)) return unavailable(`${model} is a URL; give a local path or a hub id (org/name)`);
  const path = resolve(options.baseDir, model);
  const kind = await stat(path).then(
    (s) => (s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other'),
    () => 'missing' as const,
  );

  if (kind === 'file') {
    if (/\.gguf$/i.test(path)) return {available: true, info: await modelInfoFromGguf(path)};
    if (basename(path) === 'config.json') return fromLocalConfig(path);
    return unavailable(`${path} is neither a .gguf file nor a config.json`);
  }
  if (kind === 'dir') {
    const entries = await readdir(path).catch(() => [] as string[]);
    if (entries.includes('config.json')) return fromLocalConfig(join(path, 'config.json'));
    const ggufs = entries.filter((e) => /\.gguf$/i.test(e) && !/mmproj/i.test(e));
    const {parseGgufShardFilename} = await ggufLib();
    const models = ggufs.filter((e) => {
      const shard = parseGgufShardFilename(e);
      return !shard || Number(shard.shard) === 1;
    });
    if (models.length === 1) return {available: true, info: await modelInfoFromGguf(join(path, models[0]!))};
    return unavailable(
      models.length === 0 ? `${path} holds neither a config.json nor a .gguf file` : `${path} holds ${models.length} GGUF models (${models.join(', ')}); name one`,
    );
  }
  if (kind === 'other') return unavailable(`${path} is not a regular file or folder`);
  if (/\.gguf$/i.test(model)) return unavailable(`${path} does not exist`);
  const hub = HUB_ID.exec(model);
  if (!hub) return unavailable(`${path} does not exist, and ${model} is not a hub id (org/name)`);
  const result = await fromHub(hub[1]!, options);
  // `models/llama` may have been meant as a path: say both.
  return result.available ? result : unavailable(`no file or folder at ${path}; as a hub id: ${result.reason}`);
}

async function fromLocalConfig(path: string): Promise<ModelInfoResult> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw invalid(`${path} is not valid JSON: ${(error as Error).message}`, ['check the file: it should be a model config.json']);
  }
  return fromConfig(json, path);
}

function fromConfig(json: unknown, origin: string): ModelInfoResult {
  try {
    return {available: true, info: modelInfoFromConfigJson(json, origin)};
  } catch (error) {
    if ((error as CodedError).code === ModelInfoErrorCodes.unsupported) return unavailable((error as Error).message);
    throw error;
  }
}

/**
 * The config.json of a hub model ({@link hubGet}: the token goes to the hub's own origin only). A
 * hub answer that is not a usable config is `available: false`, not an error: the user cannot fix it.
 */
async function fromHub(id: string, options: LoadModelInfoOptions): Promise<ModelInfoResult> {
  const env = options.env;
  if (env.HF_HUB_OFFLINE === '1' || env.HF_HUB_OFFLINE?.toLowerCase() === 'true') return unavailable(`HF_HUB_OFFLINE is set, so the config of ${id} was not fetched`);
  const endpoint = hfEndpoint(undefined, env);
  const url = `${endpoint}/${id}/resolve/main/config.json`;
  const token = env.HF_TOKEN || undefined;
  const answer = await hubGet(url, {token, fetchImpl: options.fetchImpl, signal: AbortSignal.timeout(options.timeoutMs ?? 10_000), accept: 'application/json'});
  if (!answer.ok) {
    if (answer.kind === 'network') return unavailable(`could not fetch ${url}: ${answer.message}`);
    if (answer.kind === 'redirects') return unavailable(`${url}: too many redirects`);
    const hint =
      answer.status === 401 || answer.status === 403
        ? token
          ? ' (HF_TOKEN may not read this repository)'
          : ' (a gated or private model: set HF_TOKEN)'
        : answer.status === 404
          ? ' (no such model, or it has no config.json)'
          : '';
    return unavailable(`${url} answered ${answer.status} ${answer.statusText}`.trim() + hint);
  }
  let json: unknown;
  try {
    json = JSON.parse(await answer.response.text());
  } catch (error) {
    return unavailable(`${url} did not return JSON (${describeNetworkError(error)})`);
  }
  try {
    return {available: true, info: modelInfoFromConfigJson(json, url)};
  } catch (error) {
    return unavailable((error as Error).message);
  }
}

