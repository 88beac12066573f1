/**
 * The tiny random-weight llama model used by tests and the quickstart (see notes/gguf.md).
 * Its output is gibberish; its timing, batching and energy paths are real.
 */
import {createHash} from 'node:crypto';
import {mkdir} from 'node:fs/promises';
import {dirname, resolve} from 'node:path';
import {encodeGguf, gguf, writeFileAtomic, type GgufTensor, type GgufTensorTypeName, type GgufValue} from './writer.js';

/** Shape of the tiny model; exported so tests and FLOPs checks can refer to it. */
export const TINY_MODEL_SHAPE = {
  contextLength: 256,
  embeddingLength: 64,
  blockCount: 2,
  headCount: 4,
  headCountKv: 4,
  feedForwardLength: 256,
  rmsEpsilon: 1e-5,
  ropeFreqBase: 10_000,
  weightStd: 0.02,
} as const;

export interface TinyModelOptions {
  /** PRNG seed (u32). Same seed → byte-identical file. Default 0. */
  seed?: number;
  /** Element type of the weight matrices (norms stay F32). Default F32. */
  weightType?: GgufTensorTypeName;
}

export interface TinyModelResult {
  /** Absolute path of the written file. */
  path: string;
  bytes: number;
  sha256: string;
}

/** mulberry32: a tiny, well-mixed 32-bit PRNG; enough for reproducible test weights. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** N(0, std²) by Box–Muller. V8's Math.log/cos/sqrt are deterministic (fdlibm ports), so files reproduce. */
function normalSampler(seed: number, std: number): () => number {
  const uniform = mulberry32(seed);
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const v = spare;
      spare = undefined;
      return v;
    }
    const u1 = 1 - uniform(); // (0, 1]: log is finite
    const u2 = uniform();
    const r = Math.sqrt(-2 * Math.log(u1)) * std;
    spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  };
}

const WORDS = ['the', 'and', 'of', 'to', 'in', 'is', 'it', 'on', 'hello', 'world', 'energy', 'token', 'model', 'lem', 'power', 'time'];

/**
 * Byte-fallback SentencePiece vocabulary: <unk>, <s>, </s>, the 256 byte tokens, then `▁` (U+2581,
 * a space), the lowercase letters with and without a leading `▁`, and every prefix of a few common
 * words, so ordinary lowercase English tokenizes into multi-character pieces and anything else
 * falls back to bytes. Returns tokens, scores and token types (1 normal, 2 unknown, 3 control, 6 byte).
 */
export function tinyVocabulary(): {tokens: string[]; scores: number[]; types: number[]} {
  const tokens: string[] = ['<unk>', '<s>', '</s>'];
  const types: number[] = [2, 3, 3];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
  }
  const pieces = new Set<string>(['▁']);
  for (let c = 97; c <= 122; c++) {
    pieces.add(String.fromCharCode(c));
    pieces.add(`▁${String.fromCharCode(c)}`);
  }
  for (const word of WORDS) {
    const spaced = `▁${word}`;
    for (let end = 2; end <= spaced.length; end++) pieces.add(spaced.slice(0, end));
    for (let end = 2; end <= word.length; end++) pieces.add(word.slice(0, end));
  }
  const scores: number[] = tokens.map(() => 0);
  for (const piece of pieces) {
    tokens.push(piece);
    types.push(1);
    // SPM merges the adjacent pair whose union scores highest: longer pieces must win.
    scores.push(-100 + [...piece].length);
  }
  return {tokens, scores, types};
}

