import {existsSync, readFileSync} from 'node:fs';
import {API_VERSION, readReportedSettings} from '@lem/plugin-kit';
import {parse as parseYaml} from 'yaml';
import {describe, expect, it} from 'vitest';
import {config, EVERY_OPTION, serverContext} from './__fixtures__/config.js';
import registerHook from './hooks/register.js';
import {backend, DOCKERFILE_PATH, ERROR_PATTERNS, IMAGE_REF, OPTIONS_FILE, REPORTED_SETTINGS, serverSpec, TRTLLM_BASE_IMAGE, TRTLLM_VERSION} from './index.js';
import {PLUGIN_VERSION} from './version.js';

const reported = (lines: string[]) => readReportedSettings(REPORTED_SETTINGS, lines);

// Start-up lines as TensorRT-LLM prints them (the format strings cited in index.ts, filled in).
const STARTUP_LOG = [
  '[12/02/2026-10:00:01] [TRT-LLM] [I] Using LLM with PyTorch backend',
  '[12/02/2026-10:00:40] [TRT-LLM] [W] Adjusted max_seq_len to 8224',
  '[TensorRT-LLM][INFO] Number of tokens per block: 32.',
  '[TensorRT-LLM][INFO] [MemUsageChange] Allocated 0.56 GiB for max tokens in paged KV cache (8224).',
  '[12/02/2026-10:00:41] [TRT-LLM] [I] max_seq_len=8224, max_num_requests=64, max_num_tokens=8192, max_batch_size=64',
];

/** A /metrics answer: the iteration statistics since the last call, newest last. */
const ITERATION_STATS = [
  {iter: 41, numActiveRequests: 7, numQueuedRequests: 0, kvCacheStats: {maxNumBlocks: 1000, usedNumBlocks: 100, freeNumBlocks: 900}},
  {iter: 42, numActiveRequests: 8, numQueuedRequests: 3, kvCacheStats: {maxNumBlocks: 1000, usedNumBlocks: 250, freeNumBlocks: 750}},
];
const pick = (doc: unknown, path: string): unknown => path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], doc);

describe('backend contribution', () => {
  it('describes itself: GPU only, containers only, its image and Dockerfile, completions and chat', () => {
    expect(backend).toMatchObject({kind: 'backend', id: 'tensorrt', displayName: 'TensorRT-LLM', gpu: 'required', local: false, fixedOutputLength: true, apis: ['completions', 'chat']});
    expect(backend.image).toEqual({ref: `lem/backend-tensorrt:${PLUGIN_VERSION}`, dockerfile: DOCKERFILE_PATH});
    expect(IMAGE_REF).toBe(`lem/backend-tensorrt:${PLUGIN_VERSION}`);
  });

  it('builds FROM the release image of the pinned TensorRT-LLM, by tag, with its entrypoint cleared', () => {
    expect(existsSync(DOCKERFILE_PATH)).toBe(true);
    const dockerfile = readFileSync(DOCKERFILE_PATH, 'utf8');
    expect(TRTLLM_BASE_IMAGE).toBe(`nvcr.io/nvidia/tensorrt-llm/release:${TRTLLM_VERSION}`);
    expect(dockerfile).toMatch(new RegExp(`^ARG BASE=${TRTLLM_BASE_IMAGE.replace(/[.]/g, '\\.')}\\nFROM \\$\\{BASE\\}$`, 'm'));
    expect(dockerfile).toMatch(/^ENTRYPOINT \[\]$/m);
    expect(dockerfile).not.toMatch(/@sha256:/);
  });

  it('ships its Dockerfile and reference, and depends on nothing but the plugin kit and zod', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {files: string[]; dependencies: Record<string, string>};
    expect(pkg.files).toEqual(expect.arrayContaining(['dist', 'docker', 'reference']));
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['@lem/plugin-kit', 'zod']);
  });

  it('registers through the lem:register hook', async () => {
    expect(await registerHook.call(undefined, {apiVersion: API_VERSION, lemVersion: '0.0.0'})).toEqual([backend]);
  });
});

