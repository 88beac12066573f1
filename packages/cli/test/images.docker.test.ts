/**
 * `lem images` on a real engine, without a registry: the llama.cpp image built by the real binary
 * from the plugin's real Dockerfile on the busybox test base (as docker/build-test-images.sh
 * does), listed, and a container from it serving the tiny model with the argv and mounts the
 * plugin's serverSpec gives under the docker runner. Under CI=true an unreachable engine fails.
 */
import {execFileSync} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {backend, configSchema, writeTinyModel, type LlamacppConfig} from '@lem/backend-llamacpp';
import {dockerEngine, findFreePort, probeRegistry, type DockerEngine} from '@lem/core';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {lem} from './helpers.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');
const PLUGIN = join(REPO, 'plugins', 'backend-llamacpp');
const MOUNTED = ['--build-arg', 'BASE=lem-test/base:latest', '--build-arg', 'LEM_SOURCE=mounted', '--build-arg', `LEM_LLAMACPP_HOME=${PLUGIN}`];
const REF = backend.image!.ref;

/** Null when the engine at DOCKER_HOST answers; else why not. Under CI=true an absent engine fails the file, never skips it. */
async function engineMissing(engine: DockerEngine): Promise<string | null> {
  try {
    await engine.docker.ping();
    return null;
  } catch (error) {
    const reason = `no Docker engine at ${engine.host} (${(error as Error).message}); start one with docker/engine.sh start <dir>`;
    if (process.env.CI === 'true') throw new Error(`CI=true: ${reason}`);
    return reason;
  }
}

const engine = dockerEngine();
const missing = await engineMissing(engine);
let dir: string;

beforeAll(() => {
  if (missing) return;
  dir = mkdtempSync(join(tmpdir(), 'lem-images-cli-'));
  execFileSync('bash', [join(REPO, 'docker', 'build-test-images.sh'), 'base'], {stdio: 'inherit'});
});
afterAll(() => {
  if (dir) rmSync(dir, {recursive: true, force: true});
});

