import {spawn, spawnSync} from 'node:child_process';
import {mkdtempSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';

export const LEM_BIN = fileURLToPath(new URL('../bin/run.js', import.meta.url));

export interface LemRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real `lem` binary in a child process, with oclif's data, config and cache folders in
 * `home` so linked plugins never leak between tests or into the user's own.
 */
export function lem(args: string[], options: {cwd?: string; home?: string; env?: NodeJS.ProcessEnv} = {}): LemRun {
  const home = options.home ?? freshHome();
  const result = spawnSync(process.execPath, [LEM_BIN, ...args], {
    cwd: options.cwd ?? home,
    encoding: 'utf8',
    timeout: 60_000,
    env: lemEnv(home, options.env),
  });
  return {status: result.status, stdout: result.stdout, stderr: result.stderr};
}

/**
 * `lem` as {@link lem} runs it, but without blocking this process: a test that serves HTTP to lem
 * (a webhook receiver) must keep its event loop running while lem runs.
 */
export function lemAsync(args: string[], options: {cwd?: string; home?: string; env?: NodeJS.ProcessEnv} = {}): Promise<LemRun> {
  const home = options.home ?? freshHome();
  const child = spawn(process.execPath, [LEM_BIN, ...args], {cwd: options.cwd ?? home, env: lemEnv(home, options.env)});
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  return new Promise((resolve) => child.on('close', (status) => (clearTimeout(timer), resolve({status, stdout, stderr}))));
}

/** The environment lem runs with in tests: oclif's folders and the device locks in `home`. */
export function lemEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    LEM_DATA_DIR: join(home, 'data'),
    LEM_CONFIG_DIR: join(home, 'config'),
    LEM_CACHE_DIR: join(home, 'cache'),
    // Device locks are machine-wide by default; tests keep theirs per home.
    LEM_LOCK_DIR: join(home, 'locks'),
    NO_COLOR: '1',
    ...extra,
  };
}

export function freshHome(): string {
  return mkdtempSync(join(tmpdir(), 'lem-cli-'));
}

/**
 * Writes a plugin outside the workspace, in plain JavaScript with no dependencies: its schema is
 * a hand-written Standard Schema, as a plugin built with another validator (or none) would have.
 */
export function externalPlugin(name: string, hookBody: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'lem-ext-plugin-'));
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({name, version: '3.2.1', type: 'module', oclif: {hooks: {'lem:register': './hook.js'}}}, null, 2),
  );
  writeFileSync(join(dir, 'hook.js'), hookBody);
  return dir;
}

export const echoBackend = (id: string) => `
const schema = {
  '~standard': {
    version: 1,
    vendor: 'hand',
    validate(value) {
      const v = value ?? {};
      if (typeof v !== 'object' || Array.isArray(v)) return {issues: [{message: 'expected a mapping'}]};
      if (v.flavour !== undefined && typeof v.flavour !== 'string') return {issues: [{message: 'flavour must be text', path: ['flavour']}]};
      return {value: {flavour: v.flavour ?? 'plain'}};
    },
  },
};
export default async function register(options) {
  if (options.apiVersion !== 1) return [];
  return [{
    kind: 'backend',
    id: '${id}',
    displayName: 'Echo (${id})',
    configSchema: schema,
    jsonSchema: {type: 'object', properties: {flavour: {type: 'string'}}, additionalProperties: false},
    gpu: 'none',
    local: true,
    server: (cfg, ctx) => ({argv: ['echo-server', '--port', String(ctx.port)], env: {}, port: ctx.port, readiness: {healthPath: '/health', timeoutS: 5}}),
  }];
}
`;

/** A notifier plugin in plain JavaScript whose settings need a `webhook_url`. */
export const echoNotifier = (id: string) => `
export default async function register() {
  return [{
    kind: 'notifier',
    id: '${id}',
    displayName: 'Echo notifier',
    configSchema: {'~standard': {version: 1, vendor: 'hand', validate(v) {
      if (typeof v?.webhook_url !== 'string') return {issues: [{message: 'webhook_url is required', path: ['webhook_url']}]};
      return {value: {webhook_url: v.webhook_url}};
    }}},
    jsonSchema: {type: 'object', properties: {webhook_url: {type: 'string'}}, required: ['webhook_url']},
    render: (event, settings) => ({url: settings.webhook_url, body: {text: event.title}}),
  }];
}
`;