/** Builds the tiny model's GGUF document (metadata and tensors) for a seed. */
export function tinyModelDocument(options: TinyModelOptions = {}) {
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`seed must be an integer in [0, 2^32), got ${seed}`);
  const s = TINY_MODEL_SHAPE;
  const vocab = tinyVocabulary();
  const nVocab = vocab.tokens.length;
  const headDim = s.embeddingLength / s.headCount;
  const next = normalSampler(seed, s.weightStd);
  const random = (dims: number[]): Float32Array => {
    const out = new Float32Array(dims.reduce((a, b) => a * b, 1));
    for (let i = 0; i < out.length; i++) out[i] = next();
    return out;
  };
  const ones = (n: number) => new Float32Array(n).fill(1);
  const wt = options.weightType ?? 'F32';

  const tensors: GgufTensor[] = [
    {name: 'token_embd.weight', dims: [s.embeddingLength, nVocab], type: wt, data: random([s.embeddingLength, nVocab])},
    {name: 'output_norm.weight', dims: [s.embeddingLength], type: 'F32', data: ones(s.embeddingLength)},
    {name: 'output.weight', dims: [s.embeddingLength, nVocab], type: wt, data: random([s.embeddingLength, nVocab])},
  ];
  for (let i = 0; i < s.blockCount; i++) {
    const qDims = [s.embeddingLength, s.headCount * headDim];
    const kvDims = [s.embeddingLength, s.headCountKv * headDim];
    tensors.push(
      {name: `blk.${i}.attn_norm.weight`, dims: [s.embeddingLength], type: 'F32', data: ones(s.embeddingLength)},
      {name: `blk.${i}.attn_q.weight`, dims: qDims, type: wt, data: random(qDims)},
      {name: `blk.${i}.attn_k.weight`, dims: kvDims, type: wt, data: random(kvDims)},
      {name: `blk.${i}.attn_v.weight`, dims: kvDims, type: wt, data: random(kvDims)},
      {name: `blk.${i}.attn_output.weight`, dims: [s.headCount * headDim, s.embeddingLength], type: wt, data: random([s.headCount * headDim, s.embeddingLength])},
      {name: `blk.${i}.ffn_norm.weight`, dims: [s.embeddingLength], type: 'F32', data: ones(s.embeddingLength)},
      {name: `blk.${i}.ffn_gate.weight`, dims: [s.embeddingLength, s.feedForwardLength], type: wt, data: random([s.embeddingLength, s.feedForwardLength])},
      {name: `blk.${i}.ffn_up.weight`, dims: [s.embeddingLength, s.feedForwardLength], type: wt, data: random([s.embeddingLength, s.feedForwardLength])},
      {name: `blk.${i}.ffn_down.weight`, dims: [s.feedForwardLength, s.embeddingLength], type: wt, data: random([s.feedForwardLength, s.embeddingLength])},
    );
  }

  const metadata: Array<[string, GgufValue]> = [
    ['general.architecture', gguf.str('llama')],
    ['general.name', gguf.str(`lem-tiny-random-seed${seed}`)],
    ['general.alignment', gguf.u32(32)],
    ['general.file_type', gguf.u32(wt === 'F32' ? 0 : 1)], // LLAMA_FTYPE_ALL_F32 / MOSTLY_F16
    ['llama.context_length', gguf.u32(s.contextLength)],
    ['llama.embedding_length', gguf.u32(s.embeddingLength)],
    ['llama.block_count', gguf.u32(s.blockCount)],
    ['llama.feed_forward_length', gguf.u32(s.feedForwardLength)],
    ['llama.attention.head_count', gguf.u32(s.headCount)],
    ['llama.attention.head_count_kv', gguf.u32(s.headCountKv)],
    ['llama.attention.layer_norm_rms_epsilon', gguf.f32(s.rmsEpsilon)],
    ['llama.rope.dimension_count', gguf.u32(headDim)],
    ['llama.rope.freq_base', gguf.f32(s.ropeFreqBase)],
    ['llama.vocab_size', gguf.u32(nVocab)],
    ['tokenizer.ggml.model', gguf.str('llama')],
    ['tokenizer.ggml.tokens', gguf.arr('string', vocab.tokens)],
    ['tokenizer.ggml.scores', gguf.arr('float32', vocab.scores)],
    ['tokenizer.ggml.token_type', gguf.arr('int32', vocab.types)],
    ['tokenizer.ggml.unknown_token_id', gguf.u32(0)],
    ['tokenizer.ggml.bos_token_id', gguf.u32(1)],
    ['tokenizer.ggml.eos_token_id', gguf.u32(2)],
    ['tokenizer.ggml.add_bos_token', gguf.bool(true)],
    ['tokenizer.ggml.add_eos_token', gguf.bool(false)],
  ];
  return {metadata, tensors, alignment: 32};
}

/** Serialised tiny model for a seed, without touching the disk. */
export function encodeTinyModel(options: TinyModelOptions = {}): Buffer {
  return encodeGguf(tinyModelDocument(options));
}

/**
 * Writes the tiny model to `outPath` atomically (temp file + fsync + rename), creating the folder.
 * Overwrites an existing file: refusing is the caller's decision.
 */
export async function writeTinyModel(outPath: string, options: TinyModelOptions = {}): Promise<TinyModelResult> {
  const path = resolve(outPath);
  const bytes = encodeTinyModel(options);
  await mkdir(dirname(path), {recursive: true});
  await writeFileAtomic(path, bytes);
  return {path, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex')};
}
