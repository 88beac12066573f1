/**
 * `npm install -g @lem/cli` end to end, as a user would run it. Every workspace package is packed
 * (`pnpm pack`, which runs its prepack) and published, in dependency order, to a real npm registry
 * (Verdaccio on 127.0.0.1, __fixtures__/registry.ts). npm installs @lem/cli into a temporary prefix,
 * with the registry named only in the user's ~/.npmrc, and that install's `bin/lem` runs in a folder
 * outside the repository: --version, backends, init, config, and the quickstart experiment on real
 * llama.cpp. npm may reach 127.0.0.1 only (a dead proxy for every other host), so no package comes
 * from anywhere but the registry, and a postinstall that downloaded anything would fail the install.
 *
 * node-llama-cpp's prebuilt binaries weigh ~630 MB, so npm's cache is kept between runs in
 * <repo>/.cache/npm (git-ignored), as Verdaccio's uplink cache is in .cache/verdaccio-storage; the
 * install time is printed with whether each cache was empty. Under CI=true a registry that does not
 * start, or an uplink that does not answer, fails the file.
 */
import {spawnSync} from 'node:child_process';
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join, relative} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {lemEnv, type LemRun} from './helpers.js';
import {DEFAULT_CACHE_DIR, npmEnv, packedFile, packedManifest, packedPaths, packWorkspace, publishTarball, REPO_ROOT, startRegistryForTests, workspaceRanges, type LocalRegistry} from './__fixtures__/registry.js';

const NPM_CACHE = join(REPO_ROOT, '.cache', 'npm');
const CLI_VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'packages/cli/package.json'), 'utf8')) as {version: string}).version;
const ENGINES = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {engines: {node: string}}).engines;
const LICENSE_TEXT = readFileSync(join(REPO_ROOT, 'LICENSE'), 'utf8');
// Read before the registry starts, which warms its cache.
const coldCaches = {npm: isEmpty(NPM_CACHE), registry: isEmpty(DEFAULT_CACHE_DIR)};

interface Packed {
  dir: string;
  tarball: string;
  manifest: ReturnType<typeof packedManifest>;
  files: string[];
}

const root = mkdtempSync(join(tmpdir(), 'lem-install-'));
const home = join(root, 'home');
const prefix = join(root, 'prefix');
// Where the user runs lem: outside the repository, so nothing resolves from its node_modules.
const project = join(root, 'project');
let packed: Packed[] = [];
let registry: LocalRegistry | undefined;
let unavailable: string | undefined;

beforeAll(() => {
  for (const dir of [home, prefix, project]) mkdirSync(dir);
  packed = packWorkspace(mkdtempSync(join(root, 'packs-'))).map(({dir, tarball}) => ({dir, tarball, manifest: packedManifest(tarball), files: packedPaths(tarball)}));
}, 300_000);

afterAll(async () => {
  await registry?.stop();
  rmSync(root, {recursive: true, force: true});
});

/** The quickstart file of the README's install section: the body of its `cat > quickstart.yaml <<'YAML'`. */
function readmeQuickstart(): string {
  const match = /^cat > quickstart\.yaml <<'YAML'\n([\s\S]*?)^YAML$/m.exec(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8'));
  if (!match) throw new Error("README.md has no `cat > quickstart.yaml <<'YAML'` block");
  return match[1]!;
}

function isEmpty(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0;
}

/** A user's environment for npm and lem: npm's warm cache, no NODE_PATH or NODE_OPTIONS, PATH without the repository's folders. */
function userEnv(): NodeJS.ProcessEnv {
  const path = (process.env.PATH ?? '').split(':').filter((dir) => !dir.startsWith(REPO_ROOT)).join(':');
  return lemEnv(home, {...npmEnv(home, {npm_config_cache: NPM_CACHE}), PATH: path, NODE_PATH: undefined, NODE_OPTIONS: undefined});
}

/** `npm install -g @lem/cli` into the prefix; prints how long it took and how cold the caches were. */
function installCli(): void {
  const t0 = performance.now();
  const run = spawnSync('npm', ['install', '--global', '--prefix', prefix, '--no-fund', '--no-audit', '@lem/cli'], {cwd: home, encoding: 'utf8', env: userEnv(), timeout: 570_000});
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`npm install -g @lem/cli: ${seconds} s (npm cache ${coldCaches.npm ? 'empty' : 'warm'}, registry cache ${coldCaches.registry ? 'empty' : 'warm'})`);
  if (run.status !== 0) throw new Error(`npm install -g @lem/cli exited ${run.status} (${run.signal ?? 'no signal'}):\n${run.stderr}\n${run.stdout}\n${registry!.log().slice(-4000)}`);
}

/** The installed `bin/lem`, run as a user would from the project folder. */
function lem(args: string[], timeoutMs = 60_000): LemRun {
  const run = spawnSync(join(prefix, 'bin', 'lem'), args, {cwd: project, encoding: 'utf8', env: userEnv(), timeout: timeoutMs});
  return {status: run.status, stdout: run.stdout, stderr: run.stderr};
}

