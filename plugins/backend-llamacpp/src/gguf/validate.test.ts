import {createHash} from 'node:crypto';
import {mkdirSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {isCodedError, type CodedError} from '@lem/plugin-kit';
import {afterAll, describe, expect, it} from 'vitest';
import {tempDir} from '../__fixtures__/harness.js';
import {encodeTinyModel, TINY_MODEL_SHAPE, tinyModelDocument, tinyVocabulary} from './tiny-model.js';
import {inspectGguf} from './validate.js';
import {encodeGguf} from './writer.js';

const dir = tempDir();
afterAll(() => dir.remove());
let n = 0;
function file(bytes: Uint8Array | string): string {
  const path = join(dir.path, `f${n++}.gguf`);
  writeFileSync(path, bytes);
  return path;
}

/** Runs inspectGguf expecting a coded error; returns it. */
async function failure(path: string): Promise<CodedError> {
  try {
    await inspectGguf(path);
  } catch (error) {
    if (!isCodedError(error)) throw new Error(`expected a coded error, got ${String(error)}`);
    return error;
  }
  throw new Error(`expected ${path} to be rejected`);
}

function withoutKey(key: string): Buffer {
  const doc = tinyModelDocument({seed: 1});
  return encodeGguf({...doc, metadata: doc.metadata.filter(([k]) => k !== key)});
}

describe('inspectGguf on a good file', () => {
  it('summarises the tiny model, with parameter counts from the tensor shapes', async () => {
    const bytes = encodeTinyModel({seed: 1});
    const path = file(bytes);
    const s = await inspectGguf(path, {sha256: true});
    const shape = TINY_MODEL_SHAPE;
    const vocab = tinyVocabulary().tokens.length;
    const e = shape.embeddingLength;
    const perBlock = 2 * e + 4 * e * e + 3 * e * shape.feedForwardLength;
    const total = 2 * e * vocab + e + shape.blockCount * perBlock;
    expect(s).toMatchObject({
      path,
      fileSizeBytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      ggufVersion: 3,
      alignment: 32,
      architecture: 'llama',
      contextLength: shape.contextLength,
      embeddingLength: e,
      blockCount: shape.blockCount,
      feedForwardLength: shape.feedForwardLength,
      headCount: shape.headCount,
      headCountKv: shape.headCountKv,
      vocabSize: vocab,
      tokenizerModel: 'llama',
      tensorCount: 21,
      parameterCount: total,
      embeddingParameterCount: e * vocab,
      nonEmbeddingParameterCount: total - e * vocab,
      activeParameterCount: total - e * vocab,
      tiedEmbeddings: false,
      hasChatTemplate: false,
    });
  });

  it('counts a tied output head as active', async () => {
    const doc = tinyModelDocument({seed: 1});
    const path = file(encodeGguf({...doc, tensors: doc.tensors.filter((t) => t.name !== 'output.weight')}));
    const s = await inspectGguf(path);
    expect(s.tiedEmbeddings).toBe(true);
    expect(s.activeParameterCount).toBe(s.nonEmbeddingParameterCount + s.embeddingLength * s.vocabSize);
  });
});

describe('inspectGguf on bad files', () => {
  it('reports a missing file as E_MODEL_NOT_FOUND', async () => {
    const error = await failure(join(dir.path, 'absent.gguf'));
    expect(error.code).toBe('E_MODEL_NOT_FOUND');
    expect(error.message).toContain('absent.gguf');
    expect(error.try.join('\n')).toMatch(/tiny-model/);
    expect(error.exitCode).toBe(2);
  });

  it.each([
    ['an empty file', () => new Uint8Array(0), /empty/],
    ['a text file', () => 'hello, this is not a model\n', /not a GGUF file/],
    ['three bytes', () => 'GGU', /truncated/],
    ['GGUF version 4', () => Buffer.concat([Buffer.from('GGUF'), Buffer.from([4, 0, 0, 0]), Buffer.alloc(16)]), /version 4/],
    ['a cut in the metadata', () => encodeTinyModel({seed: 1}).subarray(0, 2000), /truncated/],
    ['a cut in the tensor data', () => encodeTinyModel({seed: 1}).subarray(0, 400_000), /truncated.*tensor/],
    ['an absurd tensor count', () => Buffer.concat([Buffer.from('GGUF'), Buffer.from([3, 0, 0, 0]), Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x7f]), Buffer.alloc(8)]), /implausible/],
    ['no feed_forward_length', () => withoutKey('llama.feed_forward_length'), /llama\.feed_forward_length/],
    ['no head_count', () => withoutKey('llama.attention.head_count'), /llama\.attention\.head_count/],
    ['no architecture', () => withoutKey('general.architecture'), /general\.architecture/],
    ['no context_length', () => withoutKey('llama.context_length'), /llama\.context_length/],
    ['no vocabulary', () => withoutKey('tokenizer.ggml.tokens'), /tokenizer\.ggml\.tokens/],
    ['no rms epsilon', () => withoutKey('llama.attention.layer_norm_rms_epsilon'), /layer_norm_rms_epsilon/],
  ])('reports %s as E_MODEL_INVALID, naming the file and the problem', async (_label, bytes, problem) => {
    const path = file(bytes());
    const error = await failure(path);
    expect(error.code).toBe('E_MODEL_INVALID');
    expect(error.message).toContain(path);
    expect(error.message).toMatch(problem);
    expect(error.try.length).toBeGreaterThan(0);
    expect(error.exitCode).toBe(2);
  });

  it('reports a directory as E_MODEL_INVALID', async () => {
    const path = join(dir.path, 'a-folder');
    mkdirSync(path);
    const error = await failure(path);
    expect(error.code).toBe('E_MODEL_INVALID');
    expect(error.message).toMatch(/directory/);
  });

  it('answers every corrupted header with a valid summary or E_MODEL_INVALID, nothing else', async () => {
    const good = encodeTinyModel({seed: 1});
    let state = 12345;
    const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
    let rejected = 0;
    let accepted = 0;
    for (let i = 0; i < 150; i++) {
      const bytes = Buffer.from(good);
      const flips = 1 + Math.floor(random() * 4);
      for (let f = 0; f < flips; f++) bytes[8 + Math.floor(random() * 7000)] = Math.floor(random() * 256); // in the header
      const path = file(bytes);
      try {
        await inspectGguf(path);
        accepted++;
      } catch (error) {
        expect(isCodedError(error) && error.code === 'E_MODEL_INVALID', String(error)).toBe(true);
        rejected++;
      }
    }
    expect(rejected + accepted).toBe(150);
    expect(rejected).toBeGreaterThan(10);
  });
});
