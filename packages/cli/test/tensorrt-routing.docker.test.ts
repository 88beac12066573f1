/**
 * Routing, with real containers: a llama.cpp + TensorRT-LLM campaign runs every run in its own
 * backend's image with its own argv. No GPU or TensorRT-LLM image can be had here, so the
 * TensorRT-LLM image is a stand-in tagged with the tensorrt plugin's own image reference
 * (docker/test/trtllm-serve-shim): its `trtllm-serve` records the argv and options file lem gave
 * it, then serves the tiny model with the embedded server. GPUs are simulated at the lowest
 * boundary only: a fake NVML library on the host, and the engine's stand-in NVIDIA hook
 * (docker/engine.sh), which lets dockerd accept the GPU device request. The tensorrt plugin is not
 * bundled: it is linked into this home with `lem plugins link`, as a developer would.
 */
import {execFileSync, spawn} from 'node:child_process';
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import type {BackendContribution} from '@lem/plugin-kit';
import {compileFakeNvml, type FakeNvml} from '../../core/src/meters/__fixtures__/fake-nvml.js';
import {docker, engineMissing, REPO, resultsOf as resultsOfRun} from './__fixtures__/docker-cli.js';
import {freshHome, lem} from './helpers.js';

const version = (plugin: string) => (JSON.parse(readFileSync(join(REPO, 'plugins', plugin, 'package.json'), 'utf8')) as {version: string}).version;
const LLAMA_IMAGE = `lem/backend-llamacpp:${version('backend-llamacpp')}`;
const TRT_IMAGE = `lem/backend-tensorrt:${version('backend-tensorrt')}`;
const GPU = 'GPU-7a7a7a7a-1111-2222-3333-444444444444';

const missing = engineMissing();

interface Result {
  status: string;
  experiment: {name: string};
  backend: {id: string; runner: string; argv: string[]; container: {imageRef: string; name: string} | null};
  metrics: {tokens: {output: number}; outputTokensPerS: number | null; energy: {available: boolean; energyJ: number | null; energyPerOutputTokenJ?: number | null; channels?: Array<{meter: string; channel: string; energyJ: number}>}} | null;
}

/** The server's own argv in a result's `backend.argv`, which is lem's container wrapper (`lem-serve <grace> <pidfile> <signal> -- …`) around it. */
const serverArgv = (argv: string[]): string[] => (argv[0] === 'lem-serve' ? argv.slice(argv.indexOf('--') + 1) : argv);

const resultsOf = (cwd: string): Result[] => resultsOfRun<Result>(cwd);

let home: string;
let dir: string;
let model: string;
let records: string;
let fake: FakeNvml;
let script: string;

beforeAll(async () => {
  if (missing) return;
  execFileSync('bash', [join(REPO, 'docker/build-test-images.sh'), 'tensorrt-shim'], {stdio: 'inherit'});
  home = freshHome();
  dir = mkdtempSync(join(tmpdir(), 'lem-trt-routing-'));
  records = join(dir, 'records');
  mkdirSync(records);
  model = join(dir, 'models', 'tiny.gguf');
  mkdirSync(join(dir, 'models'));
  const {writeTinyModel} = (await import(new URL('../../../plugins/backend-llamacpp/dist/index.js', import.meta.url).href)) as {writeTinyModel: (p: string, o: {seed: number}) => Promise<unknown>};
  await writeTinyModel(model, {seed: 1});
  fake = compileFakeNvml();
  script = fake.use({driver: '555.42.06', devices: [{uuid: GPU, name: 'Fake H100', powerW: 120}]});
  const linked = lem(['plugins', 'link', join(REPO, 'plugins/backend-tensorrt'), '--no-install'], {home});
  expect(linked.status, linked.stderr).toBe(0);
}, 180_000);

afterAll(() => {
  if (missing) return;
  fake?.cleanup();
});

/** `docker events` for lem's containers while `body` runs: each created container's image and labels. */
async function watchCreates<T>(body: () => T): Promise<{value: T; creates: Array<Record<string, string>>}> {
  const events = spawn('docker', ['events', '--filter', 'type=container', '--filter', 'event=create', '--filter', 'label=lem.managed=true', '--format', '{{json .Actor.Attributes}}'], {stdio: ['ignore', 'pipe', 'inherit']});
  let text = '';
  events.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  // The stream is open once docker has connected; a container made before then would be missed.
  await new Promise((resolve) => setTimeout(resolve, 500));
  try {
    const value = body();
    await new Promise((resolve) => setTimeout(resolve, 500));
    return {value, creates: text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, string>)};
  } finally {
    events.kill();
  }
}

const CAMPAIGN = () => `name: routing
model: ${model}
# Synthetic prompts of ~16 words: the tensorrt backend has no tokenizer route to cut prompts with.
dataset:
  kind: synthetic
  n_prompts: 4
  input_tokens: 16
workload:
  max_output_tokens: 8
warmup:
  mode: fixed
  requests: 1
measure:
  baseline_s: 0.2
  idle_settle_s: 0
cycles: 1
gaps:
  between_experiments_s: 0
  between_cycles_s: 0
experiments:
  - {name: llama, backend: llamacpp, llamacpp: {threads: 1}}
  - {name: trt, backend: tensorrt, gpus: [0], tensorrt: {model_path: ${dirname(model)}}}
`;

