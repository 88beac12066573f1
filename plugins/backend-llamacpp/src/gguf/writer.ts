/**
 * A small GGUF v3 writer.
 *
 * Hand-written because no maintained JavaScript library writes GGUF (node-llama-cpp and
 * @huggingface/gguf only read it). It covers what the project needs: every metadata value type,
 * F32 and F16 tensors, and the alignment rule. The whole file is built in memory, which suits the
 * small generated models it exists for.
 */
import {randomBytes} from 'node:crypto';
import {open, rename, rm} from 'node:fs/promises';
import {dirname, basename, join} from 'node:path';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** GGUF metadata value types, with their on-disk numbers. */
export const GgufValueType = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const;
export type GgufScalarTypeName = Exclude<keyof typeof GgufValueType, 'array'>;

/** Tensor element types this writer can produce (ggml numbering). */
export const GgufTensorType = {F32: 0, F16: 1} as const;
export type GgufTensorTypeName = keyof typeof GgufTensorType;

export type GgufScalarValue =
  | {type: 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64'; value: number}
  | {type: 'uint64' | 'int64'; value: number | bigint}
  | {type: 'bool'; value: boolean}
  | {type: 'string'; value: string};

export type GgufArrayValue = {
  type: 'array';
  itemType: GgufScalarTypeName;
  value: ReadonlyArray<number | bigint | boolean | string>;
};

export type GgufValue = GgufScalarValue | GgufArrayValue;

export interface GgufTensor {
  name: string;
  /** ggml order: dims[0] is the contiguous row length. */
  dims: readonly number[];
  type: GgufTensorTypeName;
  /** Row-major values, `product(dims)` of them; converted to F16 when `type` is F16. */
  data: Float32Array;
}

export interface GgufDocument {
  /** Metadata in file order. `general.alignment` is added when `alignment` is not the default. */
  metadata: ReadonlyArray<readonly [key: string, value: GgufValue]>;
  tensors: readonly GgufTensor[];
  /** Bytes; a power of two. Default 32. */
  alignment?: number;
}

/** Convenience constructors for metadata values. */
export const gguf = {
  u8: (value: number): GgufValue => ({type: 'uint8', value}),
  i8: (value: number): GgufValue => ({type: 'int8', value}),
  u16: (value: number): GgufValue => ({type: 'uint16', value}),
  i16: (value: number): GgufValue => ({type: 'int16', value}),
  u32: (value: number): GgufValue => ({type: 'uint32', value}),
  i32: (value: number): GgufValue => ({type: 'int32', value}),
  u64: (value: number | bigint): GgufValue => ({type: 'uint64', value}),
  i64: (value: number | bigint): GgufValue => ({type: 'int64', value}),
  f32: (value: number): GgufValue => ({type: 'float32', value}),
  f64: (value: number): GgufValue => ({type: 'float64', value}),
  bool: (value: boolean): GgufValue => ({type: 'bool', value}),
  str: (value: string): GgufValue => ({type: 'string', value}),
  arr: (itemType: GgufScalarTypeName, value: ReadonlyArray<number | bigint | boolean | string>): GgufValue => ({type: 'array', itemType, value}),
};

/** A growable little-endian byte buffer. */
class ByteWriter {
  private buffer = Buffer.alloc(1 << 16);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + n) size *= 2;
    const next = Buffer.alloc(size);
    this.buffer.copy(next, 0, 0, this.length);
    this.buffer = next;
  }

  u8(v: number): void {
    this.reserve(1);
    this.buffer.writeUInt8(v, this.length);
    this.length += 1;
  }
  i8(v: number): void {
    this.reserve(1);
    this.buffer.writeInt8(v, this.length);
    this.length += 1;
  }
  u16(v: number): void {
    this.reserve(2);
    this.buffer.writeUInt16LE(v, this.length);
    this.length += 2;
  }
  i16(v: number): void {
    this.reserve(2);
    this.buffer.writeInt16LE(v, this.length);
    this.length += 2;
  }
  u32(v: number): void {
    this.reserve(4);
    this.buffer.writeUInt32LE(v, this.length);
    this.length += 4;
  }
  i32(v: number): void {
    this.reserve(4);
    this.buffer.writeInt32LE(v, this.length);
    this.length += 4;
  }
  u64(v: number | bigint): void {
    this.reserve(8);
    this.buffer.writeBigUInt64LE(BigInt(v), this.length);
    this.length += 8;
  }
  i64(v: number | bigint): void {
    this.reserve(8);
    this.buffer.writeBigInt64LE(BigInt(v), this.length);
    this.length += 8;
  }
  f32(v: number): void {
    this.reserve(4);
    this.buffer.writeFloatLE(v, this.length);
    this.length += 4;
  }
  f64(v: number): void {
    this.reserve(8);
    this.buffer.writeDoubleLE(v, this.length);
    this.length += 8;
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buffer.set(b, this.length);
    this.length += b.length;
  }
  /** GGUF string: u64 byte length + UTF-8 bytes, no terminator. */
  string(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.bytes(b);
  }
  padTo(alignment: number): void {
    const pad = (alignment - (this.length % alignment)) % alignment;
    this.reserve(pad);
    this.buffer.fill(0, this.length, this.length + pad);
    this.length += pad;
  }
  toBuffer(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}

