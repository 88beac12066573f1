/**
 * Image status, checks and build preflight without an engine: Dockerfile parsing is pure, and the
 * engine is a stand-in that answers `inspect` from a table (404 for what it does not have).
 */
import {chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {createServer, type Server} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {PassThrough} from 'node:stream';
import Docker from 'dockerode';
import type {BackendContribution} from '@lem/plugin-kit';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import type {RegisteredBackend} from '../../registry.js';
import {Labels, type DockerEngine} from './engine.js';
import {
  buildImage,
  checkImages,
  dockerfileBases,
  dockerfileHash,
  ensureBases,
  followBuild,
  fromImages,
  imageList,
  imageStatus,
  probeRegistry,
  readBuildContext,
  registryHost,
  staleReasons,
  type RegistryProbe,
} from './images.js';

let dir: string;
let dockerfile: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lem-images-'));
  mkdirSync(join(dir, 'docker'));
  dockerfile = join(dir, 'docker', 'Dockerfile');
  writeFileSync(dockerfile, 'ARG BASE=node:20-bookworm-slim\nFROM ${BASE}\nCOPY run.sh /opt/run.sh\n');
  writeFileSync(join(dir, 'docker', 'run.sh'), '#!/bin/sh\nexec node "$@"\n');
  chmodSync(join(dir, 'docker', 'run.sh'), 0o755);
});
afterAll(() => rmSync(dir, {recursive: true, force: true}));

type Inspect = {Id: string; Size?: number; Created?: string; Config?: {Labels?: Record<string, string>}};

/** An engine that has exactly `images` (by reference); every other inspect is a 404. */
function fakeEngine(images: Record<string, Inspect>, counter: {inspects: number} = {inspects: 0}): DockerEngine {
  const docker = {
    getImage: (ref: string) => ({
      inspect: async () => {
        counter.inspects++;
        const found = images[ref];
        if (found) return found;
        throw Object.assign(new Error(`(HTTP code 404) no such image - ${ref}`), {statusCode: 404});
      },
    }),
    buildImage: async () => {
      throw new Error('buildImage must not be reached');
    },
  };
  return {docker: docker as unknown as DockerEngine['docker'], host: 'unix:///fake.sock', remote: false};
}

function backend(id: string, over: Partial<BackendContribution> = {}, version = '1.2.3'): RegisteredBackend {
  const contribution = {
    kind: 'backend',
    id,
    displayName: id,
    configSchema: {} as BackendContribution['configSchema'],
    jsonSchema: {},
    gpu: 'none',
    local: true,
    image: {ref: `lem/backend-${id}:${version}`, dockerfile},
    server: () => ({argv: [], env: {}, port: 0, readiness: {healthPath: '/health', timeoutS: 1}}),
    ...over,
  } as BackendContribution;
  return {contribution, plugin: {name: `@lem/backend-${id}`, version}};
}

const built = (version: string, hash: string): Inspect => ({Id: 'sha256:abc', Size: 2_000_000, Created: '2026-01-01T00:00:00Z', Config: {Labels: {[Labels.pluginVersion]: version, [Labels.dockerfileHash]: hash}}});

describe('dockerfileBases', () => {
  it('substitutes global ARG defaults, and build arguments over them', () => {
    const text = 'ARG BASE=node:20-bookworm-slim\nFROM ${BASE}\nRUN true\n';
    expect(dockerfileBases(text)).toEqual([{ref: 'node:20-bookworm-slim', args: ['BASE']}]);
    expect(dockerfileBases(text, {BASE: 'lem-test/base:latest'})).toEqual([{ref: 'lem-test/base:latest', args: ['BASE']}]);
  });

  it('skips stage names, stage indices and scratch; keeps COPY --from images', () => {
    const text = [
      '# syntax comment',
      'ARG REG=registry.example.com',
      'FROM --platform=linux/amd64 $REG/builder:1 AS build',
      'RUN make',
      'FROM scratch AS empty',
      'FROM build',
      'COPY --from=build /out /out',
      'COPY --from=0 /a /a',
      'COPY --from=busybox:1.36 /bin/busybox /bin/busybox',
      'FROM ${REG:-docker.io}/runtime:2',
    ].join('\n');
    expect(dockerfileBases(text).map((b) => b.ref)).toEqual(['registry.example.com/builder:1', 'busybox:1.36', 'registry.example.com/runtime:2']);
  });

  it('joins continuation lines, ignores ARGs after the first FROM and expands ${VAR:-default} / ${VAR:+alt}', () => {
    const text = 'ARG TAG\nFROM \\\n  node:${TAG:-20}\nARG LATE=x\nFROM alpine${LATE:+:late}\n';
    expect(dockerfileBases(text).map((b) => b.ref)).toEqual(['node:20', 'alpine']);
    expect(dockerfileBases(text, {TAG: '22'}).map((b) => b.ref)).toEqual(['node:22', 'alpine']);
  });

  it('ignores a build argument the Dockerfile does not declare before FROM', () => {
    expect(dockerfileBases('FROM ${BASE}x\n', {BASE: 'ignored'}).map((b) => b.ref)).toEqual(['x']);
  });

  it('refuses a FROM that resolves to nothing, naming the build argument', () => {
    expect(() => dockerfileBases('ARG BASE\nFROM ${BASE}\n')).toThrow(expect.objectContaining({code: 'E_IMAGE_DOCKERFILE_INVALID', try: ['--build-arg BASE=<image>']}));
  });

  it('reads the plugin\'s real Dockerfile: node:20-bookworm-slim unless BASE says otherwise', () => {
    const real = readFileSync(new URL('../../../../../plugins/backend-llamacpp/docker/Dockerfile', import.meta.url), 'utf8');
    expect(dockerfileBases(real)).toEqual([{ref: 'node:20-bookworm-slim', args: ['BASE']}]);
    expect(dockerfileBases(real, {BASE: 'lem-test/base:latest', LEM_SOURCE: 'mounted'}).map((b) => b.ref)).toEqual(['lem-test/base:latest']);
  });
});

