import {createHash} from 'node:crypto';
import {mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join, relative} from 'node:path';
import {parquetMetadata} from 'hyparquet';
import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest';
import {datasetSchema} from '../config/schemas.js';
import type {CodedError} from '../errors.js';
import {
  AIENERGYSCORE_SOURCE,
  aienergyscoreCachePaths,
  aienergyscoreUrl,
  fetchAienergyscore,
  isAienergyscoreCached,
  loadAienergyscore,
} from './aienergyscore.js';
import {checkDatasetAvailable, loadPrompts} from './index.js';
import {HUB_DATASET, HUB_ROWS, RESOLVED_MAIN, startHub, type Hub} from './__fixtures__/hub.js';

const PINNED = AIENERGYSCORE_SOURCE.revision;
let hub: Hub;
const rows = HUB_ROWS;
const dataset = HUB_DATASET;

let cacheDir: string;
const savedEnv = {endpoint: process.env.HF_ENDPOINT, token: process.env.HF_TOKEN};

let hubUrl: string;
let cdnUrl: string;
let deadUrl: string;
let hubRequests: Hub['hubRequests'];
let cdnRequests: Hub['cdnRequests'];

beforeAll(async () => {
  hub = await startHub();
  ({hubUrl, cdnUrl, deadUrl, hubRequests, cdnRequests} = hub);
});
afterAll(() => hub.close());
beforeEach(() => {
  hub.mode = 'ok';
  hubRequests.length = 0;
  cdnRequests.length = 0;
  cacheDir = mkdtempSync(join(tmpdir(), 'lem-aes-'));
  delete process.env.HF_TOKEN;
  process.env.HF_ENDPOINT = hubUrl;
});
afterEach(() => {
  rmSync(cacheDir, {recursive: true, force: true});
  if (savedEnv.endpoint === undefined) delete process.env.HF_ENDPOINT;
  else process.env.HF_ENDPOINT = savedEnv.endpoint;
  if (savedEnv.token === undefined) delete process.env.HF_TOKEN;
  else process.env.HF_TOKEN = savedEnv.token;
});

async function rejection(promise: Promise<unknown>): Promise<CodedError> {
  try {
    await promise;
  } catch (error) {
    return error as CodedError;
  }
  throw new Error('did not reject');
}

/** Every file under the cache (temp files included), relative to it. */
function cacheFiles(): string[] {
  if (!existsSync(cacheDir)) return [];
  return readdirSync(cacheDir, {withFileTypes: true, recursive: true})
    .filter((entry) => entry.isFile())
    .map((entry) => relative(cacheDir, join(entry.parentPath, entry.name)))
    .sort();
}

describe('aienergyscore source', () => {
  it('pins a full commit sha and builds the resolve URL', () => {
    expect(PINNED).toMatch(/^[0-9a-f]{40}$/);
    expect(aienergyscoreUrl(PINNED, 'https://hub.example/')).toBe(`https://hub.example/datasets/AIEnergyScore/text_generation/resolve/${PINNED}/data/train-00000-of-00001.parquet`);
    expect(aienergyscoreUrl('refs/convert/parquet', 'https://hub.example')).toContain('/resolve/refs%2Fconvert%2Fparquet/');
  });
});

describe('the test Parquet file', () => {
  it('is Snappy-compressed text in several row groups, beside a column the reader cannot decompress', () => {
    const metadata = parquetMetadata(dataset);
    expect(metadata.num_rows).toBe(120n);
    expect(metadata.row_groups.map((group) => Number(group.num_rows))).toEqual([50, 50, 20]);
    for (const group of metadata.row_groups) {
      expect(group.columns.map((chunk) => [chunk.meta_data?.path_in_schema.join('.'), chunk.meta_data?.codec])).toEqual([
        ['id', 'GZIP'],
        ['text', 'SNAPPY'],
      ]);
    }
  });
});

