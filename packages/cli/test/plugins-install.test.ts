/**
 * `lem plugins install @lem/backend-tensorrt` end to end, as a user would run it: the workspace's
 * plugin-kit and TensorRT plugin are packed (`pnpm pack`) and published to a real npm registry
 * (Verdaccio on 127.0.0.1, __fixtures__/registry.ts); the real CLI installs from it with npm, then
 * lists, validates, resolves and uninstalls the backend. `@lem/*` comes only from what was
 * published here; zod and friends come through the registry's uplink to npmjs (cached in
 * .cache/verdaccio-storage). npm is given a proxy where nothing listens for every host but
 * 127.0.0.1, so anything it fetched from outside the registry would fail the install.
 * oclif's folders (LEM_DATA_DIR, …) and npm's HOME, cache and config are temporary folders.
 * Under CI=true a registry that does not start, or an uplink that does not answer, fails the file.
 */
import {spawnSync} from 'node:child_process';
import {existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {freshHome, lem, type LemRun} from './helpers.js';
import {npmEnv, packedManifest, packWorkspacePackage, publishTarball, REPO_ROOT, startRegistryForTests, workspaceRanges, type LocalRegistry} from './__fixtures__/registry.js';

const PLUGIN = '@lem/backend-tensorrt';
const PACKAGES = ['packages/plugin-kit', 'plugins/backend-tensorrt'];

let registry: LocalRegistry | undefined;
let unavailable: string | undefined;
const tarballs: string[] = [];
/** This file's temporary folders, removed at the end. */
const scratch: string[] = [];

beforeAll(async () => {
  for (const dir of PACKAGES) {
    for (const file of ['dist/index.js', 'package.json']) {
      if (!existsSync(join(REPO_ROOT, dir, file))) throw new Error(`${dir}/${file} is missing: run \`pnpm run build\` first`);
    }
  }
  const packs = mkdtempSync(join(tmpdir(), 'lem-packs-'));
  scratch.push(packs);
  for (const dir of PACKAGES) tarballs.push(packWorkspacePackage(join(REPO_ROOT, dir), packs));

  const started = await startRegistryForTests();
  if ('unavailable' in started) {
    unavailable = started.unavailable;
    return;
  }
  registry = started.registry;
  const npmHome = mkdtempSync(join(tmpdir(), 'lem-npm-publish-'));
  scratch.push(npmHome);
  for (const tarball of tarballs) publishTarball(tarball, registry, npmHome);
});

afterAll(async () => {
  await registry?.stop();
  for (const dir of scratch) rmSync(dir, {recursive: true, force: true});
});

const json = <T>(run: LemRun): T => {
  expect(run.status, run.stderr + run.stdout).toBe(0);
  return JSON.parse(run.stdout) as T;
};
const backendIds = (home: string, env: NodeJS.ProcessEnv) => json<{backends: Array<{id: string; plugin: string; version: string}>; problems: unknown[]}>(lem(['backends', '--json'], {home, env}));

/** Installs the plugin, prints how long it took, and checks where every package came from. */
function install(home: string, env: NodeJS.ProcessEnv): void {
  const t0 = performance.now();
  const run = lem(['plugins', 'install', PLUGIN], {home, env});
  const installMs = Math.round(performance.now() - t0);
  console.log(`lem plugins install ${PLUGIN}: ${installMs} ms`);
  expect(run.status, run.stderr + run.stdout).toBe(0);

  // The installed copy is the packed one, with its own plugin-kit from the registry (not a link
  // into this workspace), and the lockfile npm wrote says every package came from the registry.
  const data = join(home, 'data');
  const installed = join(data, 'node_modules', PLUGIN);
  expect(realpathSync(installed).startsWith(REPO_ROOT)).toBe(false);
  expect(existsSync(join(data, 'node_modules', '@lem', 'plugin-kit', 'dist', 'index.js'))).toBe(true);
  const lock = JSON.parse(readFileSync(join(data, 'package-lock.json'), 'utf8')) as {packages: Record<string, {resolved?: string}>};
  const resolved = Object.entries(lock.packages).filter(([path]) => path !== '');
  expect(resolved.map(([path]) => path)).toEqual(expect.arrayContaining(['node_modules/@lem/backend-tensorrt', 'node_modules/@lem/plugin-kit', 'node_modules/zod']));
  for (const [path, entry] of resolved) expect(entry.resolved, path).toMatch(new RegExp(`^${registry!.url.replace(/[.]/g, '\\.')}`));
}

describe('lem plugins install from a local npm registry', () => {
  it('the packed package.json files carry real versions, no workspace: ranges', () => {
    expect(tarballs).toHaveLength(PACKAGES.length);
    for (const tarball of tarballs) {
      const manifest = packedManifest(tarball);
      expect(workspaceRanges(manifest), manifest.name).toEqual([]);
      expect(JSON.stringify(manifest)).not.toContain('workspace:');
    }
    expect(packedManifest(tarballs[1]!).dependencies?.['@lem/plugin-kit']).toBe(`^${packedManifest(tarballs[0]!).version}`);
  });

  it('npm, as the tests run it, reaches nothing but 127.0.0.1', () => {
    const home = freshHome();
    const direct = spawnSync('npm', ['view', 'zod', 'version', '--registry', 'https://registry.npmjs.org/', '--fetch-retries=0'], {
      cwd: home,
      encoding: 'utf8',
      env: {...process.env, ...npmEnv(home)},
      timeout: 30_000,
    });
    expect(direct.status, direct.stdout).not.toBe(0);
    expect(direct.stderr).toMatch(/ECONNREFUSED|proxy/);
  });

  it('installs @lem/backend-tensorrt with npm_config_registry; it is listed, has a schema, resolves; uninstalling removes it', (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    const home = freshHome();
    const env = npmEnv(home, {npm_config_registry: registry!.url});
    const project = mkdtempSync(join(tmpdir(), 'lem-proj-'));
    writeFileSync(join(project, 'trt.yaml'), 'model: meta-llama/Llama-3.2-1B-Instruct\nbackend: tensorrt\nrunner: docker\ngpus: [0]\ntensorrt:\n  max_batch_size: 64\n');

    install(home, env);

    const plugins = json<Array<{name: string; type: string; version: string}>>(lem(['plugins', '--json'], {home, env}));
    expect(plugins).toEqual(expect.arrayContaining([expect.objectContaining({name: PLUGIN, type: 'user', version: '0.1.0'})]));

    const listed = backendIds(home, env);
    expect(listed.problems).toEqual([]);
    expect(listed.backends.find((b) => b.id === 'tensorrt')).toMatchObject({plugin: PLUGIN, version: '0.1.0'});

    const schema = json<{properties: Record<string, {type?: string; properties?: object}>}>(lem(['config', 'schema'], {home, env}));
    expect(schema.properties.tensorrt?.properties).toBeTypeOf('object');

    const dry = json<{dryRun: boolean; settings: Array<{key: string; value: unknown; from: string}>; server?: {argv: string[]; files?: Array<{path: string}>}}>(lem(['experiment', 'trt.yaml', '--dry-run', '--json'], {home, env, cwd: project}));
    expect(dry.dryRun).toBe(true);
    const setting = (key: string) => dry.settings.find((s) => s.key === key);
    expect(setting('backend')).toMatchObject({value: 'tensorrt', from: expect.stringContaining('trt.yaml')});
    expect(setting('runner')).toMatchObject({value: 'docker', from: expect.stringContaining('trt.yaml')});
    expect(setting('gpus')).toMatchObject({value: [0]});
    expect(setting('tensorrt.max_batch_size')).toMatchObject({value: 64, from: expect.stringContaining('trt.yaml')});
    // The dry run shows the server it would start: the installed plugin's command line and options file.
    expect(dry.server?.argv.slice(0, 2)).toEqual(['trtllm-serve', 'serve']);
    expect(dry.server?.argv).toEqual(expect.arrayContaining(['--max_batch_size', '64', '--config']));
    expect(dry.server?.files?.map((f) => f.path)).toEqual([expect.stringMatching(/trtllm-options\.yaml$/)]);

    const removed = lem(['plugins', 'uninstall', PLUGIN], {home, env});
    expect(removed.status, removed.stderr + removed.stdout).toBe(0);
    expect(backendIds(home, env).backends.map((b) => b.id)).not.toContain('tensorrt');
    expect(existsSync(join(home, 'data', 'node_modules', PLUGIN))).toBe(false);

    // Selecting the backend now says how to get it back.
    writeFileSync(join(project, 'bare.yaml'), 'model: meta-llama/Llama-3.2-1B-Instruct\nbackend: tensorrt\nrunner: docker\ngpus: [0]\n');
    const missing = lem(['experiment', 'bare.yaml', '--dry-run'], {home, env, cwd: project});
    expect(missing.status, missing.stderr + missing.stdout).toBe(2);
    expect(missing.stderr).toContain('E_BACKEND_NOT_FOUND');
    expect(missing.stderr).toMatch(/^Try: lem plugins install @lem\/backend-tensorrt$/m);
    // With its section in the file, the section is what is reported, naming the same command.
    const withSection = lem(['experiment', 'trt.yaml', '--dry-run'], {home, env, cwd: project});
    expect(withSection.status, withSection.stderr + withSection.stdout).toBe(2);
    expect(withSection.stderr).toContain('lem plugins install @lem/backend-tensorrt');
  });

  it('a user ~/.npmrc with registry= is enough, with no npm_config_registry in the environment', (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    const home = freshHome();
    writeFileSync(join(home, '.npmrc'), `registry=${registry!.url}\n`);
    const env = npmEnv(home);
    install(home, env);
    expect(backendIds(home, env).backends.map((b) => b.id)).toContain('tensorrt');
  });
});
