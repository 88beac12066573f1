import {createHash} from 'node:crypto';
import {readdirSync, readFileSync} from 'node:fs';
import {join} from 'node:path';
import {readGgufFileInfo} from 'node-llama-cpp';
import {afterAll, describe, expect, it} from 'vitest';
import {tempDir} from '../__fixtures__/harness.js';
import {encodeTinyModel, TINY_MODEL_SHAPE, tinyVocabulary, writeTinyModel} from './tiny-model.js';
import {encodeGguf, float32ToFloat16Bits, gguf, writeFileAtomic} from './writer.js';

const dir = tempDir();
afterAll(() => dir.remove());

/** Decodes IEEE binary16 bits, to check the encoder against the definition. */
function float16BitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

describe('float32ToFloat16Bits', () => {
  it('encodes exact values, subnormals, overflow and rounds to nearest even', () => {
    expect(float32ToFloat16Bits(1)).toBe(0x3c00);
    expect(float32ToFloat16Bits(-2)).toBe(0xc000);
    expect(float32ToFloat16Bits(0)).toBe(0);
    expect(float32ToFloat16Bits(65504)).toBe(0x7bff);
    expect(float32ToFloat16Bits(1e6)).toBe(0x7c00);
    expect(float32ToFloat16Bits(2 ** -24)).toBe(0x0001);
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // halfway: to even
    expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway: to even (up)
    expect(Number.isNaN(float16BitsToNumber(float32ToFloat16Bits(NaN)))).toBe(true);
    for (const x of [0.02, -0.0137, 3.14159, 1e-5, -7.5e-6, 1234.5]) {
      const back = float16BitsToNumber(float32ToFloat16Bits(x));
      expect(Math.abs(back - x)).toBeLessThanOrEqual(Math.abs(x) * 2 ** -11 + 2 ** -25);
    }
  });
});

describe('encodeGguf', () => {
  it('writes every metadata type and F32/F16 tensors that node-llama-cpp reads back', async () => {
    const f32 = Float32Array.from({length: 6}, (_, i) => i * 0.5 - 1);
    const f16 = Float32Array.from({length: 40}, (_, i) => i / 8);
    const bytes = encodeGguf({
      metadata: [
        ['general.architecture', gguf.str('llama')],
        ['test.u8', gguf.u8(250)],
        ['test.i8', gguf.i8(-100)],
        ['test.u16', gguf.u16(65000)],
        ['test.i16', gguf.i16(-30000)],
        ['test.u32', gguf.u32(4_000_000_000)],
        ['test.i32', gguf.i32(-2_000_000_000)],
        ['test.f32', gguf.f32(0.25)],
        ['test.bool', gguf.bool(true)],
        ['test.str', gguf.str('héllo ▁wörld')],
        ['test.u64', gguf.u64(2n ** 40n)],
        ['test.i64', gguf.i64(-(2n ** 40n))],
        ['test.f64', gguf.f64(Math.PI)],
        ['test.strings', gguf.arr('string', ['a', '▁b', ''])],
        ['test.floats', gguf.arr('float32', [1.5, -2.25])],
        ['test.ints', gguf.arr('int32', [1, -2, 3])],
        ['test.bools', gguf.arr('bool', [true, false])],
      ],
      tensors: [
        {name: 'a.weight', dims: [3, 2], type: 'F32', data: f32},
        {name: 'b.weight', dims: [8, 5], type: 'F16', data: f16},
      ],
    });
    const path = join(dir.path, 'all-types.gguf');
    await writeFileAtomic(path, bytes);

    const info = await readGgufFileInfo(path, {logWarnings: false});
    expect(info.version).toBe(3);
    const meta = info.metadata as unknown as Record<string, Record<string, unknown>>;
    expect(meta.test).toMatchObject({
      u8: 250,
      i8: -100,
      u16: 65000,
      i16: -30000,
      u32: 4_000_000_000,
      i32: -2_000_000_000,
      f32: 0.25,
      bool: true,
      str: 'héllo ▁wörld',
      f64: Math.PI,
      strings: ['a', '▁b', ''],
      floats: [1.5, -2.25],
      ints: [1, -2, 3],
      bools: [true, false],
    });
    expect(BigInt(meta.test!.u64 as bigint)).toBe(2n ** 40n);
    expect(BigInt(meta.test!.i64 as bigint)).toBe(-(2n ** 40n));

    expect(info.tensorInfo?.map((t) => ({name: t.name, dims: t.dimensions.map(Number), type: t.ggmlType}))).toEqual([
      {name: 'a.weight', dims: [3, 2], type: 0},
      {name: 'b.weight', dims: [8, 5], type: 1},
    ]);
    // Offsets are aligned, and the payloads are where the header says.
    const [a, b] = info.tensorInfo!;
    expect(Number(a!.fileOffset) % 32).toBe(0);
    expect(Number(b!.fileOffset) % 32).toBe(0);
    const file = readFileSync(path);
    expect(Array.from({length: 6}, (_, i) => file.readFloatLE(Number(a!.fileOffset) + i * 4))).toEqual(Array.from(f32));
    expect(Array.from({length: 40}, (_, i) => float16BitsToNumber(file.readUInt16LE(Number(b!.fileOffset) + i * 2)))).toEqual(Array.from(f16));
    expect(file.length % 32).toBe(0);
  });

  it('refuses values that do not fit their type, duplicate keys and wrong tensor sizes', () => {
    expect(() => encodeGguf({metadata: [['k', {type: 'uint32', value: 'x' as unknown as number}]], tensors: []})).toThrow(/k/);
    expect(() => encodeGguf({metadata: [['k', gguf.u8(1)], ['k', gguf.u8(2)]], tensors: []})).toThrow(/twice/);
    expect(() => encodeGguf({metadata: [], tensors: [{name: 't', dims: [4], type: 'F32', data: new Float32Array(3)}]})).toThrow(/t/);
    expect(() => encodeGguf({metadata: [], tensors: [], alignment: 24})).toThrow(/power of two/);
  });

  it('writes general.alignment when the alignment is not the default, and aligns to it', async () => {
    const bytes = encodeGguf({metadata: [['general.architecture', gguf.str('x')]], tensors: [{name: 't', dims: [3], type: 'F32', data: new Float32Array(3)}], alignment: 64});
    const path = join(dir.path, 'align64.gguf');
    await writeFileAtomic(path, bytes);
    const info = await readGgufFileInfo(path, {logWarnings: false});
    expect(info.metadata.general.alignment).toBe(64);
    expect(Number(info.tensorInfo![0]!.fileOffset) % 64).toBe(0);
  });
});

