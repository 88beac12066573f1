/**
 * Test harness: real server processes on a generated tiny model, real HTTP. No mocks.
 * (Under __fixtures__ so the build skips it.)
 */
import {execFileSync, spawn, type ChildProcess} from 'node:child_process';
import {mkdtempSync, readdirSync, rmSync, statSync} from 'node:fs';
import {request} from 'node:http';
import {createRequire} from 'node:module';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';

export const PLUGIN_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SERVER_MAIN = join(PLUGIN_ROOT, 'dist/server/main.js');

function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, {withFileTypes: true})) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtimeMs(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** The server tests run dist/: build it when it is missing or older than the sources. */
export function ensureBuilt(): void {
  let builtMs = 0;
  try {
    statSync(SERVER_MAIN);
    // tsc -b rewrites its build info on every build, but only the outputs that changed.
    builtMs = statSync(join(PLUGIN_ROOT, 'dist/.tsbuildinfo')).mtimeMs;
  } catch {
    // not built yet
  }
  if (builtMs >= newestMtimeMs(join(PLUGIN_ROOT, 'src'))) return;
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-b', PLUGIN_ROOT], {stdio: 'inherit'});
}

export function tempDir(prefix = 'lem-llamacpp-'): {path: string; remove: () => void} {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return {path, remove: () => rmSync(path, {recursive: true, force: true})};
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<Exit>;
  /** Sends `signal`, waits for the exit, and says how long it took. */
  stop(signal?: NodeJS.Signals): Promise<Exit & {durationMs: number}>;
}

/** Spawns `node dist/server/main.js ...args`; resolves once it prints its `listening on` line. */
export async function spawnServer(args: string[], timeoutMs = 30_000): Promise<ServerProcess> {
  const child = spawn(process.execPath, [SERVER_MAIN, ...args], {stdio: ['ignore', 'pipe', 'pipe']});
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<Exit>((resolve) => child.on('exit', (code, signal) => resolve({code, signal})));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server not listening after ${timeoutMs} ms\nstdout: ${out}\nstderr: ${err}`)), timeoutMs);
    const check = () => {
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', check);
    void exited.then((exit) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${JSON.stringify(exit)}) before listening\nstdout: ${out}\nstderr: ${err}`));
    });
  });
  return {
    child,
    url,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      const started = performance.now();
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const exit = await exited;
      return {...exit, durationMs: performance.now() - started};
    },
  };
}

/** Runs the server with arguments expected to make it exit by itself; kills it after `timeoutMs`. */
export async function runServerToExit(args: string[], timeoutMs = 30_000): Promise<Exit & {stdout: string; stderr: string}> {
  const child = spawn(process.execPath, [SERVER_MAIN, ...args], {stdio: ['ignore', 'pipe', 'pipe']});
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exit = await new Promise<Exit>((resolve) => child.on('exit', (code, signal) => resolve({code, signal})));
  clearTimeout(timer);
  return {...exit, stdout, stderr};
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** The OpenAI shapes the tests read (completions, chat, chunks, errors), loosely. */
export interface ApiBody {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: Array<{
    index: number;
    text?: string;
    message?: {role: string; content: string};
    delta?: {role?: string; content?: string};
    finish_reason: string | null;
  }>;
  usage?: Usage | null;
  error?: {message: string; type: string; code: string; param?: string | null};
  [key: string]: unknown;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** performance.now() of each received body piece, with its text. */
  pieces: Array<{atMs: number; text: string}>;
}

/** One HTTP request with the raw body kept. `body` undefined → GET; a string is sent as is. */
export function http(
  url: string,
  body?: unknown,
  options: {method?: string; onPiece?: (text: string, req: ReturnType<typeof request>) => void} = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = request(url, {
      method: options.method ?? (payload === undefined ? 'GET' : 'POST'),
      headers: payload === undefined ? {} : {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload)},
    });
    req.on('error', reject);
    req.on('response', (res) => {
      res.setEncoding('utf8');
      const pieces: Array<{atMs: number; text: string}> = [];
      res.on('data', (text: string) => {
        pieces.push({atMs: performance.now(), text});
        options.onPiece?.(text, req);
      });
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('response aborted')));
      res.on('end', () => resolve({status: res.statusCode ?? 0, headers: res.headers, text: pieces.map((p) => p.text).join(''), pieces}));
    });
    req.end(payload);
  });
}

export async function json<T = ApiBody>(url: string, body?: unknown): Promise<{status: number; body: T}> {
  const res = await http(url, body);
  return {status: res.status, body: JSON.parse(res.text) as T};
}

/** Parses raw SSE text strictly: every event is `data: ...` followed by a blank line. */
export function parseSse(raw: string): {events: ApiBody[]; done: boolean; doneIsLast: boolean} {
  if (!raw.endsWith('\n\n')) throw new Error(`SSE stream does not end with a blank line: ${JSON.stringify(raw.slice(-80))}`);
  const blocks = raw.slice(0, -2).split('\n\n');
  const events: ApiBody[] = [];
  let done = false;
  let doneIsLast = false;
  blocks.forEach((block, i) => {
    if (!block.startsWith('data: ') || block.includes('\n')) throw new Error(`malformed SSE event: ${JSON.stringify(block)}`);
    const data = block.slice('data: '.length);
    if (data === '[DONE]') {
      done = true;
      doneIsLast = i === blocks.length - 1;
      return;
    }
    events.push(JSON.parse(data) as ApiBody);
  });
  return {events, done, doneIsLast};
}