describe('the server spec', () => {
  it('waits for /health and a first completion, stops with SIGTERM, reads metrics and the version', async () => {
    const spec = serverSpec(await config({}), serverContext);
    expect(spec.readiness).toEqual({healthPath: '/health', probe: 'completion', timeoutS: 2400});
    expect(spec.stop).toEqual({signal: 'SIGTERM', graceS: 30});
    expect(spec.versionProbe).toEqual({kind: 'http', path: '/version', pick: 'version'});
    expect(spec.metricsPath).toBe('/metrics');
    expect(spec.requestExtras).toEqual({ignore_eos: true});
    expect(spec.ipcHost).toBe(true);
    expect(spec.tokenizePath).toBeUndefined();
    expect(spec.errorPatterns).toBe(ERROR_PATTERNS);
  });

  it('generates the options file its argv names, in the workdir', async () => {
    const spec = serverSpec(await config(EVERY_OPTION), serverContext);
    expect(spec.files).toHaveLength(1);
    expect(spec.files![0]!.path).toBe(OPTIONS_FILE);
    expect(spec.argv[spec.argv.indexOf('--config') + 1]).toBe(`${serverContext.workdir}/${OPTIONS_FILE}`);
    expect(parseYaml(spec.files![0]!.contents)).toMatchObject({enable_iter_perf_stats: true, kv_cache_config: {dtype: 'fp8'}});
  });

  it('mounts a host model and a host draft model read-only; a hub id needs no mount', async () => {
    expect(serverSpec(await config(EVERY_OPTION), serverContext).mounts).toEqual([
      {hostPath: '/data/models/Llama-3.1-8B-Instruct-FP8', containerPath: '/models/Llama-3.1-8B-Instruct-FP8', readOnly: true},
      {hostPath: '/data/drafts/eagle3-llama', containerPath: '/draft-models/eagle3-llama', readOnly: true},
    ]);
    expect(serverSpec(await config({}), serverContext).mounts).toBeUndefined();
  });

  it("reads the running batch, the queue and KV-cache use from the newest of /metrics' iteration statistics", async () => {
    const {metrics} = serverSpec(await config({}), serverContext);
    expect(metrics).toEqual({format: 'json', running: 'numActiveRequests', waiting: 'numQueuedRequests', kvCacheUsage: 'kvCacheStats.usedNumBlocks/kvCacheStats.maxNumBlocks'});
    const newest = ITERATION_STATS.at(-1);
    const [used, max] = metrics!.kvCacheUsage!.split('/').map((p) => pick(newest, p) as number);
    expect([pick(newest, metrics!.running!), pick(newest, metrics!.waiting!), used! / max!]).toEqual([8, 3, 0.25]);
  });

  it('records the sizes TensorRT-LLM settles at start-up from its log', () => {
    expect(reported(STARTUP_LOG)).toEqual({max_seq_len: 8224, max_batch_size: 64, max_num_tokens: 8192, kv_cache_tokens_per_block: 32, kv_cache_memory_gib: 0.56, kv_cache_tokens: 8224});
    expect(reported(['[TRT-LLM] [I] max_seq_len=131072, max_num_requests=2048, max_num_tokens=8192'])).toEqual({max_seq_len: 131072, max_batch_size: 2048, max_num_tokens: 8192});
  });

  it('classifies out-of-memory and bad-configuration output', () => {
    const matches = (kind: 'resource' | 'config', line: string) => ERROR_PATTERNS[kind].some((p) => line.includes(p));
    expect(matches('resource', 'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB')).toBe(true);
    expect(matches('config', "Error: Invalid value for '--backend': 'vllm' is not one of 'pytorch', 'tensorrt', '_autodeploy'.")).toBe(true);
    expect(matches('config', '1 validation error for TorchLlmArgs\nkv_cache_config.dtyp\n  Extra inputs are not permitted')).toBe(true);
    expect(matches('resource', '[TensorRT-LLM][INFO] [MemUsageChange] Allocated 0.56 GiB for max tokens in paged KV cache (8224).')).toBe(false);
  });
});