function writeScalar(w: ByteWriter, type: GgufScalarTypeName, value: number | bigint | boolean | string, key: string): void {
  const expect = (ok: boolean) => {
    if (!ok) throw new TypeError(`GGUF metadata ${key}: value ${String(value)} does not fit type ${type}`);
  };
  switch (type) {
    case 'string':
      expect(typeof value === 'string');
      w.string(value as string);
      return;
    case 'bool':
      expect(typeof value === 'boolean');
      w.u8(value ? 1 : 0);
      return;
    case 'uint64':
    case 'int64':
      expect(typeof value === 'number' || typeof value === 'bigint');
      if (type === 'uint64') w.u64(value as number | bigint);
      else w.i64(value as number | bigint);
      return;
    default:
      expect(typeof value === 'number');
  }
  const n = value as number;
  switch (type) {
    case 'uint8':
      return w.u8(n);
    case 'int8':
      return w.i8(n);
    case 'uint16':
      return w.u16(n);
    case 'int16':
      return w.i16(n);
    case 'uint32':
      return w.u32(n);
    case 'int32':
      return w.i32(n);
    case 'float32':
      return w.f32(n);
    case 'float64':
      return w.f64(n);
  }
}

function writeValue(w: ByteWriter, key: string, value: GgufValue): void {
  w.u32(GgufValueType[value.type]);
  if (value.type !== 'array') {
    writeScalar(w, value.type, value.value, key);
    return;
  }
  w.u32(GgufValueType[value.itemType]);
  w.u64(value.value.length);
  for (const item of value.value) writeScalar(w, value.itemType, item, key);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE 754 binary32 → binary16 bits, round to nearest even (Node 20 has no Float16Array). */
export function float32ToFloat16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow → ±0
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1))) half += 1;
    return sign | half;
  }
  let half = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half += 1; // may carry into the exponent: still correct
  return half;
}

function tensorBytes(tensor: GgufTensor): Buffer {
  const count = tensor.dims.reduce((a, b) => a * b, 1);
  if (tensor.data.length !== count) {
    throw new RangeError(`GGUF tensor ${tensor.name}: ${tensor.data.length} values for dims [${tensor.dims.join(', ')}] (${count} expected)`);
  }
  if (tensor.type === 'F32') {
    const out = Buffer.alloc(count * 4);
    for (let i = 0; i < count; i++) out.writeFloatLE(tensor.data[i]!, i * 4);
    return out;
  }
  const out = Buffer.alloc(count * 2);
  for (let i = 0; i < count; i++) out.writeUInt16LE(float32ToFloat16Bits(tensor.data[i]!), i * 2);
  return out;
}

/** Serialises a GGUF v3 document. Deterministic: the same document gives the same bytes. */
export function encodeGguf(doc: GgufDocument): Buffer {
  const alignment = doc.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    throw new RangeError(`GGUF alignment must be a power of two, got ${alignment}`);
  }
  const metadata = [...doc.metadata];
  const hasAlignmentKey = metadata.some(([key]) => key === 'general.alignment');
  if (alignment !== GGUF_DEFAULT_ALIGNMENT && !hasAlignmentKey) metadata.push(['general.alignment', gguf.u32(alignment)]);
  const seen = new Set<string>();
  for (const [key] of metadata) {
    if (seen.has(key)) throw new Error(`GGUF metadata key ${key} appears twice`);
    seen.add(key);
  }

  const w = new ByteWriter();
  w.u32(GGUF_MAGIC);
  w.u32(GGUF_VERSION);
  w.u64(doc.tensors.length);
  w.u64(metadata.length);
  for (const [key, value] of metadata) {
    w.string(key);
    writeValue(w, key, value);
  }

  const payloads = doc.tensors.map(tensorBytes);
  let offset = 0;
  doc.tensors.forEach((tensor, i) => {
    w.string(tensor.name);
    w.u32(tensor.dims.length);
    for (const d of tensor.dims) w.u64(d);
    w.u32(GgufTensorType[tensor.type]);
    w.u64(offset);
    offset += payloads[i]!.length;
    offset += (alignment - (offset % alignment)) % alignment;
  });
  w.padTo(alignment);
  for (const payload of payloads) {
    w.bytes(payload);
    w.padTo(alignment);
  }
  return w.toBuffer();
}

/**
 * Writes bytes atomically: a temp file beside the target, fsync, rename, then fsync of the folder,
 * so a crash leaves either the old file or the complete new one.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(tmp, 'w', 0o644);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(tmp, {force: true});
    throw error;
  }
  await handle.close();
  try {
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, {force: true});
    throw error;
  }
  try {
    const dir = await open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    // Some file systems refuse fsync on a directory; the rename itself is already atomic.
  }
}
