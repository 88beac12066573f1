import {createHash} from 'node:crypto';
import {createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync} from 'node:fs';
import {createServer, type Server} from 'node:http';
import type {AddressInfo} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest';
import type {EnvironmentInfo} from '../experiment/environment.js';
import {LOCKED_CLOCKS_REASON, probeNvml, type NvmlDeviceInfo} from '../meters/nvml.js';
import {compileFakeNvml} from '../meters/__fixtures__/fake-nvml.js';
import {collectProvenance, hashModel, MODEL_HASH_CACHE_FILE, pickVersion, probeEngineVersion, redactArgv, type ModelHash} from './provenance.js';

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'lem-provenance-'));
});
afterEach(() => rmSync(root, {recursive: true, force: true}));

/** A reader that counts the bytes it delivers: a cache hit reads none. */
function countingReader() {
  const counter = {bytes: 0, files: [] as string[]};
  const openRead = async function* (path: string) {
    counter.files.push(path);
    for await (const chunk of createReadStream(path, {highWaterMark: 4096})) {
      counter.bytes += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  };
  return {counter, openRead};
}

describe('hashModel', () => {
  it('a file: streaming sha256 of its bytes', async () => {
    const file = join(root, 'tiny.gguf');
    writeFileSync(file, 'abc');
    expect(await hashModel(file)).toEqual({kind: 'file', path: file, sizeBytes: 3, sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'});
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    writeFileSync(file, big);
    expect(await hashModel('tiny.gguf', {cwd: root})).toMatchObject({kind: 'file', path: file, sizeBytes: big.length, sha256: sha256(big)});
  });

  it('a folder: sha256 over the sorted (path, size, sha256) of its files; links followed, dot-folders skipped', async () => {
    const dir = join(root, 'model');
    mkdirSync(join(dir, 'sub'), {recursive: true});
    mkdirSync(join(dir, '.cache', 'huggingface'), {recursive: true});
    writeFileSync(join(dir, 'config.json'), '{"a":1}');
    writeFileSync(join(dir, 'sub', 'weights.safetensors'), 'weights!');
    writeFileSync(join(dir, '.cache', 'huggingface', 'download.lock'), 'bookkeeping');
    writeFileSync(join(root, 'blob'), 'tokenizer');
    symlinkSync(join(root, 'blob'), join(dir, 'tokenizer.json'));

    const result = (await hashModel(dir)) as Extract<ModelHash, {kind: 'folder'}>;
    const files = [
      {path: 'config.json', sizeBytes: 7, sha256: sha256('{"a":1}')},
      {path: 'sub/weights.safetensors', sizeBytes: 8, sha256: sha256('weights!')},
      {path: 'tokenizer.json', sizeBytes: 9, sha256: sha256('tokenizer')},
    ];
    const expected = sha256(files.map((f) => `${f.path}\0${f.sizeBytes}\0${f.sha256}\n`).join(''));
    expect(result).toEqual({kind: 'folder', path: dir, sizeBytes: 24, fileCount: 3, sha256: expected, files});

    // Download bookkeeping does not change the identity; one byte of a weight file does; so does a rename.
    writeFileSync(join(dir, '.cache', 'huggingface', 'download.lock'), 'other bookkeeping');
    expect((await hashModel(dir)) as {sha256: string}).toMatchObject({sha256: expected});
    writeFileSync(join(dir, 'sub', 'weights.safetensors'), 'weights?');
    const changed = ((await hashModel(dir)) as {sha256: string}).sha256;
    expect(changed).not.toBe(expected);
    writeFileSync(join(dir, 'sub', 'weights.safetensors'), 'weights!');
    rmSync(join(dir, 'config.json'));
    writeFileSync(join(dir, 'config2.json'), '{"a":1}');
    expect(((await hashModel(dir)) as {sha256: string}).sha256).not.toBe(expected);
  });

  it('a large file is hashed once: the second call reads no bytes (cache keyed by path, size, mtime)', async () => {
    const file = join(root, 'model.gguf');
    const data = Buffer.alloc(200_000, 3);
    writeFileSync(file, data);
    const cacheDir = join(root, 'cache');
    const {counter, openRead} = countingReader();

    const first = await hashModel(file, {cacheDir, cacheMinBytes: 100_000, openRead});
    expect(counter.bytes).toBe(200_000);
    const cached = JSON.parse(readFileSync(join(cacheDir, MODEL_HASH_CACHE_FILE), 'utf8')) as {version: number; files: Record<string, {sha256: string}>};
    expect(cached.version).toBe(1);
    expect(cached.files[file]?.sha256).toBe(sha256(data));

    const second = await hashModel(file, {cacheDir, cacheMinBytes: 100_000, openRead});
    expect(second).toEqual(first);
    expect(counter.bytes).toBe(200_000);

    // A new mtime (same size) invalidates the entry.
    utimesSync(file, new Date(), new Date(Date.now() + 5_000));
    expect(await hashModel(file, {cacheDir, cacheMinBytes: 100_000, openRead})).toEqual(first);
    expect(counter.bytes).toBe(400_000);
    // …and the cache remembers the new one.
    await hashModel(file, {cacheDir, cacheMinBytes: 100_000, openRead});
    expect(counter.bytes).toBe(400_000);
  });

  it('a cached hash is never trusted over a changed size, and small files are not cached', async () => {
    const file = join(root, 'model.gguf');
    writeFileSync(file, Buffer.alloc(1_000, 1));
    const cacheDir = join(root, 'cache');
    const {counter, openRead} = countingReader();
    await hashModel(file, {cacheDir, cacheMinBytes: 0, openRead});
    const mtime = new Date(Date.now() - 60_000);
    writeFileSync(file, Buffer.alloc(1_001, 1));
    utimesSync(file, mtime, mtime);
    expect(await hashModel(file, {cacheDir, cacheMinBytes: 0, openRead})).toMatchObject({sha256: sha256(Buffer.alloc(1_001, 1))});
    expect(counter.bytes).toBe(2_001);

    const small = join(root, 'small.bin');
    writeFileSync(small, 'x');
    await hashModel(small, {cacheDir, openRead});
    await hashModel(small, {cacheDir, openRead});
    expect(counter.bytes).toBe(2_003);
    expect(Object.keys((JSON.parse(readFileSync(join(cacheDir, MODEL_HASH_CACHE_FILE), 'utf8')) as {files: object}).files)).toEqual([file]);
  });

  it('the cache serves every file of a folder, and a corrupt cache file is ignored and rewritten', async () => {
    const dir = join(root, 'model');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.safetensors'), Buffer.alloc(5_000, 1));
    writeFileSync(join(dir, 'b.safetensors'), Buffer.alloc(6_000, 2));
    const cacheDir = join(root, 'cache');
    mkdirSync(cacheDir);
    writeFileSync(join(cacheDir, MODEL_HASH_CACHE_FILE), '{not json');
    const {counter, openRead} = countingReader();
    const first = await hashModel(dir, {cacheDir, cacheMinBytes: 0, openRead});
    expect(counter.bytes).toBe(11_000);
    expect(await hashModel(dir, {cacheDir, cacheMinBytes: 0, openRead})).toEqual(first);
    expect(counter.bytes).toBe(11_000);
  });

  it('a hub id is recorded as such; a missing path is unavailable, not a throw', async () => {
    expect(await hashModel('Qwen/Qwen2.5-0.5B-Instruct', {cwd: root})).toEqual({kind: 'hub', id: 'Qwen/Qwen2.5-0.5B-Instruct', revision: null});
    expect(await hashModel('gpt2', {cwd: root})).toEqual({kind: 'hub', id: 'gpt2', revision: null});
    expect(await hashModel('./models/missing.gguf', {cwd: root})).toEqual({kind: 'unavailable', path: join(root, 'models/missing.gguf'), error: 'ENOENT'});
    expect(await hashModel('models/missing.gguf', {cwd: root})).toMatchObject({kind: 'unavailable', error: 'ENOENT'});
    const dir = join(root, 'broken');
    mkdirSync(dir);
    symlinkSync(join(root, 'nowhere'), join(dir, 'weights.bin'));
    expect(await hashModel(dir)).toEqual({kind: 'unavailable', path: dir, error: 'ENOENT'});
  });
});

describe('probeEngineVersion over real HTTP on 127.0.0.1', () => {
  let server: Server;
  let baseUrl: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/version') return res.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify({version: '0.6.3.post1', build: {commit: 'abc123', number: 4567}}));
      if (req.url === '/info') return res.writeHead(200, {'content-type': 'text/plain'}).end('llama.cpp server\nbuild: 4567 (abc123) with gcc 12\n');
      if (req.url === '/plain') return res.writeHead(200).end('v2.1.0\n');
      if (req.url === '/fail') return res.writeHead(500).end('internal error: model not loaded');
      if (req.url === '/slow') return; // never answers
      res.writeHead(404).end('not found');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('JSON: the `version` field by default, or a dotted path', async () => {
    expect(await probeEngineVersion(baseUrl, {kind: 'http', path: '/version'})).toMatchObject({version: '0.6.3.post1'});
    expect(await probeEngineVersion(`${baseUrl}/v1`, {kind: 'http', path: '/version', pick: 'build.commit'})).toMatchObject({version: 'abc123'});
    const numeric = await probeEngineVersion(baseUrl, {kind: 'http', path: '/version', pick: 'build.number'});
    expect(numeric).toEqual({version: '4567', raw: expect.stringContaining('"commit":"abc123"')});
  });

  it('text: a regular expression group, or a one-line answer itself', async () => {
    expect(await probeEngineVersion(baseUrl, {kind: 'http', path: '/info', pick: 'build: (\\d+ \\(\\w+\\))'})).toMatchObject({version: '4567 (abc123)'});
    expect(await probeEngineVersion(baseUrl, {kind: 'http', path: '/plain'})).toMatchObject({version: 'v2.1.0'});
    expect(await probeEngineVersion(baseUrl, {kind: 'http', path: '/info'})).toMatchObject({version: null, error: 'no version found in the answer'});
    expect(await probeEngineVersion(baseUrl, {kind: 'http', path: '/info', pick: 'release (\\S+)'})).toMatchObject({version: null, error: expect.stringContaining('found nothing')});
  });

  it('HTTP 500 → null with the status and the body', async () => {
    expect(await probeEngineVersion(baseUrl, {kind: 'http', path: '/fail'})).toEqual({version: null, raw: 'internal error: model not loaded', error: `GET ${baseUrl}/fail answered HTTP 500`});
  });

  it('unreachable → null with the reason; no answer → null after the timeout', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    expect(await probeEngineVersion(`http://127.0.0.1:${port}`, {kind: 'http', path: '/version'})).toEqual({version: null, error: `GET http://127.0.0.1:${port}/version failed: ECONNREFUSED`});
    expect(await probeEngineVersion(baseUrl, {kind: 'http', path: '/slow'}, {timeoutMs: 200})).toEqual({version: null, error: `GET ${baseUrl}/slow failed: no answer within 0.2 s`});
  });

  it('no probe → null with a reason', async () => {
    expect(await probeEngineVersion(baseUrl, undefined)).toEqual({version: null, error: 'the backend declares no version probe'});
  });
});

describe('probeEngineVersion by exec', () => {
  const node = process.execPath;
  it('runs the command and takes its output', async () => {
    expect(await probeEngineVersion('', {kind: 'exec', argv: [node, '-e', "console.log('v1.2.3')"]})).toEqual({version: 'v1.2.3', raw: 'v1.2.3\n'});
    expect(await probeEngineVersion('', {kind: 'exec', argv: [node, '-e', "console.error('tool 4.5.6 (cuda 12.4)')"], pick: '(\\d+\\.\\d+\\.\\d+)'})).toMatchObject({version: '4.5.6'});
    expect(await probeEngineVersion('', {kind: 'exec', argv: [node, '-e', "console.log(JSON.stringify({engine: {version: '9.9'}}))"], pick: 'engine.version'})).toMatchObject({version: '9.9'});
  });

  it('a failing, missing or hanging command → null with the reason', async () => {
    expect(await probeEngineVersion('', {kind: 'exec', argv: [node, '-e', "console.error('boom'); process.exit(3)"]})).toMatchObject({version: null, error: expect.stringContaining('exited with 3: boom')});
    expect(await probeEngineVersion('', {kind: 'exec', argv: [join(root, 'no-such-binary')]})).toEqual({version: null, error: `could not run \`${join(root, 'no-such-binary')}\`: ENOENT`});
    const started = performance.now();
    const hung = await probeEngineVersion('', {kind: 'exec', argv: [node, '-e', 'setTimeout(() => {}, 30000)']}, {timeoutMs: 300});
    expect(hung).toMatchObject({version: null, error: expect.stringContaining('timed out after 0.3 s')});
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});

describe('pickVersion', () => {
  it('prefers a JSON path, falls back to a regular expression, reports a bad one', () => {
    expect(pickVersion('{"v": {"x": "1.0"}}', 'v.x').version).toBe('1.0');
    expect(pickVersion('{"v": "1.0"}', '"v": "([^"]+)"').version).toBe('1.0');
    expect(pickVersion('version 3', '(').error).toContain('neither a path into the JSON answer nor a valid regular expression');
    expect(pickVersion('{"name": "x"}', undefined).error).toContain('no "version" field');
    expect(pickVersion('Welcome!\nThis is engine v0.4.2-rc1 built today\n', undefined).version).toBe('v0.4.2-rc1');
  });
});

describe('collectProvenance', () => {
  const environment: EnvironmentInfo = {
    lemVersion: '0.1.0',
    node: 'v20.20.2',
    platform: 'linux-x64',
    osRelease: 'Debian GNU/Linux 12 (bookworm)',
    kernel: '6.1.0-18-amd64',
    cpuModel: 'AMD EPYC 7B13',
    logicalCpus: 2,
    memoryBytes: 8 * 1024 ** 3,
    hostname: 'box',
  };

  it('records the Slurm job the run ran in, from the variables Slurm sets in every job', () => {
    const inJob = collectProvenance({lemVersion: '0.1.0', plugins: [], environment, processEnv: {SLURM_JOB_ID: '4242', SLURMD_NODENAME: 'gpu07', SLURM_JOB_PARTITION: 'gpu', SLURM_CLUSTER_NAME: 'big', SLURM_JOB_GPUS: '3'}});
    expect(inJob.slurm).toEqual({jobId: '4242', node: 'gpu07', partition: 'gpu', cluster: 'big', jobGpus: '3'});
    expect(collectProvenance({lemVersion: '0.1.0', plugins: [], environment, processEnv: {SLURMD_NODENAME: 'gpu07'}}).slurm).toBeNull();
  });

  it('gathers everything into one plain object', () => {
    const gpu = {name: 'NVIDIA H100 80GB HBM3', uuid: 'GPU-8f6a', driver: '550.54.15', powerLimitW: 700, persistenceMode: true, clocks: {smMHz: 1980}};
    const model: ModelHash = {kind: 'file', path: '/m/tiny.gguf', sizeBytes: 3, sha256: 'ab'};
    const provenance = collectProvenance({
      lemVersion: '0.1.0',
      plugins: [
        {name: '@lem/backend-vllm', version: '0.2.0'},
        {name: '@lem/backend-llamacpp', version: '0.1.0'},
      ],
      engine: {version: '0.6.3', raw: '{"version":"0.6.3"}'},
      serverArgv: ['vllm', 'serve', 'Qwen/Qwen2.5-0.5B', '--api-key', 'sk-live-123', '--hf-token=hf_abc', '--max-num-batched-tokens', '8192', '--tokenizer', 'Qwen/Qwen2.5-0.5B'],
      model,
      gpus: [gpu],
      container: {image: 'lem/vllm:0.6.3', digest: 'sha256:0123'},
      environment,
      processEnv: {},
    });
    expect(provenance).toEqual({
      lem: {version: '0.1.0'},
      plugins: [
        {name: '@lem/backend-llamacpp', version: '0.1.0'},
        {name: '@lem/backend-vllm', version: '0.2.0'},
      ],
      engine: {version: '0.6.3', raw: '{"version":"0.6.3"}'},
      server: {argv: ['vllm', 'serve', 'Qwen/Qwen2.5-0.5B', '--api-key', '[redacted]', '--hf-token=[redacted]', '--max-num-batched-tokens', '8192', '--tokenizer', 'Qwen/Qwen2.5-0.5B']},
      model,
      host: {cpuModel: 'AMD EPYC 7B13', logicalCpus: 2, memoryBytes: 8 * 1024 ** 3, os: 'Debian GNU/Linux 12 (bookworm)', platform: 'linux-x64', kernel: '6.1.0-18-amd64', node: 'v20.20.2', hostname: 'box'},
      gpus: [gpu],
      container: {image: 'lem/vllm:0.6.3', digest: 'sha256:0123'},
      slurm: null,
    });
    // Plain data: it survives JSON unchanged.
    expect(JSON.parse(JSON.stringify(provenance))).toEqual(provenance);
  });

  it('a GPU as NVML probed it keeps its clocks, each null one with why, and later changes to the probe do not reach it', () => {
    const fake = compileFakeNvml();
    try {
      fake.use({
        driver: '550.54.15',
        devices: [{uuid: 'GPU-8f6a', name: 'NVIDIA A100-SXM4-80GB', architecture: 7, clocks: {max: {sm: 1410, mem: 1593}, app: {sm: 1275, mem: 'unsupported'}, default_app: {sm: 1095, mem: 1593}}}],
      });
      const probe = probeNvml({libraryPath: fake.libraryPath});
      if (!probe.available) throw new Error(probe.reason);
      const device: NvmlDeviceInfo = probe.devices[0]!;
      const provenance = collectProvenance({lemVersion: '0.1.0', plugins: [], gpus: [{...device, driverVersion: probe.driverVersion}], environment});
      const expected = {
        index: 0,
        uuid: 'GPU-8f6a',
        name: 'NVIDIA A100-SXM4-80GB',
        energyCounter: true,
        powerLimitW: 700,
        persistenceMode: true,
        architecture: 'ampere',
        clocks: {
          maxSmMhz: 1410,
          maxMemoryMhz: 1593,
          applicationsSmMhz: 1275,
          applicationsMemoryMhz: null,
          defaultApplicationsSmMhz: 1095,
          defaultApplicationsMemoryMhz: 1593,
          lockedSmMhz: null,
          lockedMemoryMhz: null,
        },
        nullReasons: {
          'clocks.applicationsMemoryMhz': 'nvmlDeviceGetApplicationsClock: Not Supported (NVML_ERROR_NOT_SUPPORTED)',
          'clocks.lockedSmMhz': LOCKED_CLOCKS_REASON,
          'clocks.lockedMemoryMhz': LOCKED_CLOCKS_REASON,
        },
        driverVersion: '550.54.15',
      };
      expect(provenance.gpus).toEqual([expected]);
      device.clocks.maxSmMhz = 0;
      device.nullReasons.extra = 'changed';
      expect(provenance.gpus).toEqual([expected]);
    } finally {
      fake.cleanup();
    }
  });

  it('absent parts are null or empty; the host comes from environmentInfo by default; redact applies to argv and the raw answer', () => {
    const provenance = collectProvenance({
      lemVersion: '0.1.0',
      plugins: [],
      serverArgv: ['server', '--url', 'https://user:s3cret-value@host/'],
      engine: {version: null, raw: 'key=s3cret-value', error: 'HTTP 500'},
      redact: (text) => text.split('s3cret-value').join('${SECRET}'),
    });
    expect(provenance).toMatchObject({engine: {version: null, raw: 'key=${SECRET}', error: 'HTTP 500'}, model: null, gpus: [], container: null});
    expect(provenance.server?.argv).toEqual(['server', '--url', 'https://user:${SECRET}@host/']);
    expect(provenance.host.logicalCpus).toBeGreaterThan(0);
    expect(provenance.host.kernel).not.toBe('');
    expect(collectProvenance({lemVersion: '0.1.0', plugins: []})).toMatchObject({engine: null, server: null});
  });

  it('redactArgv: whole words only', () => {
    expect(redactArgv(['--token', 'a', '--auth-token', 'b', '--api_key=c', '-apikey', 'd', '--tokenizer-mode', 'auto', '--max-tokens', '5', '--password', '--next'])).toEqual([
      '--token', '[redacted]', '--auth-token', '[redacted]', '--api_key=[redacted]', '-apikey', '[redacted]', '--tokenizer-mode', 'auto', '--max-tokens', '5', '--password', '--next',
    ]);
  });
});
