/**
 * A real npm registry (Verdaccio) on 127.0.0.1 for the install tests (`lem plugins install`,
 * `npm install -g @lem/cli`), and the helpers that pack and publish workspace packages into it.
 *
 * Contract of the registry's configuration:
 * - `@lem/*` is served only from what the test publishes: no uplink for that scope, so a package
 *   of the same name on the public registry can never stand in for the one under test. Its storage
 *   is a temporary folder of this run, removed by `stop()`.
 * - Every other package comes through an uplink to https://registry.npmjs.org/ and is kept in
 *   `cacheDir` (default `<repo>/.cache/verdaccio-storage`, git-ignored) between runs, so a second
 *   run downloads nothing it already has. `@lem` never lands there.
 * - Anyone may publish `@lem/*` (npm itself refuses to publish without some token; any string does).
 */
import {spawn, execFileSync, type ChildProcess} from 'node:child_process';
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {createServer} from 'node:net';
import {tmpdir} from 'node:os';
import {dirname, join, relative, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url)).replace(/\/$/, '');
export const DEFAULT_CACHE_DIR = join(REPO_ROOT, '.cache', 'verdaccio-storage');
const UPLINK_URL = 'https://registry.npmjs.org/';

export interface LocalRegistry {
  /** Base URL with a trailing slash, e.g. `http://127.0.0.1:41234/`. */
  url: string;
  /** This run's storage, holding only the `@lem` packages published into it. */
  storageDir: string;
  /** Everything Verdaccio has printed so far, for failure messages. */
  log(): string;
  /** Stops Verdaccio's whole process group and removes this run's folder; safe to call twice. */
  stop(): Promise<void>;
}

export interface RegistryOptions {
  cacheDir?: string;
  /** How long Verdaccio has to answer `/-/ping` after it is started. */
  readyTimeoutMs?: number;
}

/** Verdaccio's YAML configuration; `storage` is this run's folder, `cacheStorage` is relative to it. */
export function verdaccioConfig(options: {storage: string; cacheStorage: string; htpasswd: string}): string {
  return [
    `storage: ${JSON.stringify(options.storage)}`,
    'auth:',
    '  htpasswd:',
    `    file: ${JSON.stringify(options.htpasswd)}`,
    '    max_users: -1',
    'uplinks:',
    '  npmjs:',
    `    url: ${UPLINK_URL}`,
    '    timeout: 30s',
    // Metadata already cached is trusted for a day: a rerun asks npmjs nothing it has.
    '    maxage: 1d',
    'packages:',
    // First match wins: @lem/* must come before ** so that it never gets the uplink.
    "  '@lem/*':",
    '    access: $all',
    '    publish: $all',
    '    unpublish: $all',
    "  '**':",
    '    access: $all',
    '    publish: $authenticated',
    '    proxy: npmjs',
    // Verdaccio joins a package's storage onto the main one, so the cache is given relative to it.
    `    storage: ${JSON.stringify(options.cacheStorage)}`,
    'web:',
    '  enable: false',
    'log: {type: stdout, format: pretty, level: http}',
    '',
  ].join('\n');
}

/** Starts Verdaccio and resolves once it answers; rejects (with its log) if it does not. */
export async function startRegistry(options: RegistryOptions = {}): Promise<LocalRegistry> {
  const cacheDir = resolve(options.cacheDir ?? DEFAULT_CACHE_DIR);
  mkdirSync(cacheDir, {recursive: true});
  // Defensive: an older configuration may have cached @lem packages here; they must not be served.
  rmSync(join(cacheDir, '@lem'), {recursive: true, force: true});

  const root = mkdtempSync(join(tmpdir(), 'lem-registry-'));
  const storage = join(root, 'storage');
  mkdirSync(storage);
  const configFile = join(root, 'config.yaml');
  writeFileSync(configFile, verdaccioConfig({storage, cacheStorage: relative(storage, cacheDir), htpasswd: join(root, 'htpasswd')}));

  let lastError: Error | undefined;
  // The free port is found by binding port 0 and releasing it: another process may take it in
  // between, so a failed start on a port already in use is retried on a new one.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const registry = launch(configFile, port, root, storage, options.readyTimeoutMs ?? 30_000);
    try {
      await registry.ready;
      return registry.handle;
    } catch (error) {
      await registry.handle.stop();
      lastError = error as Error;
      if (!/EADDRINUSE/.test(registry.handle.log())) break;
    }
  }
  throw lastError ?? new Error('Verdaccio did not start');
}