describe('fromImages', () => {
  it('substitutes ARG defaults before the first FROM, ${X} and $X', () => {
    expect(fromImages('ARG BASE=node:20-bookworm-slim\nFROM ${BASE}\n')).toEqual(['node:20-bookworm-slim']);
    expect(fromImages('ARG REPO=library/node\nARG TAG=20\nFROM $REPO:${TAG}\n')).toEqual(['library/node:20']);
  });

  it('build arguments win over the defaults', () => {
    expect(fromImages('ARG BASE=node:20\nFROM ${BASE}\n', {BASE: 'lem-test/base:latest'})).toEqual(['lem-test/base:latest']);
    expect(fromImages('ARG TAG=20\nFROM node:$TAG\n', {TAG: '22', OTHER: 'x'})).toEqual(['node:22']);
  });

  it('skips stage names and scratch, and COPY --from images are not FROM bases', () => {
    const text = 'FROM golang:1.22 AS build\nRUN go build\nFROM scratch AS empty\nFROM build AS again\nFROM alpine:3\nCOPY --from=build /x /x\nCOPY --from=busybox:1 /bin/sh /sh\n';
    expect(fromImages(text)).toEqual(['golang:1.22', 'alpine:3']);
  });

  it("the plugin's real Dockerfile", () => {
    const real = readFileSync(new URL('../../../../../plugins/backend-llamacpp/docker/Dockerfile', import.meta.url), 'utf8');
    expect(fromImages(real)).toEqual(['node:20-bookworm-slim']);
    expect(fromImages(real, {BASE: 'lem-test/base:latest'})).toEqual(['lem-test/base:latest']);
  });
});

describe('registryHost', () => {
  it('is Docker Hub unless the first path part names a host', () => {
    expect(registryHost('node:20')).toBe('registry-1.docker.io');
    expect(registryHost('library/node:20')).toBe('registry-1.docker.io');
    expect(registryHost('vllm/vllm-openai:latest')).toBe('registry-1.docker.io');
    expect(registryHost('docker.io/library/node')).toBe('registry-1.docker.io');
    expect(registryHost('nvcr.io/nvidia/tensorrt-llm/release:1')).toBe('nvcr.io');
    expect(registryHost('localhost:5000/x')).toBe('localhost:5000');
    expect(registryHost('localhost/x')).toBe('localhost');
  });
});

