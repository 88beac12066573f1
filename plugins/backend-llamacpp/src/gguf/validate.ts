/**
 * Validates a GGUF file in JavaScript before llama.cpp sees it: a malformed file can abort the
 * whole process in native code (a failed assertion, exit 134) instead of returning an error.
 *
 * A reader of our own rather than node-llama-cpp's `readGgufFileInfo`: it reports *where* a file
 * is broken (the key or tensor being read, the byte offset), bounds every length before allocating,
 * and reads only the header, so a multi-gigabyte model is checked in milliseconds.
 */
import {createHash} from 'node:crypto';
import {createReadStream} from 'node:fs';
import {open, stat, type FileHandle} from 'node:fs/promises';
import {resolve} from 'node:path';
import {codedError, ExitCode, type CodedError} from '@lem/plugin-kit';
import {GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC} from './writer.js';

/** What lem needs to know about a model file, e.g. for FLOPs estimates. */
export interface GgufSummary {
  /** Absolute path. */
  path: string;
  fileSizeBytes: number;
  /** Hex digest of the whole file; only when asked for (it reads every byte). */
  sha256?: string;
  ggufVersion: number;
  alignment: number;
  metadataCount: number;
  tensorCount: number;
  /** `general.architecture`, e.g. `llama`. */
  architecture: string;
  /** `general.name`, when present. */
  name?: string;
  /** `general.file_type` (llama_ftype number), when present. */
  fileType?: number;
  /** Trained context length, tokens. */
  contextLength: number;
  embeddingLength: number;
  blockCount: number;
  /** Feed-forward width; the largest layer's when the file gives one per layer. */
  feedForwardLength: number;
  headCount: number;
  /** Key/value heads (grouped-query attention); equals `headCount` when the file does not say. */
  headCountKv: number;
  /** Entries of `tokenizer.ggml.tokens`. */
  vocabSize: number;
  /** `tokenizer.ggml.model`, e.g. `llama` (SentencePiece) or `gpt2` (byte-level BPE). */
  tokenizerModel: string;
  hasChatTemplate: boolean;
  /** Mixture of experts: experts per layer and experts used per token, when present. */
  expertCount?: number;
  expertUsedCount?: number;
  /** Sum of all tensor elements. */
  parameterCount: number;
  /** Lookup tables that cost no multiplications: token and position embeddings. */
  embeddingParameterCount: number;
  /** `parameterCount − embeddingParameterCount` (N of the FLOPs rule 2·N·tokens). */
  nonEmbeddingParameterCount: number;
  /**
   * Parameters multiplied per token: non-embedding parameters with MoE expert tensors scaled by
   * used/total experts, plus the output head when it is tied to the token embedding.
   */
  activeParameterCount: number;
  /** True when there is no `output.weight`: the output head reuses the token embedding. */
  tiedEmbeddings: boolean;
  /** Bytes of tensor data the header describes. */
  tensorDataBytes: number;
}

export interface InspectOptions {
  /** Also hash the whole file (slow for large models). Default false. */
  sha256?: boolean;
}

type MetaValue = number | bigint | boolean | string | MetaArray;
interface MetaArray {
  array: true;
  itemType: number;
  length: number;
  /** Items, kept only for small numeric arrays (per-layer hyperparameters). */
  items?: Array<number | bigint | boolean>;
}

const TRY_TINY = 'lem llamacpp tiny-model ./models/tiny.gguf   (a small test model that always loads)';
const TRY_DOWNLOAD = 'check that the file downloaded completely (compare its size and sha256 with the source)';

/** Archs without attention heads or a feed-forward width in the usual keys (state-space / RWKV). */
const RECURRENT_ARCHITECTURES = new Set(['mamba', 'mamba2', 'rwkv6', 'rwkv6qwen2', 'rwkv7', 'arwkv7']);

