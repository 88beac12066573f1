/**
 * `lem experiment`, `lem campaign run` and `lem resume` on the docker runner, through the real
 * binary, a real engine ($DOCKER_HOST, started by .ci/run) and the llama.cpp image built from
 * the plugin's own Dockerfile (docker/build-test-images.sh, no registry): both strategies, the
 * persistent confirmation, server reuse, a missing image, and what Ctrl+C and kill -9 leave.
 * The host's /usr and this checkout are mounted read-only (docker.mounts), so the container runs
 * the same Node and server code as the local runner.
 */
import {execFileSync, spawn} from 'node:child_process';
import {existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {docker, engineMissing, REPO, resultsOf as resultsOfRun} from './__fixtures__/docker-cli.js';
import {freshHome, lem, LEM_BIN} from './helpers.js';

const IMAGE = 'lem/backend-llamacpp:0.1.0';

const missing = engineMissing();

let home: string;
let dir: string;
let model: string;

const lemContainers = () => docker('ps', '-a', '--filter', 'label=lem.managed=true', '--format', '{{.ID}} {{.State}} {{.Label "lem.strategy"}}').split('\n').filter(Boolean);

/** A project whose .lem-config.yaml mounts the host's /usr and this checkout into every container. */
function project(name: string, files: Record<string, string>): string {
  const cwd = join(dir, name);
  mkdirSync(cwd, {recursive: true});
  writeFileSync(join(cwd, '.lem-config.yaml'), `docker:\n  mounts: ["/usr:/usr:ro", "${REPO}:${REPO}:ro"]\n`);
  for (const [file, text] of Object.entries(files)) writeFileSync(join(cwd, file), text);
  return cwd;
}

const tiny = () =>
  `model: ${model}\nbackend: llamacpp\nrunner: docker\ndataset:\n  kind: builtin\n  n_prompts: 4\n  max_input_tokens: 32\nworkload:\n  max_output_tokens: 8\nwarmup:\n  mode: fixed\n  requests: 1\nmeasure:\n  baseline_s: 0.2\n  idle_settle_s: 0\nllamacpp:\n  threads: 1\n`;

interface Result {
  status: string;
  backend: {runner: string; strategy: string | null; container: {id: string; imageRef: string; imageId: string} | null; serverReused: boolean; argv: string[]};
}
const resultsOf = (cwd: string): Result[] => resultsOfRun<Result>(cwd);

function expectRefusal(run: {status: number | null; stderr: string}, code: string): void {
  expect(run.status, run.stderr).toBe(2);
  expect(run.stderr).toMatch(new RegExp(`^Error ${code}: `, 'm'));
  expect(run.stderr).toMatch(/^Try: /m);
  expect(run.stderr).not.toMatch(/^\s+at /m);
}

beforeAll(async () => {
  if (missing) return;
  execFileSync('bash', [join(REPO, 'docker/build-test-images.sh')], {stdio: 'inherit'});
  home = freshHome();
  dir = mkdtempSync(join(tmpdir(), 'lem-docker-cli-'));
  model = join(dir, 'tiny.gguf');
  const {writeTinyModel} = (await import(new URL('../../../plugins/backend-llamacpp/dist/index.js', import.meta.url).href)) as {writeTinyModel: (p: string, o: {seed: number}) => Promise<unknown>};
  await writeTinyModel(model, {seed: 1});
}, 180_000);

afterAll(() => {
  if (missing) return;
  for (const line of lemContainers()) execFileSync('docker', ['rm', '-f', line.split(' ')[0]!], {stdio: 'ignore'});
});

describe.skipIf(Boolean(missing))(`the docker runner end to end${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('lem experiment runs the server in an ephemeral container, records runner, strategy, image and container, and leaves no container', () => {
    const cwd = project('ephemeral', {'e.yaml': tiny()});
    const run = lem(['experiment', 'e.yaml', '--json'], {home, cwd});
    expect(run.status, run.stderr).toBe(0);
    const [result] = resultsOf(cwd);
    expect(result!.status).toBe('completed');
    expect(result!.backend).toMatchObject({runner: 'docker', strategy: 'ephemeral', serverReused: false, container: {imageRef: IMAGE, imageId: expect.stringMatching(/^sha256:/)}});
    expect(result!.backend.argv).toContain('/opt/lem/bin/lem-llamacpp-server');
    expect(lemContainers()).toEqual([]);
  });

  it('persistent mode is confirmed: without a terminal and without --yes it refuses and starts nothing; --yes runs it', () => {
    const cwd = project('persistent', {'e.yaml': tiny()});
    const refused = lem(['experiment', 'e.yaml', '--container-strategy', 'persistent'], {home, cwd});
    expectRefusal(refused, 'E_CONFIRMATION_REQUIRED');
    expect(refused.stderr).toContain('--yes');
    expect(lemContainers()).toEqual([]);
    expect(resultsOf(cwd)).toEqual([]);
    const run = lem(['experiment', 'e.yaml', '--container-strategy', 'persistent', '--yes', '--json'], {home, cwd});
    expect(run.status, run.stderr).toBe(0);
    expect(resultsOf(cwd)[0]!.backend).toMatchObject({runner: 'docker', strategy: 'persistent'});
    expect(lemContainers()).toEqual([]);
  });

  it('--container-strategy without the docker runner is refused', () => {
    const cwd = project('local-strategy', {'e.yaml': tiny().replace('runner: docker\n', '')});
    expectRefusal(lem(['experiment', 'e.yaml', '--container-strategy', 'persistent'], {home, cwd}), 'E_STRATEGY_NEEDS_DOCKER');
  });

  it('a campaign in one persistent container with reuse_server: the plan shows which runs reuse, results record serverReused, nothing is left', () => {
    const campaign = `name: reuse\n${tiny()}reuse_server: true\nsweep:\n  workload.concurrency: [1, 2]\ncycles: 1\ngaps:\n  between_experiments_s: 0\n  between_cycles_s: 0\n`;
    const cwd = project('campaign', {'c.yaml': campaign});
    const dry = lem(['campaign', 'run', 'c.yaml', '--dry-run', '--container-strategy', 'persistent'], {home, cwd});
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/runner docker \(containers: persistent\)/);
    expect(dry.stdout).toMatch(/^\s*1\s+conc1\s+1\s+fresh, kept/m);
    expect(dry.stdout).toMatch(/^\s*2\s+conc2\s+1\s+reused/m);
    const run = lem(['campaign', 'run', 'c.yaml', '--container-strategy', 'persistent', '--yes', '--quiet'], {home, cwd});
    expect(run.status, run.stderr).toBe(0);
    const results = resultsOf(cwd).filter((r) => r.backend);
    expect(results.map((r) => [r.backend.strategy, r.backend.serverReused]).sort()).toEqual([['persistent', false], ['persistent', true]]);
    expect(new Set(results.map((r) => r.backend.container!.id)).size).toBe(1);
    expect(lemContainers()).toEqual([]);
  });

  it('a missing image stops everything before the first run, naming lem images build', () => {
    const cwd = project('missing', {'c.yaml': `name: missing\n${tiny()}cycles: 1\n`});
    docker('tag', IMAGE, 'lem-test/llamacpp-kept:1');
    docker('rmi', IMAGE);
    try {
      const run = lem(['campaign', 'run', 'c.yaml'], {home, cwd});
      expectRefusal(run, 'E_IMAGE_MISSING');
      expect(run.stderr).toContain('lem images build llamacpp');
      expect(existsSync(join(cwd, 'results'))).toBe(false);
      expect(existsSync(join(cwd, '.lem-state')) ? readdirSync(join(cwd, '.lem-state')).filter((d) => d.startsWith('missing')) : []).toEqual([]);
    } finally {
      docker('tag', 'lem-test/llamacpp-kept:1', IMAGE);
      docker('rmi', 'lem-test/llamacpp-kept:1');
    }
  });

  it('Ctrl+C stops the run and removes its container; resume refuses another strategy', async () => {
    const long = tiny().replace('n_prompts: 4', 'n_prompts: 100').replace('baseline_s: 0.2', 'baseline_s: 30');
    const cwd = project('sigint', {'c.yaml': `name: sig\n${long}cycles: 1\n`});
    const child = spawn(process.execPath, [LEM_BIN, 'campaign', 'run', 'c.yaml'], {cwd, env: {...process.env, LEM_DATA_DIR: join(home, 'data'), LEM_CONFIG_DIR: join(home, 'config'), LEM_CACHE_DIR: join(home, 'cache'), LEM_LOCK_DIR: join(home, 'locks'), NO_COLOR: '1'}, stdio: ['ignore', 'pipe', 'pipe']});
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    expect(await until(() => lemContainers().some((l) => l.includes('running')), 60_000), out).toBe(true);
    await new Promise((r) => setTimeout(r, 2_000)); // into the run: the server is up and being measured
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, out).toBe(130);
    expect(lemContainers()).toEqual([]);
    const id = readdirSync(join(cwd, '.lem-state')).find((d) => d.startsWith('sig'))!;
    expectRefusal(lem(['resume', id, '--container-strategy', 'persistent'], {home, cwd}), 'E_RESUME_RUNNER');
  }, 120_000);

  it('kill -9 of lem stops its server within the grace; the next lem start removes the container', async () => {
    const long = tiny().replace('n_prompts: 4', 'n_prompts: 100').replace('baseline_s: 0.2', 'baseline_s: 30');
    const cwd = project('kill9', {'e.yaml': long});
    const child = spawn(process.execPath, [LEM_BIN, 'experiment', 'e.yaml'], {cwd, env: {...process.env, LEM_DATA_DIR: join(home, 'data'), LEM_CONFIG_DIR: join(home, 'config'), LEM_CACHE_DIR: join(home, 'cache'), LEM_LOCK_DIR: join(home, 'locks'), NO_COLOR: '1'}, stdio: 'ignore'});
    await until(() => lemContainers().some((l) => l.includes('running')), 60_000);
    const [id] = lemContainers()[0]!.split(' ');
    child.kill('SIGKILL');
    // The llama.cpp server's grace is 5 s: the container must stop well within twice that.
    expect(await until(() => !lemContainers().some((l) => l.includes('running')), 12_000)).toBe(true);
    expect(() => docker('top', id!)).toThrow();
    expect(lemContainers().some((l) => l.startsWith(id!))).toBe(true); // stopped, not yet removed: removal needs a live lem
    const next = lem(['containers', 'list', '--json'], {home, cwd});
    expect(next.status, next.stderr).toBe(0);
    expect(lemContainers().some((l) => l.startsWith(id!))).toBe(false);
  }, 120_000);
});

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await new Promise((r) => setTimeout(r, 200))) if (condition()) return true;
  return condition();
}