describe('build context and staleness', () => {
  it('hashes the Dockerfile folder: any file in it changes the hash', () => {
    const before = readBuildContext(dockerfile);
    expect(before).toMatchObject({dir: join(dir, 'docker'), dockerfile: 'Dockerfile', files: ['Dockerfile', 'run.sh'], hash: expect.stringMatching(/^[0-9a-f]{16}$/)});
    expect(readBuildContext(dockerfile).hash).toBe(before.hash);
    writeFileSync(join(dir, 'docker', 'extra.txt'), 'x');
    try {
      expect(readBuildContext(dockerfile).hash).not.toBe(before.hash);
    } finally {
      rmSync(join(dir, 'docker', 'extra.txt'));
    }
    expect(readBuildContext(dockerfile).hash).toBe(before.hash);
  });

  it('dockerfileHash(backend) is the build context hash: the Dockerfile or any file beside it changes it', () => {
    const before = dockerfileHash(backend('a'));
    expect(before).toMatch(/^[0-9a-f]{16}$/);
    expect(before).toBe(readBuildContext(dockerfile).hash);
    const script = join(dir, 'docker', 'run.sh');
    const original = readFileSync(script, 'utf8');
    writeFileSync(script, `${original}# changed\n`);
    try {
      expect(dockerfileHash(backend('a'))).not.toBe(before);
    } finally {
      writeFileSync(script, original);
    }
    const text = readFileSync(dockerfile, 'utf8');
    writeFileSync(dockerfile, `${text}# changed\n`);
    try {
      expect(dockerfileHash(backend('a'))).not.toBe(before);
    } finally {
      writeFileSync(dockerfile, text);
    }
    expect(dockerfileHash(backend('a'))).toBe(before);
    expect(() => dockerfileHash(backend('plain', {image: undefined}))).toThrow(expect.objectContaining({code: 'E_NO_IMAGE'}));
  });

  it('a missing Dockerfile is E_IMAGE_DOCKERFILE_MISSING', () => {
    expect(() => readBuildContext(join(dir, 'nowhere', 'Dockerfile'))).toThrow(expect.objectContaining({code: 'E_IMAGE_DOCKERFILE_MISSING'}));
  });

  it('staleReasons compares both labels with what a build now would write', () => {
    const expected = {pluginVersion: '1.2.3', dockerfileHash: 'sha256:a'};
    expect(staleReasons({pluginVersion: '1.2.3', dockerfileHash: 'sha256:a', expected})).toEqual([]);
    expect(staleReasons({pluginVersion: '1.0.0', dockerfileHash: 'sha256:a', expected})).toEqual(['built from plugin version 1.0.0, installed is 1.2.3']);
    expect(staleReasons({pluginVersion: '1.2.3', dockerfileHash: 'sha256:b', expected})).toEqual(['its Dockerfile or build context changed since it was built']);
    expect(staleReasons({pluginVersion: null, dockerfileHash: null, expected})).toHaveLength(2);
    // An unreadable context cannot make an image stale by its hash.
    expect(staleReasons({pluginVersion: '1.2.3', dockerfileHash: 'sha256:b', expected: {pluginVersion: '1.2.3', dockerfileHash: null}})).toEqual([]);
  });

  it('imageStatus: absent, current, stale by version, stale by Dockerfile', async () => {
    const hash = readBuildContext(dockerfile).hash;
    const absent = await imageStatus(fakeEngine({}), backend('a'));
    expect(absent).toMatchObject({backend: 'a', ref: 'lem/backend-a:1.2.3', present: false, id: null, stale: false, staleReason: null, expected: {pluginVersion: '1.2.3', dockerfileHash: hash}});
    const current = await imageStatus(fakeEngine({'lem/backend-a:1.2.3': built('1.2.3', hash)}), backend('a'));
    expect(current).toMatchObject({present: true, id: 'sha256:abc', sizeBytes: 2_000_000, pluginVersion: '1.2.3', dockerfileHash: hash, stale: false, staleReason: null});
    const oldPlugin = await imageStatus(fakeEngine({'lem/backend-a:1.2.3': built('1.2.2', hash)}), backend('a'));
    expect(oldPlugin).toMatchObject({stale: true, staleReason: 'built from plugin version 1.2.2, installed is 1.2.3'});
    const oldFile = await imageStatus(fakeEngine({'lem/backend-a:1.2.3': built('1.2.3', 'sha256:old')}), backend('a'));
    expect(oldFile).toMatchObject({stale: true, staleReason: expect.stringContaining('Dockerfile')});
  });
});