/** ggml type number → [block size in elements, bytes per block]. Unknown types skip the size check. */
const GGML_TYPE_LAYOUT: Record<number, readonly [number, number]> = {
  0: [1, 4], // F32
  1: [1, 2], // F16
  2: [32, 18], // Q4_0
  3: [32, 20], // Q4_1
  6: [32, 22], // Q5_0
  7: [32, 24], // Q5_1
  8: [32, 34], // Q8_0
  9: [32, 36], // Q8_1
  10: [256, 84], // Q2_K
  11: [256, 110], // Q3_K
  12: [256, 144], // Q4_K
  13: [256, 176], // Q5_K
  14: [256, 210], // Q6_K
  15: [256, 292], // Q8_K
  16: [256, 66], // IQ2_XXS
  17: [256, 74], // IQ2_XS
  18: [256, 98], // IQ3_XXS
  19: [256, 50], // IQ1_S
  20: [32, 18], // IQ4_NL
  21: [256, 110], // IQ3_S
  22: [256, 82], // IQ2_S
  23: [256, 136], // IQ4_XS
  24: [1, 1], // I8
  25: [1, 2], // I16
  26: [1, 4], // I32
  27: [1, 8], // I64
  28: [1, 8], // F64
  29: [256, 56], // IQ1_M
  30: [1, 2], // BF16
  34: [256, 54], // TQ1_0
  35: [256, 66], // TQ2_0
  39: [32, 17], // MXFP4
};

/** Plausibility bounds that keep a garbage header from allocating gigabytes. */
const MAX_STRING_BYTES = 64 * 1024 * 1024;
const MAX_COUNT = 1 << 30;
const MAX_TENSORS = 1_000_000;
const MAX_KV = 1_000_000;
const CHUNK_BYTES = 1 << 20;

class Truncated extends Error {}
class Malformed extends Error {}

/** Sequential little-endian reads over a file handle, in chunks, tracking the absolute offset. */
class Cursor {
  private buf = Buffer.alloc(0);
  private start = 0; // file offset of buf[0]
  private pos = 0; // index into buf
  constructor(
    private readonly handle: FileHandle,
    private readonly size: number,
  ) {}

  get offset(): number {
    return this.start + this.pos;
  }

  private async ensure(n: number): Promise<void> {
    if (this.pos + n <= this.buf.length) return;
    if (this.offset + n > this.size) throw new Truncated(`needs ${n} bytes at offset ${this.offset} but the file ends at ${this.size}`);
    const keep = this.buf.subarray(this.pos);
    const want = Math.max(n, CHUNK_BYTES);
    const readLen = Math.min(want - keep.length, this.size - (this.offset + keep.length));
    const next = Buffer.alloc(keep.length + readLen);
    keep.copy(next, 0);
    const {bytesRead} = await this.handle.read(next, keep.length, readLen, this.offset + keep.length);
    if (bytesRead < readLen) throw new Truncated(`short read at offset ${this.offset + keep.length}`);
    this.start = this.offset;
    this.buf = next;
    this.pos = 0;
  }