function launch(configFile: string, port: number, root: string, storage: string, readyTimeoutMs: number): {ready: Promise<void>; handle: LocalRegistry} {
  const url = `http://127.0.0.1:${port}/`;
  let output = '';
  // Its own process group, so that stop() ends Verdaccio and anything it started.
  const child: ChildProcess = spawn(process.execPath, [verdaccioBin(), '--config', configFile, '--listen', `127.0.0.1:${port}`], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {...process.env, NO_COLOR: '1'},
  });
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  let stopped = false;

  const handle: LocalRegistry = {
    url,
    storageDir: storage,
    log: () => output,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null && child.pid) {
        killGroup(child.pid, 'SIGTERM');
        const timer = setTimeout(() => killGroup(child.pid!, 'SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(root, {recursive: true, force: true});
    },
  };

  const ready = (async () => {
    const deadline = Date.now() + readyTimeoutMs;
    let dead = false;
    void exited.then(() => (dead = true));
    while (Date.now() < deadline) {
      if (dead) throw new Error(`Verdaccio exited (code ${child.exitCode}, signal ${child.signalCode}) before answering on ${url}:\n${output}`);
      try {
        const response = await fetch(`${url}-/ping`, {signal: AbortSignal.timeout(2000)});
        if (response.ok) return;
      } catch {
        // Not listening yet.
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`Verdaccio did not answer ${url}-/ping within ${readyTimeoutMs} ms:\n${output}`);
  })();
  return {ready, handle};
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

function verdaccioBin(): string {
  // Verdaccio is a root devDependency; its package.json names the bin.
  const require = createRequire(join(REPO_ROOT, 'package.json'));
  const pjsonPath = require.resolve('verdaccio/package.json');
  const pjson = JSON.parse(readFileSync(pjsonPath, 'utf8')) as {bin: string | Record<string, string>};
  const bin = typeof pjson.bin === 'string' ? pjson.bin : pjson.bin.verdaccio!;
  return join(dirname(pjsonPath), bin);
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

/**
 * `pnpm pack` of a workspace package into `destination`, which rewrites `workspace:` ranges into
 * the real versions as a publish would. Returns the tarball's path.
 */
export function packWorkspacePackage(packageDir: string, destination: string): string {
  const out = execFileSync('pnpm', ['pack', '--pack-destination', destination, '--json'], {cwd: packageDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']});
  // A prepack script's own stdout (oclif's "wrote manifest to …") comes before pnpm's JSON.
  return (JSON.parse(out.slice(out.search(/^\{$/m))) as {filename: string}).filename;
}

/** Every publishable workspace package's folder, each after the workspace packages it depends on. */
export function workspacePackageDirs(): string[] {
  const listed = JSON.parse(execFileSync('pnpm', ['ls', '--recursive', '--depth', '-1', '--json'], {cwd: REPO_ROOT, encoding: 'utf8'})) as Array<{name: string; path: string; private: boolean}>;
  const dirOf = new Map(listed.filter((p) => !p.private).map((p) => [p.name, p.path]));
  const ordered: string[] = [];
  const seen = new Set<string>();
  const visit = (dir: string) => {
    if (seen.has(dir)) return;
    seen.add(dir);
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {dependencies?: Record<string, string>};
    for (const name of Object.keys(manifest.dependencies ?? {})) if (dirOf.has(name)) visit(dirOf.get(name)!);
    ordered.push(dir);
  };
  for (const dir of dirOf.values()) visit(dir);
  return ordered;
}

/** {@link packWorkspacePackage} of every workspace package, in dependency order (the order to publish them in). */
export function packWorkspace(destination: string): Array<{dir: string; tarball: string}> {
  return workspacePackageDirs().map((dir) => ({dir, tarball: packWorkspacePackage(dir, destination)}));
}

/** The package.json inside a packed tarball. */
export function packedManifest(tarball: string): {name: string; version: string; dependencies?: Record<string, string>} & Record<string, unknown> {
  return JSON.parse(packedFile(tarball, 'package.json')) as ReturnType<typeof packedManifest>;
}

/** The text of one file inside a packed tarball, by its path in the package. */
export function packedFile(tarball: string, path: string): string {
  return execFileSync('tar', ['-xzOf', tarball, `package/${path}`], {encoding: 'utf8'});
}

/** Every file's path inside a packed tarball, relative to the package. */
export function packedPaths(tarball: string): string[] {
  return execFileSync('tar', ['-tzf', tarball], {encoding: 'utf8'}).split('\n').filter(Boolean).map((path) => path.replace(/^package\//, ''));
}

/** Every `workspace:` range left in a manifest's dependency fields, as `field.name: range`. */
export function workspaceRanges(manifest: Record<string, unknown>): string[] {
  const fields = ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies'];
  return fields.flatMap((field) =>
    Object.entries((manifest[field] ?? {}) as Record<string, string>)
      .filter(([, range]) => range.startsWith('workspace:'))
      .map(([name, range]) => `${field}.${name}: ${range}`),
  );
}

/**
 * `npm publish <tarball>` into the local registry, with npm's cache and config in `npmHome` so that
 * neither the user's `~/.npmrc` nor `~/.npm` is read or written.
 */
export function publishTarball(tarball: string, registry: LocalRegistry, npmHome: string): void {
  const host = registry.url.replace(/^https?:/, '');
  execFileSync('npm', ['publish', tarball, '--registry', registry.url, `--${host}:_authToken=anonymous`], {
    cwd: npmHome,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {...withoutNpmConfig(process.env), HOME: npmHome, npm_config_cache: join(npmHome, 'npm-cache'), npm_config_update_notifier: 'false'},
  });
}

/** The environment without any `npm_config_*` variable (a parent pnpm or npm may have set some). */
export function withoutNpmConfig(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !/^npm_config_/i.test(key)));
}

/** Any host but 127.0.0.1 goes through this proxy, and nothing listens on port 9 (discard). */
export const DEAD_PROXY = 'http://127.0.0.1:9';

/**
 * The environment overrides under which npm's HOME, cache and config are `home`'s and npm may reach
 * 127.0.0.1 only: a package fetched from anywhere else fails the install. Merged over
 * `process.env`: whatever npm settings the test runner (pnpm, npm) passed down are unset.
 */
export function npmEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(Object.keys(process.env).filter((k) => /^npm_config_/i.test(k)).map((k) => [k, undefined]));
  return {
    ...inherited,
    HOME: home,
    npm_config_cache: join(home, 'npm-cache'),
    npm_config_update_notifier: 'false',
    npm_config_proxy: DEAD_PROXY,
    npm_config_https_proxy: DEAD_PROXY,
    npm_config_noproxy: '127.0.0.1',
    HTTP_PROXY: undefined,
    HTTPS_PROXY: undefined,
    http_proxy: undefined,
    https_proxy: undefined,
    ...extra,
  };
}

/**
 * {@link startRegistry}, and a check that its uplink to npmjs serves `zod` (which also warms the
 * cache) before anything is installed through it. Where either fails, `unavailable` says why; under
 * CI=true it throws instead, since there a missing registry fails the tests rather than skipping them.
 */
export async function startRegistryForTests(options: RegistryOptions = {}): Promise<{registry: LocalRegistry} | {unavailable: string}> {
  let registry: LocalRegistry | undefined;
  try {
    registry = await startRegistry(options);
    const zod = await fetch(`${registry.url}zod`, {signal: AbortSignal.timeout(30_000)});
    if (!zod.ok) throw new Error(`the registry's uplink to npmjs did not serve zod (HTTP ${zod.status}):\n${registry.log()}`);
    return {registry};
  } catch (error) {
    await registry?.stop();
    const reason = `no local npm registry: ${(error as Error).message.split('\n')[0]}`;
    if (process.env.CI === 'true') throw new Error(`CI=true: ${reason}`, {cause: error});
    return {unavailable: reason};
  }
}
