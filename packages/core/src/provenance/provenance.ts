/**
 * Provenance: what a result was measured *with*, so a number can be traced and a run reproduced —
 * lem and plugin versions, the engine's own version, the server's full command line, the model's
 * content hash, the host, the GPUs and the container image.
 *
 * Collecting provenance never fails a run: every probe here reports a failure as data
 * (`version: null` with an `error`, `kind: 'unavailable'`), never as a throw.
 */
import {spawn} from 'node:child_process';
import {createHash} from 'node:crypto';
import {createReadStream, existsSync, mkdirSync, readFileSync, type Stats} from 'node:fs';
import {readdir, realpath, stat} from 'node:fs/promises';
import {join, resolve} from 'node:path';
import type {VersionProbe} from '@lem/plugin-kit';
import {environmentInfo, type EnvironmentInfo} from '../experiment/environment.js';
import {writeFileAtomic} from '../fs-atomic.js';

// ---------------------------------------------------------------------------------------------
// Engine version

/** What a backend's version probe found. */
export interface EngineVersion {
  /** The engine's version string, or null when it could not be found out (then `error` says why). */
  version: string | null;
  /** The probe's answer (HTTP body or command output), cut to {@link RAW_MAX_CHARS}. */
  raw?: string;
  error?: string;
}

const RAW_MAX_CHARS = 4_000;
const VERSION_MAX_CHARS = 200;
const PROBE_TIMEOUT_MS = 5_000;

/** Runs `argv` for an `exec` probe; injectable so a docker runner can run it inside the container. */
export type ProbeExec = (argv: string[], timeoutMs: number) => Promise<{exitCode: number | null; stdout: string; stderr: string; timedOut: boolean; spawnError?: string}>;

export interface ProbeEngineVersionOptions {
  /** Default 5000. */
  timeoutMs?: number;
  exec?: ProbeExec;
  fetch?: typeof fetch;
}

/**
 * Asks a running server (or a command next to it) for the engine's version.
 *
 * - `{kind: 'http', path, pick?}`: GET `path` relative to `baseUrl`.
 * - `{kind: 'exec', argv, pick?}`: run `argv` (no shell), stdout (or stderr when stdout is empty).
 *
 * `pick` is a dotted path into a JSON answer (`build.version`, `items.0.v`) or a regular
 * expression over the text whose first group (or whole match) is the version; a JSON answer is
 * tried as a path first. Without `pick`: a JSON answer's `version` field; a one-line text answer
 * itself; else the first version-looking token (`v1.2.3`, `0.6.3.post1`).
 *
 * Never throws: a missing probe, a non-2xx status, a refused connection, a timeout, a non-zero exit
 * or nothing picked all give `version: null` with `error`.
 */
export async function probeEngineVersion(baseUrl: string, probe?: VersionProbe, options: ProbeEngineVersionOptions = {}): Promise<EngineVersion> {
  const timeoutMs = options.timeoutMs ?? PROBE_TIMEOUT_MS;
  if (!probe) return {version: null, error: 'the backend declares no version probe'};
  try {
    if (probe.kind === 'http') {
      if (!probe.path) return {version: null, error: 'http version probe without a path'};
      const url = new URL(probe.path, baseUrl).toString();
      let response: Response;
      try {
        response = await (options.fetch ?? fetch)(url, {signal: AbortSignal.timeout(timeoutMs), headers: {accept: 'application/json, text/plain;q=0.9, */*;q=0.1'}});
      } catch (error) {
        return {version: null, error: `GET ${url} failed: ${describeFetchError(error, timeoutMs)}`};
      }
      const text = await response.text();
      const raw = cut(text, RAW_MAX_CHARS);
      if (!response.ok) return {version: null, raw, error: `GET ${url} answered HTTP ${response.status}`};
      return pickVersion(text, probe.pick, raw);
    }
    if (probe.kind === 'exec') {
      if (!probe.argv || probe.argv.length === 0) return {version: null, error: 'exec version probe without argv'};
      const run = await (options.exec ?? execVersionProbe)(probe.argv, timeoutMs);
      const output = run.stdout.trim() ? run.stdout : run.stderr;
      const raw = cut(output, RAW_MAX_CHARS);
      const command = probe.argv.join(' ');
      if (run.spawnError) return {version: null, error: `could not run \`${command}\`: ${run.spawnError}`};
      if (run.timedOut) return {version: null, raw, error: `\`${command}\` timed out after ${timeoutMs / 1_000} s`};
      if (run.exitCode !== 0) return {version: null, raw, error: `\`${command}\` exited with ${run.exitCode ?? 'a signal'}${run.stderr.trim() ? `: ${cut(run.stderr.trim(), 300)}` : ''}`};
      return pickVersion(output, probe.pick, raw);
    }
    return {version: null, error: `unknown version probe kind ${JSON.stringify((probe as {kind?: unknown}).kind)}`};
  } catch (error) {
    return {version: null, error: `version probe failed: ${(error as Error).message}`};
  }
}