  async u8() {
    await this.ensure(1);
    return this.buf.readUInt8(this.pos++);
  }
  async i8() {
    await this.ensure(1);
    return this.buf.readInt8(this.pos++);
  }
  async u16() {
    await this.ensure(2);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }
  async i16() {
    await this.ensure(2);
    const v = this.buf.readInt16LE(this.pos);
    this.pos += 2;
    return v;
  }
  async u32() {
    await this.ensure(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  async i32() {
    await this.ensure(4);
    const v = this.buf.readInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  async f32() {
    await this.ensure(4);
    const v = this.buf.readFloatLE(this.pos);
    this.pos += 4;
    return v;
  }
  async f64() {
    await this.ensure(8);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }
  async u64(): Promise<bigint> {
    await this.ensure(8);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }
  async i64(): Promise<bigint> {
    await this.ensure(8);
    const v = this.buf.readBigInt64LE(this.pos);
    this.pos += 8;
    return v;
  }
  /** A u64 count, bounded so that garbage cannot ask for an absurd allocation. */
  async count(what: string, max: number): Promise<number> {
    const v = await this.u64();
    if (v > BigInt(max)) throw new Malformed(`${what} is ${v}, which is implausible (corrupt header?)`);
    return Number(v);
  }
  async string(what: string): Promise<string> {
    const length = await this.count(`length of ${what}`, MAX_STRING_BYTES);
    if (this.offset + length > this.size) throw new Truncated(`${what} (${length} bytes) runs past the end of the file`);
    await this.ensure(length);
    const s = this.buf.toString('utf8', this.pos, this.pos + length);
    this.pos += length;
    return s;
  }
  async skip(n: number): Promise<void> {
    if (this.offset + n > this.size) throw new Truncated(`needs ${n} bytes at offset ${this.offset} but the file ends at ${this.size}`);
    const inBuf = this.buf.length - this.pos;
    if (n <= inBuf) {
      this.pos += n;
      return;
    }
    this.start = this.offset + n;
    this.buf = Buffer.alloc(0);
    this.pos = 0;
  }
}

const SCALAR_BYTES: Record<number, number> = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8};

async function readScalar(c: Cursor, type: number, what: string): Promise<number | bigint | boolean | string> {
  switch (type) {
    case 0:
      return c.u8();
    case 1:
      return c.i8();
    case 2:
      return c.u16();
    case 3:
      return c.i16();
    case 4:
      return c.u32();
    case 5:
      return c.i32();
    case 6:
      return c.f32();
    case 7: {
      const b = await c.u8();
      if (b > 1) throw new Malformed(`${what}: boolean byte ${b} is neither 0 nor 1`);
      return b === 1;
    }
    case 8:
      return c.string(what);
    case 10:
      return c.u64();
    case 11:
      return c.i64();
    case 12:
      return c.f64();
    default:
      throw new Malformed(`${what}: unknown value type ${type}`);
  }
}

async function readValue(c: Cursor, type: number, key: string): Promise<MetaValue> {
  if (type !== 9) return readScalar(c, type, `metadata ${key}`);
  const itemType = await c.u32();
  if (itemType === 9) throw new Malformed(`metadata ${key}: nested arrays are not supported by llama.cpp`);
  const length = await c.count(`metadata ${key}: array length`, MAX_COUNT);
  const fixed = SCALAR_BYTES[itemType];
  if (itemType === 8) {
    for (let i = 0; i < length; i++) await c.string(`metadata ${key}[${i}]`);
    return {array: true, itemType, length};
  }
  if (fixed === undefined) throw new Malformed(`metadata ${key}: unknown array item type ${itemType}`);
  if (length <= 4096) {
    const items: Array<number | bigint | boolean> = [];
    for (let i = 0; i < length; i++) items.push((await readScalar(c, itemType, `metadata ${key}[${i}]`)) as number | bigint | boolean);
    return {array: true, itemType, length, items};
  }
  await c.skip(fixed * length);
  return {array: true, itemType, length};
}

interface TensorInfo {
  name: string;
  dims: number[];
  type: number;
  offset: bigint;
}

function invalid(path: string, problem: string, tries: string[] = [TRY_DOWNLOAD, TRY_TINY], cause?: unknown): CodedError {
  return codedError({
    code: 'E_MODEL_INVALID',
    message: `${path} is not a usable GGUF model: ${problem}`,
    try: tries,
    exitCode: ExitCode.usage,
    cause,
  });
}

function asPositiveInt(value: MetaValue | undefined): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  if (typeof value === 'bigint' && value > 0n && value <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(value);
  return undefined;
}

/** A per-layer array (some models vary the width by layer) → its largest entry, if all are valid. */
function asPositiveIntOrLayerMax(value: MetaValue | undefined): number | undefined {
  if (typeof value === 'object' && value !== null && 'array' in value) {
    if (!value.items || value.items.length === 0) return undefined;
    let max = 0;
    for (const item of value.items) {
      const n = asPositiveInt(item as number | bigint);
      if (n === undefined && item !== 0 && item !== 0n) return undefined; // 0 is legal for layers without attention/ffn
      max = Math.max(max, n ?? 0);
    }
    return max > 0 ? max : undefined;
  }
  return asPositiveInt(value);
}

function describeType(value: MetaValue | undefined): string {
  if (value === undefined) return 'missing';
  if (typeof value === 'object') return `an array of ${value.length}`;
  return `${typeof value} ${String(value)}`;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Reads and validates a GGUF file's header. Throws a coded error: `E_MODEL_NOT_FOUND` when the
 * file is missing, `E_MODEL_INVALID` (naming the file and the problem) when it is not a GGUF v2/v3
 * file, is truncated, or lacks metadata llama.cpp asserts on. Never loads the native library.
 */
export async function inspectGguf(modelPath: string, options: InspectOptions = {}): Promise<GgufSummary> {
  const path = resolve(modelPath);
  let size: number;
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw invalid(path, 'it is a directory, not a file', ['give the path of the .gguf file inside it']);
    size = st.size;
  } catch (error) {
    if ((error as {code?: string}).code === 'E_MODEL_INVALID') throw error;
    const errno = (error as NodeJS.ErrnoException).code;
    if (errno === 'ENOENT' || errno === 'ENOTDIR') {
      throw codedError({
        code: 'E_MODEL_NOT_FOUND',
        message: `model file ${path} does not exist`,
        try: ['check the path (it is resolved from the current directory)', TRY_TINY],
        exitCode: ExitCode.usage,
      });
    }
    throw invalid(path, `cannot read it (${errno ?? String(error)})`, ['check the file permissions'], error);
  }
  if (size === 0) throw invalid(path, 'the file is empty');

  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw invalid(path, `cannot open it (${(error as NodeJS.ErrnoException).code ?? String(error)})`, ['check the file permissions'], error);
  }
  try {
    return await readHeader(handle, path, size, options);
  } catch (error) {
    if (error instanceof Truncated) throw invalid(path, `the file is truncated: ${error.message}`);
    if (error instanceof Malformed) throw invalid(path, error.message);
    throw error;
  } finally {
    await handle.close();
  }
}

/** The magic, the version and the two counts that open every GGUF file. */
async function readPreamble(c: Cursor, path: string, size: number): Promise<{version: number; tensorCount: number; kvCount: number}> {
  if (size < 4) throw new Truncated(`only ${size} bytes`);
  const magic = await c.u32();
  if (magic !== GGUF_MAGIC) {
    const seen = Buffer.alloc(4);
    seen.writeUInt32LE(magic);
    throw invalid(path, `not a GGUF file (the first bytes are ${JSON.stringify(seen.toString('latin1'))}, not "GGUF")`, [
      'give the path of a .gguf file (llama.cpp format); convert other formats with llama.cpp\'s convert_hf_to_gguf.py',
      TRY_TINY,
    ]);
  }
  const version = await c.u32();
  if (version !== 2 && version !== 3) {
    throw invalid(path, `GGUF version ${version} is not supported (llama.cpp reads versions 2 and 3)`, [
      'convert the model again with a current llama.cpp',
      TRY_TINY,
    ]);
  }
  return {version, tensorCount: await c.count('tensor count', MAX_TENSORS), kvCount: await c.count('metadata count', MAX_KV)};
}

async function readMetadata(c: Cursor, kvCount: number): Promise<Map<string, MetaValue>> {
  const meta = new Map<string, MetaValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = await c.string(`metadata key #${i}`);
    const type = await c.u32();
    meta.set(key, await readValue(c, type, key));
  }
  return meta;
}

