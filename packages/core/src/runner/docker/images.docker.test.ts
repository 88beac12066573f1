/**
 * Images on a real engine, without a registry: the llama.cpp plugin's real Dockerfile built on
 * the busybox test base (docker/build-test-images.sh base) as a "mounted" image, under a ref of
 * this test's own (removed at the end), then its status (present, absent, stale), the check before
 * a docker run, and a base that would need a pull from a registry that does not exist.
 */
import {cpSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import type {BackendContribution} from '@lem/plugin-kit';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import type {RegisteredBackend} from '../../registry.js';
import {ensureTestBase, REPO_ROOT, TEST_BASE, testEngine, type EngineCheck} from './__fixtures__/engine.js';
import {Labels} from './engine.js';
import {buildImage, checkImages, dockerfileHash, IMAGE_SOURCE_LABEL, imageStatus, readBuildContext} from './images.js';

const check: EngineCheck = await testEngine();
const PLUGIN = join(REPO_ROOT, 'plugins', 'backend-llamacpp');
const DOCKERFILE = join(PLUGIN, 'docker', 'Dockerfile');
const REF = `lem-test/images-llamacpp:${process.pid}`;
const MOUNTED = {BASE: TEST_BASE, LEM_SOURCE: 'mounted', LEM_LLAMACPP_HOME: PLUGIN};
let scratch: string;

/** The llama.cpp backend as the registry would hold it, under this test's ref (and, optionally, another Dockerfile or version). */
function llamacpp(over: {ref?: string; dockerfile?: string; version?: string; image?: null} = {}): RegisteredBackend {
  const image = over.image === null ? undefined : {ref: over.ref ?? REF, dockerfile: over.dockerfile ?? DOCKERFILE, buildArgs: {LEM_PLUGIN_VERSION: '0.1.0'}};
  const contribution = {kind: 'backend', id: 'llamacpp', displayName: 'llama.cpp', configSchema: {}, jsonSchema: {}, gpu: 'optional', local: true, image, server: () => ({})} as unknown as BackendContribution;
  return {contribution, plugin: {name: '@lem/backend-llamacpp', version: over.version ?? '0.1.0'}};
}

beforeAll(() => {
  if (check.missing) return;
  ensureTestBase();
  scratch = mkdtempSync(join(tmpdir(), 'lem-images-docker-'));
});
afterAll(async () => {
  if (check.missing) return;
  await check.engine.docker.getImage(REF).remove({force: true}).catch(() => undefined);
  rmSync(scratch, {recursive: true, force: true});
});

describe.skipIf(Boolean(check.missing))(`images, real engine${check.missing ? ` (skipped: ${check.missing})` : ''}`, () => {
  it('absent: imageStatus says so and checkImages stops with E_IMAGE_MISSING naming the build', async () => {
    expect(await imageStatus(check.engine, llamacpp())).toMatchObject({present: false, id: null, stale: false});
    await expect(checkImages(check.engine, [llamacpp()])).rejects.toMatchObject({code: 'E_IMAGE_MISSING', exitCode: 2, try: ['lem images build llamacpp']});
  });

  it('builds the real Dockerfile on the test base (mounted source), labelled, with progress lines', async () => {
    const lines: string[] = [];
    const result = await buildImage(check.engine, llamacpp(), {buildArgs: MOUNTED, onProgress: (l) => lines.push(l)});
    const hash = readBuildContext(DOCKERFILE).hash;
    expect(result).toMatchObject({ref: REF, id: expect.stringMatching(/^sha256:/), bases: [TEST_BASE], labels: {[Labels.pluginVersion]: '0.1.0', [Labels.dockerfileHash]: hash}});
    // The base as the engine has it: its id; no registry digest, since the test base was built here.
    expect(result.baseImages).toEqual([{ref: TEST_BASE, id: expect.stringMatching(/^sha256:/), digest: null}]);
    expect(result.buildArgs).toMatchObject({...MOUNTED, LEM_PLUGIN_VERSION: '0.1.0'});
    // The new image's status comes back with it.
    expect(result).toMatchObject({backend: 'llamacpp', present: true, stale: false, pluginVersion: '0.1.0', dockerfileHash: dockerfileHash(llamacpp())});
    expect(lines.some((l) => l.startsWith('Successfully tagged'))).toBe(true);
    const labels = (await check.engine.docker.getImage(REF).inspect()).Config.Labels;
    expect(labels).toMatchObject({[Labels.pluginVersion]: '0.1.0', [Labels.dockerfileHash]: hash, [IMAGE_SOURCE_LABEL]: 'mounted', [Labels.backend]: 'llamacpp'});
  });

  it('present and current: not stale, and checkImages passes without warnings', async () => {
    expect(await imageStatus(check.engine, llamacpp())).toMatchObject({present: true, stale: false, staleReason: null, pluginVersion: '0.1.0', source: 'mounted'});
    const result = await checkImages(check.engine, [llamacpp()]);
    expect(result.warnings).toEqual([]);
  });

  it('stale when the installed plugin version or its Dockerfile differs from the labels', async () => {
    const newer = await checkImages(check.engine, [llamacpp({version: '0.2.0'})]);
    expect(newer.warnings).toEqual([{code: 'W_IMAGE_STALE', backend: 'llamacpp', message: expect.stringContaining('built from plugin version 0.1.0, installed is 0.2.0')}]);
    const edited = join(scratch, 'docker');
    cpSync(join(PLUGIN, 'docker'), edited, {recursive: true});
    writeFileSync(join(edited, 'Dockerfile'), '# edited\n', {flag: 'a'});
    expect(await imageStatus(check.engine, llamacpp({dockerfile: join(edited, 'Dockerfile')}))).toMatchObject({present: true, stale: true, staleReason: expect.stringContaining('Dockerfile')});
  });

  it('a base that is not here and whose registry cannot be reached fails at once with E_IMAGE_BASE_UNAVAILABLE', async () => {
    const t0 = performance.now();
    const error = await buildImage(check.engine, llamacpp({ref: `${REF}-never`}), {buildArgs: {...MOUNTED, BASE: 'registry.invalid/lem/absent:1'}}).catch((e: unknown) => e);
    const seconds = (performance.now() - t0) / 1000;
    expect(error).toMatchObject({code: 'E_IMAGE_BASE_UNAVAILABLE', exitCode: 2});
    expect((error as Error).message).toContain('registry.invalid/lem/absent:1');
    expect((error as {try: string[]}).try.join('\n')).toContain('--build-arg BASE=<a local image>');
    // The probe gives up after 3 s at most; a build that went on to the engine's pull would not be this fast.
    expect(seconds).toBeLessThan(5);
    expect(await imageStatus(check.engine, llamacpp({ref: `${REF}-never`}))).toMatchObject({present: false});
  });

  it('a Docker Hub base that is not here (lem-test/nonexistent:1) fails in under 10 s with E_IMAGE_BASE_UNAVAILABLE', async () => {
    const t0 = performance.now();
    const error = await buildImage(check.engine, llamacpp({ref: `${REF}-hub`}), {buildArgs: {...MOUNTED, BASE: 'lem-test/nonexistent:1'}}).catch((e: unknown) => e);
    expect(performance.now() - t0).toBeLessThan(10_000);
    // Where Docker Hub is reachable the engine pulls instead, and fails with the build's own error.
    if ((error as {code?: string}).code !== 'E_IMAGE_BUILD') {
      expect(error).toMatchObject({code: 'E_IMAGE_BASE_UNAVAILABLE', exitCode: 2, message: expect.stringContaining('lem-test/nonexistent:1')});
      expect((error as Error).message).toContain('registry-1.docker.io');
    }
  });

  it('a failing build is E_IMAGE_BUILD with the last lines of its output, and leaves no container', async () => {
    const folder = join(scratch, 'failing');
    cpSync(join(PLUGIN, 'docker'), folder, {recursive: true});
    writeFileSync(join(folder, 'Dockerfile'), `FROM ${TEST_BASE}\nRUN echo about to fail && exit 3\n`);
    const before = (await check.engine.docker.listContainers({all: true})).length;
    const error = await buildImage(check.engine, llamacpp({ref: `${REF}-failing`, dockerfile: join(folder, 'Dockerfile')})).catch((e: unknown) => e);
    expect(error).toMatchObject({code: 'E_IMAGE_BUILD', exitCode: 1, message: expect.stringContaining('returned a non-zero code: 3')});
    expect((error as {details: Array<{message: string}>}).details.map((d) => d.message)).toContain('about to fail');
    expect((await check.engine.docker.listContainers({all: true})).length).toBe(before);
  });

  it('a backend without an image under the docker runner is E_NO_IMAGE', async () => {
    await expect(checkImages(check.engine, [llamacpp({image: null})])).rejects.toMatchObject({code: 'E_NO_IMAGE', exitCode: 2});
  });
});