const DOTTED_PATH = /^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/;
const VERSION_TOKEN = /\bv?\d+(?:\.\d+)+(?:[-+.]?[0-9A-Za-z]+)*/;

/** Finds the version in a probe's answer; exported for tests and for callers with their own transport. */
export function pickVersion(text: string, pick: string | undefined, raw = cut(text, RAW_MAX_CHARS)): EngineVersion {
  let json: unknown;
  let isJson = false;
  try {
    json = JSON.parse(text);
    isJson = typeof json === 'object' && json !== null;
  } catch {
    isJson = false;
  }
  const found = (value: string): EngineVersion => ({version: cut(value.trim(), VERSION_MAX_CHARS), raw});
  if (pick !== undefined) {
    if (isJson && DOTTED_PATH.test(pick)) {
      const value = pick.split('.').reduce<unknown>((at, key) => (typeof at === 'object' && at !== null ? (at as Record<string, unknown>)[key] : undefined), json);
      if (typeof value === 'string' && value.trim()) return found(value);
      if (typeof value === 'number') return found(String(value));
    }
    let pattern: RegExp;
    try {
      pattern = new RegExp(pick, 'm');
    } catch (error) {
      return {version: null, raw, error: `pick ${JSON.stringify(pick)} is neither a path into the JSON answer nor a valid regular expression: ${(error as Error).message}`};
    }
    const match = pattern.exec(text);
    const value = match?.[1] ?? match?.[0];
    if (value?.trim()) return found(value);
    return {version: null, raw, error: `pick ${JSON.stringify(pick)} found nothing in the answer`};
  }
  if (isJson) {
    const value = (json as Record<string, unknown>).version;
    if (typeof value === 'string' && value.trim()) return found(value);
    if (typeof value === 'number') return found(String(value));
    return {version: null, raw, error: 'the JSON answer has no "version" field (the backend should give a pick)'};
  }
  const trimmed = text.trim();
  if (trimmed && !trimmed.includes('\n') && trimmed.length <= 100) return found(trimmed);
  const token = VERSION_TOKEN.exec(text)?.[0];
  if (token) return found(token);
  return {version: null, raw, error: 'no version found in the answer'};
}

/** Runs argv without a shell in its own process group, killed (the whole group) at the timeout. */
export const execVersionProbe: ProbeExec = (argv, timeoutMs) =>
  new Promise((resolveRun) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    let spawnError: string | undefined;
    const finish = (exitCode: number | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolveRun({exitCode, stdout, stderr, timedOut, ...(spawnError ? {spawnError} : {})});
    };
    const child = spawn(argv[0]!, argv.slice(1), {stdio: ['ignore', 'pipe', 'pipe'], detached: true});
    const keep = (s: string, d: string) => (s.length < 64_000 ? s + d : s);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout = keep(stdout, d)));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = keep(stderr, d)));
    child.on('error', (error: NodeJS.ErrnoException) => {
      spawnError = error.code ?? error.message;
      finish(null);
    });
    child.on('close', (code) => finish(code));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      // A grandchild may hold the pipes open: do not wait for 'close'.
      finish(null);
    }, timeoutMs);
  });