describe('lem images without an engine', () => {
  it('is E_DOCKER_UNREACHABLE (exit 2) with a Try line, not a stack trace', () => {
    const run = lem(['images', 'list'], {env: {DOCKER_HOST: 'unix:///nonexistent/docker.sock'}});
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('Error E_DOCKER_UNREACHABLE');
    expect(run.stderr).toContain('Try:');
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});

describe.skipIf(Boolean(missing))(`lem images, real engine${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('images build: the real Dockerfile on the test base, progress as it comes, then what it built', () => {
    const run = lem(['images', 'build', 'llamacpp', ...MOUNTED]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/Step 1\/\d+ : ARG BASE=node:20-bookworm-slim/);
    expect(run.stdout).toContain(`Built ${REF} (sha256:`);
    const json = JSON.parse(lem(['images', 'build', 'llamacpp', ...MOUNTED, '--json']).stdout) as {built: Array<{backend: string; ref: string; bases: string[]}>};
    expect(json.built).toEqual([expect.objectContaining({backend: 'llamacpp', ref: REF, bases: ['lem-test/base:latest'], baseImages: [{ref: 'lem-test/base:latest', id: expect.stringMatching(/^sha256:/), digest: null}]})]);
  });

  it("images build of a GPU engine fails fast here: its official base cannot be pulled, and it says how to load one", () => {
    const run = lem(['images', 'build', 'vllm']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('E_IMAGE_BASE_UNAVAILABLE');
    expect(run.stderr).toContain('the base image vllm/vllm-openai:v0.22.1 is not here');
    expect(run.stderr).toMatch(/^Try: lem images build vllm --build-arg BASE=<a local image>/m);
  });

  it('images build of several images goes on past one that cannot be built, then names each that was not', () => {
    const run = lem(['images', 'build', 'pytorch', 'vllm']);
    expect(run.status).toBe(2);
    expect(run.stdout).toMatch(/^Not built: pytorch: E_IMAGE_BASE_UNAVAILABLE: the base image pytorch\/pytorch:2\.13\.0-cuda12\.6-cudnn9-runtime is not here/m);
    expect(run.stdout).toMatch(/^Not built: vllm: E_IMAGE_BASE_UNAVAILABLE: /m);
    expect(run.stderr).toContain('2 of 2 images were not built (pytorch, vllm)');
    expect(run.stderr).toMatch(/^Try: lem images build pytorch --build-arg BASE=<a local image>/m);
    expect(run.stderr).toMatch(/^Try: lem images build vllm --build-arg BASE=<a local image>/m);
  });

  it('images list: present, built from this plugin version, mounted, not stale', () => {
    const run = lem(['images', 'list']);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`llamacpp\\s+${REF.replace(/[.:/]/g, '\\$&')}\\s+yes\\s+[\\d.]+ MB\\s+plugin ${backend.image!.buildArgs!.LEM_PLUGIN_VERSION}\\s+mounted\\s+no`));
    const json = JSON.parse(lem(['images', 'list', '--json']).stdout) as {images: Array<Record<string, unknown>>};
    expect(json.images.find((i) => i.backend === 'llamacpp')).toEqual(expect.objectContaining({backend: 'llamacpp', ref: REF, present: true, stale: false, source: 'mounted'}));
    // The bundled GPU engines are listed too, each under its plugin's image reference.
    expect(json.images.filter((i) => i.backend !== 'llamacpp').map((i) => [i.backend, i.ref])).toEqual([
      ['pytorch', 'lem/backend-pytorch:0.1.0'],
      ['sglang', 'lem/backend-sglang:0.1.0'],
      ['vllm', 'lem/backend-vllm:0.1.0'],
    ]);
  });

  it('a container from the image serves the tiny model with the docker-runner spec (GET /health 200)', async () => {
    const model = (await writeTinyModel(join(dir, 'models', 'tiny.gguf'), {seed: 1})).path;
    const port = await findFreePort();
    const cfg = (await configSchema['~standard'].validate({threads: 1, parallel: 1, gpu_layers: 0})) as {value: LlamacppConfig};
    const spec = backend.server(cfg.value, {model, port, gpus: [], workdir: dir, threads: 1, runner: 'docker'});
    const binds = [...spec.mounts!.map((m) => `${m.hostPath}:${m.containerPath}${m.readOnly ? ':ro' : ''}`), '/usr:/usr:ro', `${REPO}:${REPO}:ro`];
    const container = await engine.docker.createContainer({Image: REF, Cmd: spec.argv, Labels: {'lem.test': 'images'}, HostConfig: {NetworkMode: 'host', Binds: binds}});
    try {
      await container.start();
      expect(await healthWithin(`http://127.0.0.1:${port}${spec.readiness.healthPath}`, 60_000)).toBe(200);
      await container.stop({t: spec.stop!.graceS});
      expect((await container.inspect()).State).toMatchObject({ExitCode: 0, OOMKilled: false});
    } finally {
      await container.remove({force: true});
    }
  });

  it('images build of an unknown backend: exit 2 naming the known ones', () => {
    const run = lem(['images', 'build', 'nope']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('Error E_BACKEND_NOT_FOUND: unknown backend: nope (backends with an image: llamacpp, pytorch, sglang, vllm)');
  });

  it('images build with a base that needs an unreachable registry: E_IMAGE_BASE_UNAVAILABLE at once', async () => {
    // The plugin's default base, where no registry answers (as on CI); else one that never resolves.
    const hubReachable = (await probeRegistry('registry-1.docker.io', 3_000)).reachable;
    const args = hubReachable ? ['--build-arg', 'BASE=registry.invalid/lem/absent:1'] : [];
    const t0 = performance.now();
    const run = lem(['images', 'build', 'llamacpp', ...args]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('Error E_IMAGE_BASE_UNAVAILABLE');
    expect(run.stderr).toContain(hubReachable ? 'registry.invalid/lem/absent:1' : 'node:20-bookworm-slim');
    expect(run.stderr).toContain('Try: lem images build llamacpp --build-arg BASE=<a local image>');
    expect(performance.now() - t0).toBeLessThan(10_000);
  });
});

/** Polls `url` until it answers 200 or `timeoutMs` passes; the last status (0: no answer). */
async function healthWithin(url: string, timeoutMs: number): Promise<number> {
  let status = 0;
  for (const end = Date.now() + timeoutMs; Date.now() < end; await new Promise((r) => setTimeout(r, 200))) {
    status = await fetch(url).then((r) => r.status, () => 0);
    if (status === 200) break;
  }
  return status;
}