describe('fetchAienergyscore', () => {
  it('downloads once into the cache with a manifest; loading is then offline', async () => {
    const result = await fetchAienergyscore({cacheDir, endpoint: hubUrl, token: 'hf_secret'});
    expect(result.alreadyCached).toBe(false);
    const paths = aienergyscoreCachePaths(cacheDir);
    expect(result.path).toBe(paths.data);
    expect(readFileSync(paths.data).equals(Buffer.from(dataset))).toBe(true);
    const manifest = JSON.parse(readFileSync(paths.manifest, 'utf8'));
    expect(manifest).toMatchObject({
      repo: 'AIEnergyScore/text_generation',
      file: 'data/train-00000-of-00001.parquet',
      revision: PINNED,
      commit: PINNED,
      column: 'text',
      url: aienergyscoreUrl(PINNED, hubUrl),
      sha256: createHash('sha256').update(dataset).digest('hex'),
      bytes: dataset.length,
      rows: 118,
    });
    expect(JSON.stringify(manifest)).not.toContain('hf_secret');
    // The token goes to the Hub, never to the file store it redirects to.
    expect(hubRequests[0]?.auth).toBe('Bearer hf_secret');
    expect(cdnRequests[0]?.auth).toBeUndefined();
    expect(cacheFiles()).toEqual([join('aienergyscore', PINNED, 'manifest.json'), join('aienergyscore', PINNED, 'text_generation.parquet')]);

    const requestsSoFar = hubRequests.length + cdnRequests.length;
    process.env.HF_ENDPOINT = deadUrl;
    const prompts = await loadAienergyscore(cacheDir);
    expect(prompts).toHaveLength(118);
    expect(prompts[0]).toEqual({id: 'row-0', text: rows[0]});
    expect(prompts.map((p) => p.id)).not.toContain('row-7');
    expect(prompts.map((p) => p.id)).not.toContain('row-8');
    expect(prompts[117]).toEqual({id: 'row-119', text: rows[119]});
    expect(await isAienergyscoreCached(cacheDir)).toBe(true);
    const again = await fetchAienergyscore({cacheDir});
    expect(again.alreadyCached).toBe(true);
    expect(hubRequests.length + cdnRequests.length).toBe(requestsSoFar);
  });

  it('records the commit a branch name resolved to, in a folder of its own', async () => {
    const result = await fetchAienergyscore({cacheDir, revision: 'main'});
    expect(result.manifest).toMatchObject({revision: 'main', commit: RESOLVED_MAIN});
    expect(await isAienergyscoreCached(cacheDir, 'main')).toBe(true);
    expect(await isAienergyscoreCached(cacheDir)).toBe(false);
    expect(hubRequests[0]?.url).toContain('/resolve/main/');
  });

  it('fails with E_DATASET_FETCH naming the URL and HF_ENDPOINT on a 404', async () => {
    hub.mode = 'not-found';
    const error = await rejection(fetchAienergyscore({cacheDir}));
    expect(error.code).toBe('E_DATASET_FETCH');
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(aienergyscoreUrl(PINNED, hubUrl));
    expect(error.message).toContain('404');
    expect(error.message).toContain(`HF_ENDPOINT is ${hubUrl}`);
    expect(error.try.join('\n')).toContain('dataset.revision');
    expect(cacheFiles()).toEqual([]);
  });

  it('asks for a token on 401', async () => {
    hub.mode = 'forbidden';
    const error = await rejection(fetchAienergyscore({cacheDir}));
    expect(error.code).toBe('E_DATASET_FETCH');
    expect(error.try.join('\n')).toContain('HF_TOKEN');
  });

  it('fails with E_DATASET_FETCH when the connection is refused', async () => {
    process.env.HF_ENDPOINT = deadUrl;
    const error = await rejection(fetchAienergyscore({cacheDir}));
    expect(error.code).toBe('E_DATASET_FETCH');
    expect(error.message).toContain(aienergyscoreUrl(PINNED, deadUrl));
    expect(error.message).toContain(`HF_ENDPOINT is ${deadUrl}`);
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(cacheFiles()).toEqual([]);
  });

  it.each([
    ['a body cut off before its content-length', 'truncated', /broke off|of \d+ bytes/],
    ['a shorter body without a length', 'short-chunked', /is not the dataset/],
    ['an HTML page', 'html', /is not the dataset.*PAR1/],
    ['a Parquet file without a text column', 'no-text-column', /is not the dataset: no column "text"; columns: prompt/],
    ['a Parquet file whose text column holds numbers', 'int-text-column', /is not the dataset: column "text" is INT32, not a string/],
    ['a Parquet file whose text column is empty', 'no-prompt', /is not the dataset: the file holds no prompt/],
  ] as const)('rejects %s and leaves no cache file', async (_what, m, pattern) => {
    hub.mode = m;
    const error = await rejection(fetchAienergyscore({cacheDir}));
    expect(error.code).toBe('E_DATASET_FETCH');
    expect(error.message).toMatch(pattern);
    expect(cacheFiles()).toEqual([]);
    expect(await isAienergyscoreCached(cacheDir)).toBe(false);
  });

  it('keeps a valid cache when a forced download fails', async () => {
    await fetchAienergyscore({cacheDir});
    hub.mode = 'html';
    await expect(fetchAienergyscore({cacheDir, force: true})).rejects.toMatchObject({code: 'E_DATASET_FETCH'});
    expect(cacheFiles()).toEqual([join('aienergyscore', PINNED, 'manifest.json'), join('aienergyscore', PINNED, 'text_generation.parquet')]);
    expect(await loadAienergyscore(cacheDir)).toHaveLength(118);
  });

  it('uses the injected fetch', async () => {
    const seen: string[] = [];
    const fetchImpl: typeof fetch = async (input, init) => {
      seen.push(String(input));
      return fetch(input, init);
    };
    await fetchAienergyscore({cacheDir, fetchImpl});
    expect(seen[0]).toBe(aienergyscoreUrl(PINNED, hubUrl));
    expect(seen[1]).toContain(cdnUrl);
  });
});