function describeFetchError(error: unknown, timeoutMs: number): string {
  const e = error as Error & {cause?: {code?: string; message?: string}};
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${timeoutMs / 1_000} s`;
  return e.cause?.code ?? e.cause?.message ?? e.message;
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

// ---------------------------------------------------------------------------------------------
// Model hash

/** One file of a hashed model folder. */
export interface ModelFileHash {
  /** Relative to the folder, `/`-separated. */
  path: string;
  sizeBytes: number;
  sha256: string;
}

/**
 * The identity of a model's content:
 * - `file`: sha256 of the file's bytes (for GGUF, the usual model-card checksum).
 * - `folder`: sha256 over the lines `<relative path>\0<size>\0<sha256>\n` of its files sorted by
 *   path (symbolic links followed, as in a Hugging Face snapshot; dot-folders such as `.git` and
 *   `.cache` skipped — they hold download bookkeeping, not weights), and the files themselves.
 * - `hub`: a hub id lem did not download; which revision the server fetched is unknown.
 * - `unavailable`: the path could not be read (`error` says why).
 */
export type ModelHash =
  | {kind: 'file'; path: string; sizeBytes: number; sha256: string}
  | {kind: 'folder'; path: string; sizeBytes: number; fileCount: number; sha256: string; files: ModelFileHash[]}
  | {kind: 'hub'; id: string; revision: null}
  | {kind: 'unavailable'; path: string; error: string};

export interface HashModelOptions {
  /**
   * Where `model-hashes.json` lives (e.g. `<stateDir>/cache`). Files of at least `cacheMinBytes`
   * are cached keyed by (real absolute path, size, mtimeMs): a 10 GB model is read once. Null or
   * absent: no cache.
   */
  cacheDir?: string | null;
  /** Default 16 MiB: smaller files are re-hashed (cheap) and keep the cache small. */
  cacheMinBytes?: number;
  /** Relative model paths resolve against this; default the working directory. */
  cwd?: string;
  /** Reads a file's bytes; injectable to count what was read. Default: a 1 MiB-chunk read stream. */
  openRead?: (path: string) => AsyncIterable<Uint8Array>;
}

export const MODEL_HASH_CACHE_FILE = 'model-hashes.json';
const DEFAULT_CACHE_MIN_BYTES = 16 * 1024 * 1024;
const MODEL_FILE_SUFFIX = /\.(gguf|ggml|bin|safetensors|pt|pth|onnx|engine|plan)$/i;
/** `org/name` or `name`, as Hugging Face ids are spelled. */
const HUB_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*(\/[A-Za-z0-9][A-Za-z0-9_.-]*)?$/;

interface CacheEntry {
  sizeBytes: number;
  mtimeMs: number;
  sha256: string;
  hashedAt: string;
}
interface CacheFile {
  version: 1;
  files: Record<string, CacheEntry>;
}

/**
 * Hashes a model given as a file path, a folder path or a hub id (see {@link ModelHash}).
 * A path that exists is hashed; one that does not is a hub id when it looks like one (and not
 * like a path: no leading `/`, `.` or `~`, no model-file suffix), else `unavailable`.
 */
export async function hashModel(model: string, options: HashModelOptions = {}): Promise<ModelHash> {
  const path = resolve(options.cwd ?? process.cwd(), model);
  let info: Stats;
  try {
    info = await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const looksLikePath = /^[/.~]/.test(model) || MODEL_FILE_SUFFIX.test(model);
    if (code === 'ENOENT' && !looksLikePath && HUB_ID.test(model)) return {kind: 'hub', id: model, revision: null};
    return {kind: 'unavailable', path, error: code ?? (error as Error).message};
  }
  const cache = new HashCache(options.cacheDir ?? null, options.cacheMinBytes ?? DEFAULT_CACHE_MIN_BYTES);
  const read = options.openRead ?? ((p: string) => createReadStream(p, {highWaterMark: 1 << 20}));
  try {
    if (info.isDirectory()) {
      const files = await listFolder(path);
      const hashed: ModelFileHash[] = [];
      for (const file of files) {
        const sha256 = await cache.hash(file.absolute, read);
        hashed.push({path: file.relative, sizeBytes: (await stat(file.absolute)).size, sha256});
      }
      const digest = createHash('sha256');
      for (const f of hashed) digest.update(`${f.path}\0${f.sizeBytes}\0${f.sha256}\n`);
      return {kind: 'folder', path, sizeBytes: hashed.reduce((sum, f) => sum + f.sizeBytes, 0), fileCount: hashed.length, sha256: digest.digest('hex'), files: hashed};
    }
    return {kind: 'file', path, sizeBytes: info.size, sha256: await cache.hash(path, read)};
  } catch (error) {
    return {kind: 'unavailable', path, error: (error as NodeJS.ErrnoException).code ?? (error as Error).message};
  } finally {
    cache.save();
  }
}

/** Regular files under `root` (links followed; dot-folders and link cycles skipped), sorted by relative path. */
async function listFolder(root: string): Promise<Array<{relative: string; absolute: string}>> {
  const out: Array<{relative: string; absolute: string}> = [];
  const visited = new Set<string>();
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const real = await realpath(dir);
    if (visited.has(real)) return;
    visited.add(real);
    for (const name of await readdir(dir)) {
      const absolute = join(dir, name);
      const info = await stat(absolute); // follows links; a broken link throws: the model is incomplete
      if (info.isDirectory()) {
        if (!name.startsWith('.')) await walk(absolute, `${prefix}${name}/`);
      } else if (info.isFile()) {
        out.push({relative: `${prefix}${name}`, absolute});
      }
    }
  };
  await walk(root, '');
  return out.sort((a, b) => (a.relative < b.relative ? -1 : a.relative > b.relative ? 1 : 0));
}

/** `<cacheDir>/model-hashes.json`: loaded once per hashModel call, merged and written atomically at its end. */
class HashCache {
  private entries: Record<string, CacheEntry> = {};
  private readonly added: Record<string, CacheEntry> = {};

  constructor(
    private readonly dir: string | null,
    private readonly minBytes: number,
  ) {
    this.entries = dir ? loadCache(join(dir, MODEL_HASH_CACHE_FILE)) : {};
  }

  async hash(path: string, read: (path: string) => AsyncIterable<Uint8Array>): Promise<string> {
    const before = await stat(path);
    const key = await realpath(path);
    const usable = this.dir !== null && before.size >= this.minBytes;
    const hit = usable ? this.entries[key] : undefined;
    if (hit && hit.sizeBytes === before.size && hit.mtimeMs === before.mtimeMs) return hit.sha256;
    const digest = createHash('sha256');
    for await (const chunk of read(path)) digest.update(chunk);
    const sha256 = digest.digest('hex');
    const after = await stat(path);
    // A file written while it was read has no trustworthy hash to remember.
    if (usable && after.size === before.size && after.mtimeMs === before.mtimeMs) {
      const entry = {sizeBytes: before.size, mtimeMs: before.mtimeMs, sha256, hashedAt: new Date().toISOString()};
      this.entries[key] = entry;
      this.added[key] = entry;
    }
    return sha256;
  }

  /** Writes new entries over a fresh read of the file (another lem may have added its own); failures are ignored. */
  save(): void {
    if (!this.dir || Object.keys(this.added).length === 0) return;
    const file = join(this.dir, MODEL_HASH_CACHE_FILE);
    try {
      mkdirSync(this.dir, {recursive: true});
      const merged: CacheFile = {version: 1, files: {...loadCache(file), ...this.added}};
      writeFileAtomic(file, `${JSON.stringify(merged, null, 2)}\n`);
    } catch {
      // a cache that cannot be written only costs a re-hash next time
    }
  }
}

function loadCache(file: string): Record<string, CacheEntry> {
  if (!existsSync(file)) return {};
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as Partial<CacheFile>;
    if (data.version !== 1 || typeof data.files !== 'object' || data.files === null) return {};
    const entries: Record<string, CacheEntry> = {};
    for (const [key, e] of Object.entries(data.files)) {
      if (typeof e?.sha256 === 'string' && /^[0-9a-f]{64}$/.test(e.sha256) && typeof e.sizeBytes === 'number' && typeof e.mtimeMs === 'number') entries[key] = e;
    }
    return entries;
  } catch {
    return {}; // a corrupt cache is ignored and rewritten
  }
}

// ---------------------------------------------------------------------------------------------
// Provenance record

export interface ProvenanceInput {
  lemVersion: string;
  /** Installed lem plugins (name as published, e.g. `@lem/backend-vllm`). */
  plugins: Array<{name: string; version: string}>;
  /** From {@link probeEngineVersion}; null or absent when there is no server to ask. */
  engine?: EngineVersion | null;
  /** The server's full command line as launched. */
  serverArgv?: string[] | null;
  /** From {@link hashModel}. */
  model?: ModelHash | null;
  /**
   * One record per measured GPU: the NVML probe's device (`NvmlDeviceInfo`: name, UUID, power
   * limit, persistence mode, architecture, max / application / default application / locked clocks,
   * and why each null one is null) with the driver version. Kept as given, copied deeply: a later
   * change to the probe's objects does not reach the record.
   */
  gpus?: Array<Record<string, unknown>>;
  /** The container the server ran in, when it ran in one. */
  container?: {image?: string | null; digest?: string | null} | null;
  /** Default: {@link environmentInfo}(). */
  environment?: EnvironmentInfo;
  /** Hides secrets (e.g. the settings' Redactor's `text`) in the argv and the engine's answer. */
  redact?: (text: string) => string;
  /** Where a Slurm job's variables are read (default: this process's environment). */
  processEnv?: NodeJS.ProcessEnv;
}

/** The `provenance` object of result.json. Plain data. */
export interface Provenance {
  lem: {version: string};
  /** Sorted by name. */
  plugins: Array<{name: string; version: string}>;
  engine: EngineVersion | null;
  server: {argv: string[]} | null;
  model: ModelHash | null;
  host: {cpuModel: string; logicalCpus: number; memoryBytes: number; os: string | null; platform: string; kernel: string; node: string; hostname: string};
  gpus: Array<Record<string, unknown>>;
  container: {image: string | null; digest: string | null} | null;
  /** The Slurm job the run ran in (`lem campaign run --executor slurm`), from the job's environment; null outside one. */
  slurm: SlurmProvenance | null;
}

export interface SlurmProvenance {
  jobId: string;
  /** The node's name as Slurm knows it (SLURMD_NODENAME). */
  node: string | null;
  partition: string | null;
  cluster: string | null;
  /** The node's GPU indices the job held (SLURM_JOB_GPUS). */
  jobGpus: string | null;
}

/** The Slurm job of this process, from the variables Slurm sets in every job; null outside one. */
export function slurmProvenance(env: NodeJS.ProcessEnv): SlurmProvenance | null {
  if (!env.SLURM_JOB_ID) return null;
  return {jobId: env.SLURM_JOB_ID, node: env.SLURMD_NODENAME ?? null, partition: env.SLURM_JOB_PARTITION ?? null, cluster: env.SLURM_CLUSTER_NAME ?? null, jobGpus: env.SLURM_JOB_GPUS ?? null};
}

/**
 * Words that make an argv flag's value a secret even when not given as `${ENV}` (`--api-key X`,
 * `--hf-token=X`). Whole words only: `--tokenizer` and `--max-num-batched-tokens` are not secrets.
 */
const SECRET_WORDS = new Set(['token', 'secret', 'password', 'passwd', 'apikey', 'authorization', 'auth']);

function isSecretFlag(flag: string): boolean {
  if (!/^--?[A-Za-z]/.test(flag)) return false;
  const words = flag.replace(/^-+/, '').toLowerCase().split(/[-_.]/);
  return words.some((w, i) => SECRET_WORDS.has(w) || (w === 'api' && words[i + 1] === 'key'));
}

/** Gathers the provenance of one run into a plain object for result.json. */
export function collectProvenance(input: ProvenanceInput): Provenance {
  const env = input.environment ?? environmentInfo();
  const redact = input.redact ?? ((text: string) => text);
  return {
    lem: {version: input.lemVersion},
    plugins: input.plugins.map((p) => ({name: p.name, version: p.version})).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    engine: input.engine ? {...input.engine, ...(input.engine.raw === undefined ? {} : {raw: redact(input.engine.raw)})} : null,
    server: input.serverArgv ? {argv: redactArgv(input.serverArgv).map(redact)} : null,
    model: input.model ?? null,
    host: {cpuModel: env.cpuModel, logicalCpus: env.logicalCpus, memoryBytes: env.memoryBytes, os: env.osRelease, platform: env.platform, kernel: env.kernel, node: env.node, hostname: env.hostname},
    gpus: (input.gpus ?? []).map((g) => structuredClone(g)),
    container: input.container ? {image: input.container.image ?? null, digest: input.container.digest ?? null} : null,
    slurm: slurmProvenance(input.processEnv ?? process.env),
  };
}

/** Replaces the values of secret-looking flags (`--api-key X`, `--api-key=X`) with `[redacted]`. */
export function redactArgv(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    if (eq > 0 && isSecretFlag(arg.slice(0, eq))) {
      out.push(`${arg.slice(0, eq)}=[redacted]`);
    } else if (isSecretFlag(arg) && i + 1 < argv.length && !argv[i + 1]!.startsWith('-')) {
      out.push(arg, '[redacted]');
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}