describe('writeTinyModel', () => {
  it('writes the llama model of notes/gguf.md, readable by node-llama-cpp', async () => {
    const result = await writeTinyModel(join(dir.path, 'sub', 'tiny.gguf'), {seed: 7});
    expect(result.path).toBe(join(dir.path, 'sub', 'tiny.gguf'));
    expect(result.bytes).toBe(readFileSync(result.path).length);
    expect(result.sha256).toBe(createHash('sha256').update(readFileSync(result.path)).digest('hex'));
    const info = await readGgufFileInfo(result.path, {logWarnings: false});
    const s = TINY_MODEL_SHAPE;
    expect(info.metadata.general.architecture).toBe('llama');
    expect(info.metadata.general.alignment).toBe(32);
    const llama = (info.metadata as unknown as {llama: Record<string, unknown>}).llama;
    expect(llama).toMatchObject({
      context_length: s.contextLength,
      embedding_length: s.embeddingLength,
      block_count: s.blockCount,
      feed_forward_length: s.feedForwardLength,
      attention: {head_count: s.headCount, head_count_kv: s.headCountKv},
      rope: {dimension_count: s.embeddingLength / s.headCount},
    });
    const tokenizer = info.metadata.tokenizer!.ggml as unknown as Record<string, unknown>;
    const vocab = tinyVocabulary();
    expect(tokenizer.model).toBe('llama');
    expect(tokenizer.tokens).toEqual(vocab.tokens);
    expect((tokenizer.tokens as string[]).slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '<0x00>']);
    expect((tokenizer.tokens as string[])[3 + 255]).toBe('<0xFF>');
    expect(tokenizer.token_type).toEqual(vocab.types);
    expect(tokenizer.bos_token_id).toBe(1);
    expect(tokenizer.eos_token_id).toBe(2);
    expect(info.tensorInfo).toHaveLength(21);
    // Weights look like N(0, 0.02²).
    const file = readFileSync(result.path);
    const q = info.tensorInfo!.find((t) => t.name === 'blk.0.attn_q.weight')!;
    const values = Array.from({length: 4096}, (_, i) => file.readFloatLE(Number(q.fileOffset) + i * 4));
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(std).toBeGreaterThan(0.018);
    expect(std).toBeLessThan(0.022);
    expect(readdirSync(join(dir.path, 'sub'))).toEqual(['tiny.gguf']); // no temp file left behind
  });

  it('is deterministic: the same seed gives the same bytes, another seed differs', async () => {
    const a = await writeTinyModel(join(dir.path, 'a.gguf'), {seed: 42});
    const b = await writeTinyModel(join(dir.path, 'b.gguf'), {seed: 42});
    const c = await writeTinyModel(join(dir.path, 'c.gguf'), {seed: 43});
    expect(b.sha256).toBe(a.sha256);
    expect(c.sha256).not.toBe(a.sha256);
    expect(c.bytes).toBe(a.bytes);
  });

  it('writes F16 weights when asked, about half the size', async () => {
    const f32 = encodeTinyModel({seed: 1});
    const f16 = encodeTinyModel({seed: 1, weightType: 'F16'});
    expect(f16.length).toBeLessThan(f32.length * 0.55);
    const path = join(dir.path, 'f16.gguf');
    await writeFileAtomic(path, f16);
    const info = await readGgufFileInfo(path, {logWarnings: false});
    expect(info.tensorInfo!.find((t) => t.name === 'blk.0.ffn_up.weight')!.ggmlType).toBe(1);
    expect(info.tensorInfo!.find((t) => t.name === 'output_norm.weight')!.ggmlType).toBe(0);
  });
});
