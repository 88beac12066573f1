import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {datasetSchema} from '../config/schemas.js';
import {BUILTIN_PROMPTS, checkDatasetAvailable, loadPrompts} from './index.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lem-datasets-index-'));
  writeFileSync(join(dir, 'prompts.txt'), Array.from({length: 30}, (_, i) => `prompt ${i + 1}`).join('\n'));
});
afterAll(() => rmSync(dir, {recursive: true, force: true}));

const where = () => ({baseDir: dir, cacheDir: join(dir, 'cache')});

describe('loadPrompts', () => {
  it('builtin: every prompt by default, in a seeded order; n_prompts takes a prefix', async () => {
    const all = await loadPrompts(datasetSchema.parse({kind: 'builtin'}), where());
    expect(all).toHaveLength(BUILTIN_PROMPTS.length);
    expect(new Set(all.map((p) => p.id))).toEqual(new Set(BUILTIN_PROMPTS.map((p) => p.id)));
    expect(all.map((p) => p.index)).toEqual([...all.keys()]);
    const ten = await loadPrompts(datasetSchema.parse({kind: 'builtin', n_prompts: 10}), where());
    expect(ten).toEqual(all.slice(0, 10));
    const other = await loadPrompts(datasetSchema.parse({kind: 'builtin', n_prompts: 10, seed: 1}), where());
    expect(other.map((p) => p.id)).not.toEqual(ten.map((p) => p.id));
    await expect(loadPrompts(datasetSchema.parse({kind: 'builtin', n_prompts: 500}), where())).rejects.toMatchObject({code: 'E_DATASET_TOO_SMALL'});
  });

  it('synthetic: n_prompts prompts of input_tokens words', async () => {
    const prompts = await loadPrompts(datasetSchema.parse({kind: 'synthetic', input_tokens: 33, n_prompts: 7, seed: 2}), where());
    expect(prompts).toHaveLength(7);
    for (const p of prompts) expect(p.text.split(' ')).toHaveLength(33);
    expect(await loadPrompts(datasetSchema.parse({kind: 'synthetic', input_tokens: 33}), where())).toHaveLength(100);
  });

  it('file: relative to baseDir, sampled by seed', async () => {
    const spec = datasetSchema.parse({kind: 'file', path: 'prompts.txt', n_prompts: 12, seed: 9});
    const prompts = await loadPrompts(spec, where());
    expect(prompts).toHaveLength(12);
    for (const p of prompts) expect(p.text).toBe(`prompt ${p.id.slice('line-'.length)}`);
    expect(await loadPrompts(spec, where())).toEqual(prompts);
    await expect(loadPrompts(datasetSchema.parse({kind: 'file', path: 'prompts.txt', n_prompts: 31}), where())).rejects.toMatchObject({
      code: 'E_DATASET_TOO_SMALL',
      message: expect.stringContaining('prompts.txt has 30 prompts'),
    });
  });
});

describe('checkDatasetAvailable', () => {
  it('passes for builtin, synthetic and an existing file; refuses a missing or unreadable one', async () => {
    await expect(checkDatasetAvailable(datasetSchema.parse({kind: 'builtin'}), where())).resolves.toBeUndefined();
    await expect(checkDatasetAvailable(datasetSchema.parse({kind: 'synthetic', input_tokens: 8}), where())).resolves.toBeUndefined();
    await expect(checkDatasetAvailable(datasetSchema.parse({kind: 'file', path: 'prompts.txt'}), where())).resolves.toBeUndefined();
    await expect(checkDatasetAvailable(datasetSchema.parse({kind: 'file', path: 'missing.jsonl'}), where())).rejects.toMatchObject({code: 'E_DATASET_NOT_FOUND'});
    writeFileSync(join(dir, 'prompts.parquet'), 'x');
    await expect(checkDatasetAvailable(datasetSchema.parse({kind: 'file', path: 'prompts.parquet'}), where())).rejects.toMatchObject({code: 'E_DATASET_INVALID'});
  });
});
