/**
 * AI Energy Score's text-generation prompts (1,000 prompts in one `text` column), downloaded once
 * from the Hugging Face Hub into a cache, at a pinned revision, and read offline afterwards.
 *
 * Why a download and not a copy in the package: the prompts are the Hub dataset's, under its own
 * terms; lem ships only the address. Why pinned: a moving `main` would change the workload under
 * a campaign's feet; results record the revision and the file's sha256.
 *
 * Cache layout (`cacheDir` is the caller's, e.g. the project's `.lem-state/cache/datasets`):
 *
 *     <cacheDir>/aienergyscore/<revision>/text_generation.parquet   the file as served by the Hub
 *     <cacheDir>/aienergyscore/<revision>/manifest.json             repo, file, revision, commit,
 *                                                                   url, sha256, bytes, rows
 *
 * The data file is written first and the manifest last, each atomically (temp + fsync + rename +
 * fsync of the folder): a manifest exists only beside a complete, verified file. Loading checks
 * the sha256 against the manifest, so a damaged cache is refused rather than measured.
 */
import {createHash} from 'node:crypto';
import {mkdir, readFile, stat} from 'node:fs/promises';
import {writeFileAtomic} from '../fs-atomic.js';
import {DEFAULT_HF_ENDPOINT, describeNetworkError, hfEndpoint, hubGet} from '../hub.js';

export {DEFAULT_HF_ENDPOINT, hfEndpoint};
import {join} from 'node:path';
import {z} from 'zod';
import {configError, type CodedError} from '../errors.js';
import {DatasetErrorCodes, type DatasetPrompt} from './select.js';

/**
 * The pinned source. Repo and file: the dataset card and file list of
 * huggingface.co/datasets/AIEnergyScore/text_generation (the file AI Energy Score's own runner
 * loads with `load_dataset("AIEnergyScore/text_generation")`, column `text`). Revision: the commit
 * "Librarian Bot: Add language metadata for dataset" on `main`, whose tree holds that file
 * (uploaded in commit f2749a8).
 */
export const AIENERGYSCORE_SOURCE = Object.freeze({
  repo: 'AIEnergyScore/text_generation',
  file: 'data/train-00000-of-00001.parquet',
  revision: '51d5ed5d396f903899edd7913cd181a08d6ec0ba',
  column: 'text',
});


const DATA_FILE = 'text_generation.parquet';
const MANIFEST_FILE = 'manifest.json';
/** Far above the real file (about 1 MB); stops a wrong URL from filling memory. */
const MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024;

const manifestSchema = z.object({
  repo: z.string(),
  file: z.string(),
  revision: z.string(),
  /** The commit the Hub resolved the revision to (its `X-Repo-Commit` header), when it said. */
  commit: z.string().optional(),
  url: z.string(),
  column: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
  /** Rows with a non-empty prompt. */
  rows: z.number().int().positive(),
  fetchedAt: z.string(),
});

export type AienergyscoreManifest = z.infer<typeof manifestSchema>;


/** `${endpoint}/datasets/${repo}/resolve/${revision}/${file}` (the revision URL-encoded). */
export function aienergyscoreUrl(revision: string = AIENERGYSCORE_SOURCE.revision, endpoint?: string): string {
  return `${hfEndpoint(endpoint)}/datasets/${AIENERGYSCORE_SOURCE.repo}/resolve/${encodeURIComponent(revision)}/${AIENERGYSCORE_SOURCE.file}`;
}

export function aienergyscoreCachePaths(cacheDir: string, revision: string = AIENERGYSCORE_SOURCE.revision): {dir: string; data: string; manifest: string} {
  // A revision may be a branch with slashes (`refs/convert/parquet`): one folder per revision.
  const dir = join(cacheDir, 'aienergyscore', encodeURIComponent(revision));
  return {dir, data: join(dir, DATA_FILE), manifest: join(dir, MANIFEST_FILE)};
}

function fetchCommand(revision: string): string {
  return revision === AIENERGYSCORE_SOURCE.revision ? 'lem datasets fetch aienergyscore' : `lem datasets fetch aienergyscore --revision ${revision}`;
}

function notCached(revision: string, cacheDir: string, why: string): CodedError {
  return configError(
    DatasetErrorCodes.notCached,
    `The aienergyscore prompts (revision ${revision}) ${why} in ${cacheDir}; lem downloads them only when asked, before any experiment.`,
    [fetchCommand(revision), 'dataset: {kind: builtin} needs no download'],
    [{path: 'dataset.kind', message: 'aienergyscore is not cached'}],
  );
}

async function readManifest(path: string): Promise<AienergyscoreManifest | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = manifestSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Cheap pre-launch check: a manifest is there and the data file has the size it records (the
 * hash is checked when the prompts are loaded).
 */