async function readTensorInfos(c: Cursor, tensorCount: number): Promise<TensorInfo[]> {
  const tensors: TensorInfo[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = await c.string(`tensor name #${i}`);
    const nDims = await c.u32();
    if (nDims < 1 || nDims > 4) throw new Malformed(`tensor ${name} has ${nDims} dimensions (1 to 4 allowed)`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) {
      const dim = await c.u64();
      if (dim === 0n || dim > BigInt(Number.MAX_SAFE_INTEGER)) throw new Malformed(`tensor ${name} has dimension ${dim}`);
      dims.push(Number(dim));
    }
    const type = await c.u32();
    const offset = await c.u64();
    tensors.push({name, dims, type, offset});
  }
  return tensors;
}

function alignmentOf(meta: Map<string, MetaValue>): number {
  const alignmentValue = meta.get('general.alignment');
  const alignment = alignmentValue === undefined ? GGUF_DEFAULT_ALIGNMENT : asPositiveInt(alignmentValue);
  if (alignment === undefined || (alignment & (alignment - 1)) !== 0) {
    throw new Malformed(`general.alignment is ${describeType(alignmentValue)}, not a power of two`);
  }
  return alignment;
}

interface TensorTotals {
  tensorDataBytes: number;
  parameterCount: number;
  embeddingParameterCount: number;
  expertParameterCount: number;
}