describe('checkImages', () => {
  it('one inspect per distinct backend; stale images are warnings', async () => {
    const hash = readBuildContext(dockerfile).hash;
    const counter = {inspects: 0};
    const engine = fakeEngine({'lem/backend-a:1.2.3': built('1.2.3', hash), 'lem/backend-b:1.2.3': built('1.0.0', hash)}, counter);
    const check = await checkImages(engine, [backend('a'), backend('b'), backend('a')]);
    expect(counter.inspects).toBe(2);
    expect(check.statuses.map((s) => [s.backend, s.stale])).toEqual([['a', false], ['b', true]]);
    expect(check.warnings).toEqual([{code: 'W_IMAGE_STALE', backend: 'b', message: expect.stringContaining('lem images build b')}]);
  });

  it('every missing image in ONE E_IMAGE_MISSING (exit 2) with a Try line per backend', async () => {
    const hash = readBuildContext(dockerfile).hash;
    const engine = fakeEngine({'lem/backend-b:1.2.3': built('1.2.3', hash)});
    const error = await checkImages(engine, [backend('a'), backend('b'), backend('c')]).catch((e: unknown) => e);
    expect(error).toMatchObject({code: 'E_IMAGE_MISSING', exitCode: 2, try: ['lem images build a', 'lem images build c']});
    expect((error as Error).message).toContain('image(s) missing: lem/backend-a:1.2.3 (a), lem/backend-c:1.2.3 (c)');
  });

  it('a backend without an image is E_NO_IMAGE, before any inspect', async () => {
    const counter = {inspects: 0};
    const error = await checkImages(fakeEngine({}, counter), [backend('a'), backend('plain', {image: undefined})]).catch((e: unknown) => e);
    expect(error).toMatchObject({code: 'E_NO_IMAGE', exitCode: 2, try: ['--runner local   # run the server as a host process instead', expect.stringContaining('lem plugins install @lem/backend-plain')]});
    expect(counter.inspects).toBe(0);
  });

  it('an engine that does not answer is E_DOCKER_UNREACHABLE', async () => {
    const engine = {docker: {getImage: () => ({inspect: async () => Promise.reject(Object.assign(new Error('connect ENOENT'), {code: 'ENOENT'}))})}, host: 'unix:///gone.sock', remote: false} as unknown as DockerEngine;
    await expect(checkImages(engine, [backend('a')])).rejects.toMatchObject({code: 'E_DOCKER_UNREACHABLE'});
  });

  it('imageList: the statuses of backends with an image, by id, each once', async () => {
    const statuses = await imageList(fakeEngine({}), [backend('z'), backend('plain', {image: undefined}), backend('a'), backend('z')]);
    expect(statuses.map((i) => [i.backend, i.present])).toEqual([['a', false], ['z', false]]);
  });
});

describe('build preflight: a base that needs an unreachable registry fails at once', () => {
  const unreachable: RegistryProbe = async (host) => ({reachable: false, reason: `${host}: ENOTFOUND`});

  it('E_IMAGE_BASE_UNAVAILABLE names the base, the registry, the reason and the build argument', async () => {
    const error = await buildImage(fakeEngine({}), backend('a'), {probe: unreachable}).catch((e: unknown) => e);
    expect(error).toMatchObject({code: 'E_IMAGE_BASE_UNAVAILABLE', exitCode: 2});
    expect((error as Error).message).toContain('node:20-bookworm-slim');
    expect((error as Error).message).toContain('registry-1.docker.io: ENOTFOUND');
    expect((error as {try: string[]}).try).toEqual([
      'docker pull node:20-bookworm-slim where a registry is reachable, then docker save/docker load it here',
      expect.stringContaining('lem images build a --build-arg BASE=<a local image>'),
    ]);
  });

  it('a base on the engine, or a reachable registry, needs no probe or passes', async () => {
    const calls: string[] = [];
    const probe: RegistryProbe = async (host) => (calls.push(host), {reachable: true});
    await ensureBases(fakeEngine({'lem-test/base:latest': {Id: 'sha256:base'}}), [{ref: 'lem-test/base:latest', args: ['BASE']}], 'a', probe);
    expect(calls).toEqual([]);
    await ensureBases(fakeEngine({}), [{ref: 'node:20', args: []}, {ref: 'busybox', args: []}], 'a', probe);
    expect(calls).toEqual(['registry-1.docker.io']);
  });
});

describe('probeRegistry', () => {
  let silent: Server;
  let port: number;
  beforeAll(async () => {
    // Accepts connections and never answers: the TLS handshake would wait forever.
    silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    port = (silent.address() as {port: number}).port;
  });
  afterAll(() => silent.close());

  it('gives up after the timeout on a host that never answers', async () => {
    const t0 = performance.now();
    const answer = await probeRegistry(`127.0.0.1:${port}`, 300);
    expect(answer).toEqual({reachable: false, reason: expect.stringContaining('no answer')});
    expect(performance.now() - t0).toBeLessThan(2_000);
  });

  it('a name that does not resolve is unreachable', async () => {
    expect(await probeRegistry('registry.invalid', 3_000)).toEqual({reachable: false, reason: expect.stringMatching(/ENOTFOUND|EAI_AGAIN|no answer/)});
  });
});

describe('followBuild', () => {
  it('passes stream, status and error lines on; the first error is the outcome', async () => {
    const stream = new PassThrough();
    const lines: string[] = [];
    const done = followBuild(stream, (l) => lines.push(l), new Docker({socketPath: '/nonexistent.sock'}).modem);
    stream.write('{"stream":"Step 1/2 : FROM x\\n"}\n{"stat');
    stream.write('us":"Pulling","id":"abc"}\n{"status":"Pulling","id":"abc"}\n');
    stream.end('{"errorDetail":{"message":"boom"},"error":"boom"}\n');
    expect(await done).toEqual({error: 'boom', tail: ['Step 1/2 : FROM x', 'abc: Pulling', 'error: boom']});
    expect(lines).toEqual(['Step 1/2 : FROM x', 'abc: Pulling', 'error: boom']);
  });
});