describe('loadAienergyscore', () => {
  it('refuses before any launch when not cached, with the Try lines', async () => {
    const error = await rejection(loadAienergyscore(cacheDir));
    expect(error.code).toBe('E_DATASET_NOT_CACHED');
    expect(error.exitCode).toBe(2);
    expect(error.try).toEqual(['lem datasets fetch aienergyscore', 'dataset: {kind: builtin} needs no download']);
    const other = await rejection(loadAienergyscore(cacheDir, 'main'));
    expect(other.try[0]).toBe('lem datasets fetch aienergyscore --revision main');
    expect(hubRequests).toHaveLength(0);
  });

  it('refuses a damaged cache, and a fetch repairs it', async () => {
    await fetchAienergyscore({cacheDir});
    const {data} = aienergyscoreCachePaths(cacheDir);
    const bytes = readFileSync(data);
    bytes[100] = bytes[100]! ^ 0xff;
    writeFileSync(data, bytes);
    const error = await rejection(loadAienergyscore(cacheDir));
    expect(error.code).toBe('E_DATASET_NOT_CACHED');
    expect(error.message).toContain('damaged');
    expect((await fetchAienergyscore({cacheDir})).alreadyCached).toBe(false);
    expect(await loadAienergyscore(cacheDir)).toHaveLength(118);
  });
});

describe('aienergyscore through loadPrompts', () => {
  it('checks the cache before launch and applies n_prompts and seed', async () => {
    const spec = datasetSchema.parse({kind: 'aienergyscore', n_prompts: 50, seed: 3});
    await expect(checkDatasetAvailable(spec, {baseDir: cacheDir, cacheDir})).rejects.toMatchObject({code: 'E_DATASET_NOT_CACHED'});
    await expect(loadPrompts(spec, {baseDir: cacheDir, cacheDir})).rejects.toMatchObject({code: 'E_DATASET_NOT_CACHED'});
    await fetchAienergyscore({cacheDir});
    await expect(checkDatasetAvailable(spec, {baseDir: cacheDir, cacheDir})).resolves.toBeUndefined();
    const prompts = await loadPrompts(spec, {baseDir: cacheDir, cacheDir});
    expect(prompts).toHaveLength(50);
    expect(await loadPrompts(spec, {baseDir: cacheDir, cacheDir})).toEqual(prompts);
    // The schema's default n_prompts (1000) is more than this small fixture holds: refused.
    const all = datasetSchema.parse({kind: 'aienergyscore'});
    await expect(loadPrompts(all, {baseDir: cacheDir, cacheDir})).rejects.toMatchObject({code: 'E_DATASET_TOO_SMALL'});
  });
});