/** Checks every tensor is aligned, whole-block and inside the file; counts parameters and data bytes. */
function tensorTotals(tensors: TensorInfo[], alignment: number, dataStart: number, size: number): TensorTotals {
  const totals: TensorTotals = {tensorDataBytes: 0, parameterCount: 0, embeddingParameterCount: 0, expertParameterCount: 0};
  for (const tensor of tensors) {
    if (tensor.offset % BigInt(alignment) !== 0n) throw new Malformed(`tensor ${tensor.name} starts at offset ${tensor.offset}, not a multiple of the alignment ${alignment}`);
    const elements = tensor.dims.reduce((a, b) => a * b, 1);
    totals.parameterCount += elements;
    if (tensor.name === 'token_embd.weight' || tensor.name === 'position_embd.weight') totals.embeddingParameterCount += elements;
    if (/_exps\./.test(tensor.name)) totals.expertParameterCount += elements;
    const layout = GGML_TYPE_LAYOUT[tensor.type];
    const start = Number(tensor.offset);
    let bytes = 0;
    if (layout) {
      const [blockElements, blockBytes] = layout;
      if (tensor.dims[0]! % blockElements !== 0) throw new Malformed(`tensor ${tensor.name}: row length ${tensor.dims[0]} is not a multiple of its type's block size ${blockElements}`);
      bytes = (elements / blockElements) * blockBytes;
    }
    const end = dataStart + start + bytes;
    if (end > size || dataStart + start > size) {
      throw new Truncated(`tensor ${tensor.name} needs bytes up to offset ${end} but the file ends at ${size}`);
    }
    totals.tensorDataBytes = Math.max(totals.tensorDataBytes, start + bytes);
  }
  return totals;
}

/** The summary's dimensions and tokenizer, and whether the architecture is recurrent (no attention heads required). */
type ModelShape = Pick<GgufSummary, 'architecture' | 'contextLength' | 'embeddingLength' | 'blockCount' | 'feedForwardLength' | 'headCount' | 'headCountKv' | 'tokenizerModel' | 'vocabSize'> & {recurrent: boolean};

function architectureOf(path: string, meta: Map<string, MetaValue>): string {
  const architecture = meta.get('general.architecture');
  if (typeof architecture !== 'string' || architecture.length === 0) {
    throw invalid(path, `metadata general.architecture is ${describeType(architecture)} (a string such as "llama" is required)`);
  }
  return architecture;
}

/** The tokenizer's required metadata: its model name and vocabulary (and merges for gpt2); what is wrong goes to `missing`. */
function tokenizerOf(meta: Map<string, MetaValue>, missing: string[]): {tokenizerModel: string; vocabSize: number} {
  const tokenizerModel = meta.get('tokenizer.ggml.model');
  if (typeof tokenizerModel !== 'string') missing.push(`tokenizer.ggml.model (${describeType(tokenizerModel)}; a string such as "llama" or "gpt2" is required)`);
  const tokens = meta.get('tokenizer.ggml.tokens');
  const vocabSize = typeof tokens === 'object' && tokens.itemType === 8 ? tokens.length : 0;
  if (vocabSize === 0) missing.push(`tokenizer.ggml.tokens (${describeType(tokens)}; a non-empty array of strings is required)`);
  if (tokenizerModel === 'gpt2') {
    const merges = meta.get('tokenizer.ggml.merges');
    if (!(typeof merges === 'object' && merges.itemType === 8)) missing.push(`tokenizer.ggml.merges (${describeType(merges)}; required by the gpt2 tokenizer)`);
  }
  return {tokenizerModel: tokenizerModel as string, vocabSize};
}