describe.skipIf(Boolean(missing))(`TensorRT-LLM routing in real containers${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('a llamacpp + tensorrt campaign runs each run in its own image, with its own argv, options file, GPUs and labels, and reports both', async () => {
    const cwd = join(dir, 'project');
    mkdirSync(cwd);
    writeFileSync(join(cwd, '.lem-config.yaml'), `docker:\n  mounts: ["/usr:/usr:ro", "${REPO}:${REPO}:ro", "${records}:/records"]\n`);
    writeFileSync(join(cwd, 'campaign.yaml'), CAMPAIGN());
    const env = {LEM_NVML_LIBRARY: fake.libraryPath, FAKE_NVML_SCRIPT: script};

    const plan = lem(['campaign', 'run', 'campaign.yaml', '--dry-run'], {home, cwd, env});
    expect(plan.status, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/runner:? +docker.*multi-backend campaign/i);

    const {value: run, creates} = await watchCreates(() => lem(['campaign', 'run', 'campaign.yaml', '--json'], {home, cwd, env}));
    expect(run.status, run.stderr || run.stdout.slice(-4000)).toBe(0);
    const results = resultsOf(cwd);
    const llama = results.find((r) => r.backend.id === 'llamacpp')!;
    const trt = results.find((r) => r.backend.id === 'tensorrt')!;
    expect([llama.status, trt.status]).toEqual(['completed', 'completed']);

    // Each run in its own backend's image, with its own launcher.
    expect(llama.backend).toMatchObject({runner: 'docker', container: {imageRef: LLAMA_IMAGE}});
    expect(serverArgv(llama.backend.argv)[0]).toBe('/opt/lem/bin/lem-llamacpp-server');
    expect(trt.backend).toMatchObject({runner: 'docker', container: {imageRef: TRT_IMAGE}});
    expect(serverArgv(trt.backend.argv)[0]).toBe('trtllm-serve');

    // The containers the engine made: one per run, each labelled with its backend and image.
    expect(creates.map((c) => [c['lem.backend'], c.image, c['lem.experiment']]).sort()).toEqual([
      ['llamacpp', LLAMA_IMAGE, expect.stringContaining('llama')],
      ['tensorrt', TRT_IMAGE, expect.stringContaining('trt')],
    ]);

    // What trtllm-serve was started with, as it recorded it: exactly the argv lem reports, and the options file it names.
    const argvFiles = readdirSync(records).filter((f) => f.endsWith('.argv'));
    expect(argvFiles).toHaveLength(1);
    const id = argvFiles[0]!.replace(/\.argv$/, '');
    const recorded = readFileSync(join(records, `${id}.argv`), 'utf8').trimEnd().split('\n');
    expect(recorded).toEqual(serverArgv(trt.backend.argv).slice(1));
    const optionsFlag = recorded.findIndex((a) => a === '--extra_llm_api_options' || a === '--config');
    expect(optionsFlag).toBeGreaterThan(0);
    // The options file is the one the plugin generates for this run's section (its defaults here), byte for byte.
    const options = readFileSync(join(records, `${id}.options.yaml`), 'utf8');
    const plugin = (await import(new URL('../../../plugins/backend-tensorrt/dist/index.js', import.meta.url).href)) as {backend: BackendContribution};
    const validated = await plugin.backend.configSchema['~standard'].validate({});
    if (validated.issues) throw new Error('the tensorrt defaults do not validate');
    const optionsPath = recorded[optionsFlag + 1]!;
    const spec = plugin.backend.server(validated.value, {model: dirname(model), port: 0, gpus: [GPU], workdir: dirname(optionsPath), threads: 1, runner: 'docker'});
    expect(spec.files?.map((f) => join(dirname(optionsPath), f.path))).toContain(optionsPath);
    expect(options).toBe(spec.files!.find((f) => join(dirname(optionsPath), f.path) === optionsPath)!.contents);
    // TensorRT-LLM serves a checkpoint folder: the model's folder, mounted read-only under /models.
    expect(recorded[1]).toBe('/models/models');
    // The GPU lem selected reached the engine as a device request (the engine's NVIDIA driver set this).
    expect(readFileSync(join(records, `${id}.env`), 'utf8')).toContain(`NVIDIA_VISIBLE_DEVICES=${GPU}`);

    // Figures for both: tokens and throughput; energy on the (fake) GPU for the TensorRT-LLM run.
    for (const r of [llama, trt]) {
      expect(r.metrics!.tokens.output).toBe(4 * 8);
      expect(r.metrics!.outputTokensPerS).toBeGreaterThan(0);
      expect(r.metrics!.energy).toMatchObject({available: true, energyPerOutputTokenJ: expect.any(Number)});
    }
    expect(trt.metrics!.energy.channels!.filter((c) => c.meter === 'nvml').map((c) => c.channel)).toEqual([GPU]);
    expect(llama.metrics!.energy.channels!.some((c) => c.meter === 'nvml')).toBe(false);
    expect(docker('ps', '-a', '-q', '--filter', 'label=lem.managed=true')).toBe('');
  });
});