function json<T>(run: LemRun): T {
  expect(run.status, run.stderr + run.stdout).toBe(0);
  return JSON.parse(run.stdout) as T;
}

/** Every file a package.json names as something to load or run: bins, exports, hooks, the oclif manifest. */
function namedFiles(manifest: Packed['manifest']): string[] {
  const pjson = manifest as {bin?: Record<string, string>; main?: string; types?: string; exports?: unknown; oclif?: {commands?: unknown; hooks?: Record<string, string | string[]>}};
  return [
    ...Object.values(pjson.bin ?? {}),
    ...[pjson.main, pjson.types].filter((path): path is string => path !== undefined),
    ...exportTargets(pjson.exports),
    ...Object.values(pjson.oclif?.hooks ?? {}).flat(),
    ...(pjson.oclif?.commands ? ['oclif.manifest.json'] : []),
  ].map((path) => path.replace(/^\.\//, ''));
}

/** The files an `exports` map points at: its string leaves, under whatever subpaths and conditions. */
function exportTargets(exports: unknown): string[] {
  if (typeof exports === 'string') return [exports];
  return Object.values(exports ?? {}).flatMap(exportTargets);
}

/** A file a user's lem may load or read: the built JavaScript and types, a plugin's Docker build context, docs (an engine's pinned CLI reference, which its README cites) and licence. */
const RUNS = /^(package\.json|README\.md|LICENSE|oclif\.manifest\.json|docker\/.+|reference\/[^/]+\.txt|dist\/(?!(.*\/)?__fixtures__\/)(?!.*\.test\.).+\.(js|d\.ts))$/;

function filesIn(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir, {recursive: true, encoding: 'utf8'}).filter((path) => statSync(join(dir, path)).isFile()) : [];
}

describe('the packed workspace packages', () => {
  it("are every package under packages/ and plugins/, each with real versions, the MIT licence and the workspace's engines", () => {
    const folders = ['packages', 'plugins'].flatMap((group) => readdirSync(join(REPO_ROOT, group)).map((name) => `${group}/${name}`));
    expect(packed.map((p) => relative(REPO_ROOT, p.dir)).sort()).toEqual(folders.filter((dir) => existsSync(join(REPO_ROOT, dir, 'package.json'))).sort());
    for (const {tarball, manifest, files} of packed) {
      expect(workspaceRanges(manifest), manifest.name).toEqual([]);
      expect(JSON.stringify(manifest), manifest.name).not.toContain('workspace:');
      expect(manifest, manifest.name).toMatchObject({license: 'MIT', engines: ENGINES});
      expect(files, manifest.name).toContain('LICENSE');
      expect(packedFile(tarball, 'LICENSE'), manifest.name).toBe(LICENSE_TEXT);
    }
  });

  it('are published after the workspace packages they depend on', () => {
    const names = packed.map((p) => p.manifest.name);
    for (const [index, {manifest}] of packed.entries()) {
      for (const dependency of Object.keys(manifest.dependencies ?? {}).filter((name) => names.includes(name))) {
        expect(names.indexOf(dependency), `${manifest.name} needs ${dependency}`).toBeLessThan(index);
      }
    }
  });

  it('hold every file their package.json names, their whole Docker build context, and a manifest of this version', () => {
    for (const {dir, tarball, manifest, files} of packed) {
      expect(files, manifest.name).toEqual(expect.arrayContaining(namedFiles(manifest)));
      expect(files, manifest.name).toEqual(expect.arrayContaining(filesIn(join(dir, 'docker')).map((path) => `docker/${path}`)));
      if (!files.includes('oclif.manifest.json')) continue;
      const oclif = JSON.parse(packedFile(tarball, 'oclif.manifest.json')) as {version: string; commands: object};
      expect(oclif.version, manifest.name).toBe(manifest.version);
      expect(Object.keys(oclif.commands).length, manifest.name).toBeGreaterThan(0);
    }
  });

  it('hold nothing but what runs: no sources, tests, fixtures, source maps or build info', () => {
    for (const {manifest, files} of packed) {
      const bins = Object.values((manifest as {bin?: Record<string, string>}).bin ?? {}).map((path) => path.replace(/^\.\//, ''));
      expect(files.filter((path) => !RUNS.test(path) && !bins.includes(path)), manifest.name).toEqual([]);
    }
  });
});

describe('npm install -g @lem/cli from a registry, then lem outside the repository', () => {
  const cliRoot = join(prefix, 'lib', 'node_modules', '@lem', 'cli');

  beforeAll(async () => {
    const started = await startRegistryForTests();
    if ('unavailable' in started) {
      unavailable = started.unavailable;
      return;
    }
    registry = started.registry;
    const publishHome = join(root, 'publish-home');
    mkdirSync(publishHome);
    for (const {tarball} of packed) publishTarball(tarball, registry, publishHome);
    writeFileSync(join(home, '.npmrc'), `registry=${registry.url}\n`);
    installCli();
  }, 600_000);

  it('installs @lem/cli and its @lem packages as copies in the prefix, and node-llama-cpp builds nothing', (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    expect(realpathSync(join(prefix, 'bin', 'lem'))).toBe(realpathSync(join(cliRoot, 'bin', 'run.js')));
    const cli = packed.find((p) => p.manifest.name === '@lem/cli')!.manifest;
    const lemDependencies = Object.keys(cli.dependencies ?? {}).filter((name) => name.startsWith('@lem/'));
    expect(readdirSync(join(cliRoot, 'node_modules', '@lem')).map((name) => `@lem/${name}`).sort()).toEqual(lemDependencies.sort());
    for (const name of ['@lem/cli', ...lemDependencies]) {
      const dir = name === '@lem/cli' ? cliRoot : join(cliRoot, 'node_modules', name);
      expect(realpathSync(dir).startsWith(realpathSync(prefix)), name).toBe(true);
      const installed = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {version: string};
      expect(installed.version, name).toBe(packed.find((p) => p.manifest.name === name)!.manifest.version);
    }
    // Its postinstall found a prebuilt binary that loads: no llama.cpp sources fetched, nothing compiled.
    const llama = join(cliRoot, 'node_modules', 'node-llama-cpp', 'llama');
    expect(existsSync(join(llama, 'localBuilds'))).toBe(false);
    expect(existsSync(join(llama, 'llama.cpp'))).toBe(false);
  });

  it("lem --version is @lem/cli's version", (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    const run = lem(['--version']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.split(' ')[0]).toBe(`@lem/cli/${CLI_VERSION}`);
  });

  it('lem backends lists the bundled backends and notifiers with no problems, every plugin loaded from the prefix', (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    const listed = json<{backends: Array<{id: string}>; notifiers: Array<{id: string}>; problems: unknown[]}>(lem(['backends', '--json']));
    expect(listed.problems).toEqual([]);
    expect(listed.backends.map((b) => b.id)).toEqual(expect.arrayContaining(['llamacpp', 'vllm', 'pytorch', 'sglang']));
    expect(listed.notifiers.map((n) => n.id)).toEqual(expect.arrayContaining(['slack', 'discord']));

    const plugins = json<Array<{name: string; root: string}>>(lem(['plugins', '--json', '--core']));
    expect(plugins.map((p) => p.name)).toEqual(expect.arrayContaining(['@lem/cli', '@lem/backend-llamacpp', '@lem/notify-discord', '@oclif/plugin-plugins']));
    for (const plugin of plugins) expect(realpathSync(plugin.root).startsWith(realpathSync(prefix)), `${plugin.name} at ${plugin.root}`).toBe(true);
  });

  it('lem init --non-interactive writes .lem-config.yaml here, which config validate and config show read', (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    const init = lem(['init', '--non-interactive']);
    expect(init.status, init.stderr + init.stdout).toBe(0);
    expect(existsSync(join(project, '.lem-config.yaml'))).toBe(true);
    expect(json<{kind: string; valid: boolean}>(lem(['config', 'validate', '.lem-config.yaml', '--json']))).toMatchObject({kind: 'project', valid: true});
    const shown = json<{configFile: string; settings: Array<{key: string; from: string}>}>(lem(['config', 'show', '--json']));
    expect(shown.configFile).toBe(join(realpathSync(project), '.lem-config.yaml'));
    expect(shown.settings.find((s) => s.key === 'backend')?.from).toMatch(/^\.lem-config\.yaml:\d+:\d+$/);
  });

  it("the README's quickstart: the tiny model and its experiment file run on the installed llama.cpp server, with tokens and energy", (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    const tiny = lem(['llamacpp', 'tiny-model', 'models/tiny.gguf']);
    expect(tiny.status, tiny.stderr + tiny.stdout).toBe(0);
    // The file as the README's install section writes it, so the README stays true.
    writeFileSync(join(project, 'quickstart.yaml'), readmeQuickstart());

    const run = lem(['experiment', 'quickstart.yaml', '--json'], 170_000);
    const {runDir} = json<{runDir: string}>(run);
    const result = JSON.parse(readFileSync(join(runDir, 'result.json'), 'utf8')) as {
      status: string;
      backend: {argv: string[]};
      metrics: {tokens: {output: number}; energy: {available: boolean; energyJ: number | null}};
    };
    expect(result.status).toBe('completed');
    expect(result.metrics.tokens.output).toBeGreaterThan(0);
    expect(result.metrics.energy.available).toBe(true);
    expect(result.metrics.energy.energyJ).toBeGreaterThan(0);
    const server = result.backend.argv.find((arg) => arg.endsWith('dist/server/main.js'));
    expect(server && realpathSync(server).startsWith(realpathSync(prefix)), result.backend.argv.join(' ')).toBe(true);
  }, 180_000);
});