/** The architecture's dimensions and the tokenizer, every required key checked; all problems are said at once. */
function modelShape(path: string, meta: Map<string, MetaValue>): ModelShape {
  const arch = architectureOf(path, meta);
  const missing: string[] = [];
  const requireInt = (key: string, perLayer = false): number => {
    const value = meta.get(key);
    const n = perLayer ? asPositiveIntOrLayerMax(value) : asPositiveInt(value);
    if (n === undefined) missing.push(`${key} (${describeType(value)}; a positive integer is required)`);
    return n ?? 0;
  };
  const recurrent = RECURRENT_ARCHITECTURES.has(arch);
  const contextLength = requireInt(`${arch}.context_length`);
  const embeddingLength = requireInt(`${arch}.embedding_length`);
  const blockCount = requireInt(`${arch}.block_count`);
  const feedForwardLength = recurrent ? asPositiveIntOrLayerMax(meta.get(`${arch}.feed_forward_length`)) ?? 0 : requireInt(`${arch}.feed_forward_length`, true);
  const headCount = recurrent ? asPositiveIntOrLayerMax(meta.get(`${arch}.attention.head_count`)) ?? 0 : requireInt(`${arch}.attention.head_count`, true);
  const headCountKv = asPositiveIntOrLayerMax(meta.get(`${arch}.attention.head_count_kv`)) ?? headCount;
  if (arch === 'llama' && typeof meta.get('llama.attention.layer_norm_rms_epsilon') !== 'number') {
    missing.push(`llama.attention.layer_norm_rms_epsilon (${describeType(meta.get('llama.attention.layer_norm_rms_epsilon'))}; a float is required)`);
  }
  const tokenizer = tokenizerOf(meta, missing);
  if (missing.length > 0) {
    throw invalid(path, `required metadata is missing or invalid: ${missing.join('; ')}`, [
      'convert the model again with a current llama.cpp (convert_hf_to_gguf.py)',
      TRY_TINY,
    ]);
  }
  if (!recurrent && embeddingLength % headCount !== 0) {
    throw invalid(path, `${arch}.embedding_length ${embeddingLength} is not divisible by ${arch}.attention.head_count ${headCount}`);
  }
  return {architecture: arch, recurrent, contextLength, embeddingLength, blockCount, feedForwardLength, headCount, headCountKv, ...tokenizer};
}

/** Parameters that do work per token: all but the embeddings, only the used share of experts, plus a tied output head. */
function activeParameters(meta: Map<string, MetaValue>, shape: ModelShape, totals: TensorTotals, tiedEmbeddings: boolean): {expertCount?: number; expertUsedCount?: number; active: number} {
  const expertCount = asPositiveInt(meta.get(`${shape.architecture}.expert_count`));
  const expertUsedCount = asPositiveInt(meta.get(`${shape.architecture}.expert_used_count`));
  const expertScale = expertCount && expertUsedCount ? expertUsedCount / expertCount : 1;
  const nonEmbedding = totals.parameterCount - totals.embeddingParameterCount;
  const active = Math.round(nonEmbedding - totals.expertParameterCount * (1 - expertScale) + (tiedEmbeddings ? shape.embeddingLength * shape.vocabSize : 0));
  return {expertCount, expertUsedCount, active};
}

async function readHeader(handle: FileHandle, path: string, size: number, options: InspectOptions): Promise<GgufSummary> {
  const c = new Cursor(handle, size);
  const {version, tensorCount, kvCount} = await readPreamble(c, path, size);
  const meta = await readMetadata(c, kvCount);
  const tensors = await readTensorInfos(c, tensorCount);
  const alignment = alignmentOf(meta);
  const totals = tensorTotals(tensors, alignment, Math.ceil(c.offset / alignment) * alignment, size);
  const shape = modelShape(path, meta);
  if (tensorCount === 0) throw invalid(path, 'the file has no tensors (a vocabulary-only file cannot generate)');
  const tiedEmbeddings = !tensors.some((t) => t.name === 'output.weight');
  const {expertCount, expertUsedCount, active} = activeParameters(meta, shape, totals, tiedEmbeddings);
  const chatTemplate = meta.get('tokenizer.chat_template');
  const {recurrent: _recurrent, ...dimensions} = shape;
  const summary: GgufSummary = {
    path,
    fileSizeBytes: size,
    ggufVersion: version,
    alignment,
    metadataCount: kvCount,
    tensorCount,
    ...dimensions,
    hasChatTemplate: typeof chatTemplate === 'string' && chatTemplate.length > 0,
    parameterCount: totals.parameterCount,
    embeddingParameterCount: totals.embeddingParameterCount,
    nonEmbeddingParameterCount: totals.parameterCount - totals.embeddingParameterCount,
    activeParameterCount: active,
    tiedEmbeddings,
    tensorDataBytes: totals.tensorDataBytes,
  };
  const name = meta.get('general.name');
  const fileType = meta.get('general.file_type');
  if (typeof name === 'string') summary.name = name;
  if (typeof fileType === 'number') summary.fileType = fileType;
  if (expertCount !== undefined) summary.expertCount = expertCount;
  if (expertUsedCount !== undefined) summary.expertUsedCount = expertUsedCount;
  if (options.sha256) summary.sha256 = await sha256File(path);
  return summary;
}