export async function isAienergyscoreCached(cacheDir: string, revision: string = AIENERGYSCORE_SOURCE.revision): Promise<boolean> {
  const paths = aienergyscoreCachePaths(cacheDir, revision);
  const manifest = await readManifest(paths.manifest);
  if (!manifest) return false;
  try {
    return (await stat(paths.data)).size === manifest.bytes;
  } catch {
    return false;
  }
}

/** Throws `E_DATASET_NOT_CACHED` (with its Try line) unless {@link isAienergyscoreCached}. */
export async function assertAienergyscoreCached(cacheDir: string, revision: string = AIENERGYSCORE_SOURCE.revision): Promise<void> {
  if (!(await isAienergyscoreCached(cacheDir, revision))) throw notCached(revision, cacheDir, 'are not downloaded');
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The bytes as an ArrayBuffer of their own (hyparquet's `file`); a Buffer may be a view into a larger one. */
function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  const {buffer, byteOffset, byteLength} = bytes;
  return buffer instanceof ArrayBuffer && byteOffset === 0 && byteLength === buffer.byteLength ? buffer : new Uint8Array(bytes).buffer;
}

/**
 * The prompts of a downloaded file, or an Error saying why the file is not the dataset. Parquet is
 * read by hyparquet (Snappy built in), and only the `text` column is decoded.
 */
async function promptsOf(bytes: Uint8Array): Promise<DatasetPrompt[]> {
  const {column} = AIENERGYSCORE_SOURCE;
  const file = arrayBufferOf(bytes);
  // Throws on anything without Parquet's footer (an HTML page, a truncated body, garbage).
  // Imported on use: only this dataset needs a Parquet reader.
  const {parquetMetadata, parquetReadObjects, parquetSchema} = await import('hyparquet');
  const metadata = parquetMetadata(file);
  const columns = parquetSchema(metadata).children;
  const node = columns.find((c) => c.element.name === column);
  if (!node) throw new Error(`no column "${column}"; columns: ${columns.map((c) => c.element.name).join(', ') || 'none'}`);
  if (node.children.length > 0 || node.element.type !== 'BYTE_ARRAY' || node.element.repetition_type === 'REPEATED') {
    const what = node.children.length > 0 ? 'a group' : node.element.repetition_type === 'REPEATED' ? 'a list' : (node.element.type ?? 'of an unknown type');
    throw new Error(`column "${column}" is ${what}, not a string (BYTE_ARRAY)`);
  }
  const rows = await parquetReadObjects({file, metadata, columns: [column]});
  if (rows.length !== Number(metadata.num_rows)) throw new Error(`read ${rows.length} rows, the file declares ${metadata.num_rows}`);
  const prompts: DatasetPrompt[] = [];
  rows.forEach((row, index) => {
    const text: unknown = row[column];
    if (text === null || text === undefined) return; // a null of an optional column
    if (typeof text !== 'string') throw new Error(`row ${index} of column "${column}" is not a string`);
    if (text.trim() !== '') prompts.push({id: `row-${index}`, text});
  });
  if (prompts.length === 0) throw new Error('the file holds no prompt');
  return prompts;
}

/**
 * The cached prompts, in the dataset's row order. Id: `row-<n>`, the 0-based row of the file (as
 * the Hub's viewer numbers it). Throws `E_DATASET_NOT_CACHED` when not downloaded or damaged.
 */
export async function loadAienergyscore(cacheDir: string, revision: string = AIENERGYSCORE_SOURCE.revision): Promise<DatasetPrompt[]> {
  const paths = aienergyscoreCachePaths(cacheDir, revision);
  const manifest = await readManifest(paths.manifest);
  if (!manifest) throw notCached(revision, cacheDir, 'are not downloaded');
  let bytes: Uint8Array;
  try {
    bytes = await readFile(paths.data);
  } catch {
    throw notCached(revision, cacheDir, 'are not downloaded');
  }
  if (sha256(bytes) !== manifest.sha256) throw notCached(revision, cacheDir, `are damaged (${paths.data} does not match the sha256 in its manifest)`);
  try {
    return await promptsOf(bytes);
  } catch (error) {
    throw notCached(revision, cacheDir, `cannot be read (${(error as Error).message})`);
  }
}

export interface FetchAienergyscoreOptions {
  cacheDir: string;
  /** Default: the pinned {@link AIENERGYSCORE_SOURCE}.revision. */
  revision?: string | undefined;
  /** Default: `$HF_ENDPOINT`, else https://huggingface.co. */
  endpoint?: string | undefined;
  /** Hub token for a gated or private mirror (default: `$HF_TOKEN`). Never written anywhere. */
  token?: string | undefined;
  /** Injected for tests and proxies; default: the global fetch. */
  fetchImpl?: typeof fetch | undefined;
  /** Download again even when a valid copy is cached. */
  force?: boolean | undefined;
  /** Whole download, redirects included (default 300 000). */
  timeoutMs?: number | undefined;
}

export interface FetchAienergyscoreResult {
  manifest: AienergyscoreManifest;
  /** The cached data file. */
  path: string;
  /** True when a valid copy was already there and nothing was downloaded. */
  alreadyCached: boolean;
}

function fetchError(url: string, reason: string, extraTry: string[] = [], cause?: unknown): CodedError {
  const endpoint = process.env.HF_ENDPOINT ? `HF_ENDPOINT is ${process.env.HF_ENDPOINT}` : `HF_ENDPOINT is not set (so ${DEFAULT_HF_ENDPOINT})`;
  const error = configError(
    DatasetErrorCodes.fetch,
    `Could not download the aienergyscore prompts from ${url}: ${reason}. ${endpoint}.`,
    [...extraTry, 'check the network, or set HF_ENDPOINT to a Hub mirror you can reach', 'dataset: {kind: builtin} needs no download'],
  );
  if (cause !== undefined) (error as Error & {cause?: unknown}).cause = cause;
  return error;
}

/**
 * Downloads the prompt file once into the cache and returns its manifest; does nothing when a
 * copy whose sha256 matches its manifest is already there (unless `force`).
 *
 * What was downloaded must parse as the dataset (a Parquet file with a non-empty `text` column)
 * before it is kept: an HTML error page, a truncated body or garbage leaves no file in the cache.
 * Failures are `E_DATASET_FETCH`, naming the URL and HF_ENDPOINT.
 */
export async function fetchAienergyscore(options: FetchAienergyscoreOptions): Promise<FetchAienergyscoreResult> {
  const revision = options.revision ?? AIENERGYSCORE_SOURCE.revision;
  const paths = aienergyscoreCachePaths(options.cacheDir, revision);

  if (!options.force) {
    const existing = await readManifest(paths.manifest);
    if (existing) {
      try {
        if (sha256(await readFile(paths.data)) === existing.sha256) return {manifest: existing, path: paths.data, alreadyCached: true};
      } catch {
        // Missing data file: download again below.
      }
    }
  }

  const url = aienergyscoreUrl(revision, options.endpoint);
  const token = options.token ?? process.env.HF_TOKEN;
  const {bytes, commit} = await download(url, token, options.fetchImpl ?? fetch, options.timeoutMs ?? 300_000);

  let prompts: DatasetPrompt[];
  try {
    prompts = await promptsOf(bytes);
  } catch (error) {
    throw fetchError(url, `what came back (${bytes.length} bytes) is not the dataset: ${(error as Error).message}`, [fetchCommand(revision)]);
  }

  const manifest: AienergyscoreManifest = {
    repo: AIENERGYSCORE_SOURCE.repo,
    file: AIENERGYSCORE_SOURCE.file,
    revision,
    ...(commit ? {commit} : {}),
    url,
    column: AIENERGYSCORE_SOURCE.column,
    sha256: sha256(bytes),
    bytes: bytes.length,
    rows: prompts.length,
    fetchedAt: new Date().toISOString(),
  };
  await mkdir(paths.dir, {recursive: true});
  writeFileAtomic(paths.data, bytes);
  writeFileAtomic(paths.manifest, `${JSON.stringify(manifest, null, 2)}\n`);
  return {manifest, path: paths.data, alreadyCached: false};
}

/** Downloads the file (see {@link hubGet} for redirects and the token) and checks its length. */
async function download(url: string, token: string | undefined, fetchImpl: typeof fetch, timeoutMs: number): Promise<{bytes: Uint8Array; commit?: string}> {
  const answer = await hubGet(url, {token, fetchImpl, signal: AbortSignal.timeout(timeoutMs)});
  if (!answer.ok) {
    if (answer.kind === 'network') throw fetchError(url, answer.message, [], answer.cause);
    if (answer.kind === 'redirects') throw fetchError(url, 'too many redirects');
    const hint =
      answer.status === 401 || answer.status === 403
        ? ['set HF_TOKEN to a Hub token that may read the dataset']
        : answer.status === 404
          ? ['check dataset.revision: the Hub has no such file at that revision']
          : [];
    throw fetchError(url, `the server answered ${answer.status} ${answer.statusText}`.trim(), hint);
  }
  const {response, commit} = answer;
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > MAX_DOWNLOAD_BYTES) {
    await response.body?.cancel();
    throw fetchError(url, `the file is ${declared} bytes, far larger than the dataset`);
  }
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (error) {
    throw fetchError(url, `the download broke off (${describeNetworkError(error)})`, [], error);
  }
  if (Number.isFinite(declared) && bytes.length !== declared) throw fetchError(url, `got ${bytes.length} of ${declared} bytes`);
  return commit ? {bytes, commit} : {bytes};
}

