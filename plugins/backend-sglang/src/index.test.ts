import {existsSync, readFileSync} from 'node:fs';
import {API_VERSION, readReportedSettings} from '@lem/plugin-kit';
import {describe, expect, it} from 'vitest';
import {config, EVERY_OPTION, serverContext} from './__fixtures__/config.js';
import registerHook from './hooks/register.js';
import {backend, DOCKERFILE_PATH, ERROR_PATTERNS, IMAGE_REF, REPORTED_SETTINGS, serverSpec, SGLANG_BASE_IMAGE, SGLANG_VERSION, SHM_SIZE_BYTES} from './index.js';
import {PLUGIN_VERSION} from './version.js';

const reported = (lines: string[]) => readReportedSettings(REPORTED_SETTINGS, lines);

/**
 * The launcher's `server_args=ServerArgs(…)` line: the ServerArgs dataclass repr of 0.5.18, every
 * field in its order at its default, with the values SGLang resolves for an 8B model on one H200.
 */
const SERVER_ARGS_LINE = readFileSync(new URL('./__fixtures__/server-args-line.txt', import.meta.url), 'utf8').trimEnd();

// Lines as SGLang 0.5.18 prints them: each message is its source's format string (cited in
// index.ts) filled in, behind the launcher's "[time]" and a scheduler's "[time TPn]" prefixes.
const STARTUP_LOG = [
  SERVER_ARGS_LINE,
  '[2026-12-03 10:00:31] Load weight end. elapsed=5.12 s, type=LlamaForCausalLM, avail mem=124.37 GB, mem usage=15.06 GB.',
  '[2026-12-03 10:00:31] KV Cache is allocated. dtype: torch.bfloat16, #tokens: 857322, K size: 52.33 GB, V size: 52.33 GB',
  '[2026-12-03 10:00:33] Capture target decode CUDA graph begin. backend=full, num_tokens_per_req=1, bs=[1, 2, 4, 8, 256], avail mem=18.94 GB',
  '[2026-12-03 10:00:41] Capture target decode CUDA graph end. elapsed=8.03 s, mem usage=0.87 GB, avail mem=18.07 GB.',
  '[2026-12-03 10:00:42] max_total_num_tokens=857322, chunked_prefill_size=8192, max_prefill_tokens=16384, max_running_requests=4096, context_len=131072, available_gpu_mem=16.21 GB',
  '[2026-12-03 10:00:50] The server is fired up and ready to roll!',
];

describe('backend contribution', () => {
  it('describes itself: GPU only, containers only, its image and Dockerfile', () => {
    expect(backend).toMatchObject({kind: 'backend', id: 'sglang', displayName: 'SGLang', gpu: 'required', local: false, fixedOutputLength: true, apis: ['completions', 'chat']});
    expect(backend.image).toEqual({ref: `lem/backend-sglang:${PLUGIN_VERSION}`, dockerfile: DOCKERFILE_PATH});
    expect(IMAGE_REF).toBe(`lem/backend-sglang:${PLUGIN_VERSION}`);
    expect(backend.jsonSchema.type).toBe('object');
  });

  it('builds FROM the official image of the pinned SGLang, by tag, with its entrypoint cleared', () => {
    expect(existsSync(DOCKERFILE_PATH)).toBe(true);
    const dockerfile = readFileSync(DOCKERFILE_PATH, 'utf8');
    expect(SGLANG_BASE_IMAGE).toBe(`lmsysorg/sglang:v${SGLANG_VERSION}-cu129`);
    expect(dockerfile).toMatch(new RegExp(`^ARG BASE=${SGLANG_BASE_IMAGE.replace(/[.]/g, '\\.')}\\nFROM \\$\\{BASE\\}$`, 'm'));
    expect(dockerfile).toMatch(/^ENTRYPOINT \[\]$/m);
    expect(dockerfile).toMatch(/^CMD \[\]$/m);
    expect(dockerfile).not.toMatch(/@sha256:/);
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {files: string[]};
    expect(pkg.files).toEqual(expect.arrayContaining(['docker', 'reference']));
  });

  it('registers through the lem:register hook', async () => {
    expect(await registerHook.call(undefined, {apiVersion: API_VERSION, lemVersion: '0.0.0'})).toEqual([backend]);
  });
});

describe('the server spec', () => {
  it('waits for /health and a first completion, stops with SIGTERM, reads metrics and the version', async () => {
    const spec = serverSpec(await config({startup_timeout_s: 900}), serverContext);
    expect(spec.port).toBe(18123);
    expect(spec.argv.slice(0, 3)).toEqual(['python3', '-m', 'sglang.launch_server']);
    expect(spec.env).toEqual({});
    expect(spec.files).toBeUndefined();
    expect(spec.readiness).toEqual({healthPath: '/health', probe: 'completion', timeoutS: 900});
    expect(spec.stop).toEqual({signal: 'SIGTERM', graceS: 30});
    expect(spec.metricsPath).toBe('/metrics');
    expect(spec.metrics).toEqual({format: 'prometheus', running: 'sglang:num_running_reqs', waiting: 'sglang:num_queue_reqs', kvCacheUsage: 'sglang:token_usage'});
    expect(spec.versionProbe).toEqual({kind: 'http', path: '/server_info', pick: 'version'});
    expect(spec.requestExtras).toEqual({ignore_eos: true});
    expect(spec.tokenizePath).toBeUndefined();
    expect(spec.reportedSettings).toBe(REPORTED_SETTINGS);
    expect(spec.errorPatterns).toBe(ERROR_PATTERNS);
    expect(serverSpec(await config({}), serverContext).readiness.timeoutS).toBe(1800);
  });

  it('averages the per-scheduler KV-cache gauges of data-parallel replicas and pipeline stages', async () => {
    const four = ['a', 'b', 'c', 'd'];
    expect(serverSpec(await config({dp_size: 4}), {...serverContext, gpus: four}).metrics?.kvCacheUsageScale).toBe(0.25);
    expect(serverSpec(await config({dp_size: 2, pp_size: 2}), {...serverContext, gpus: four}).metrics?.kvCacheUsageScale).toBe(0.25);
    expect(serverSpec(await config({tp_size: 4}), {...serverContext, gpus: four}).metrics?.kvCacheUsageScale).toBeUndefined();
  });

  it('passes a hub id as is and mounts nothing', async () => {
    const spec = serverSpec(await config({}), serverContext);
    expect(spec.argv[spec.argv.indexOf('--model-path') + 1]).toBe('meta-llama/Llama-3.1-8B-Instruct');
    expect(spec.mounts).toBeUndefined();
  });

  it("mounts a host model folder read-only and serves its container path under lem's name", async () => {
    const spec = serverSpec(await config({}), {...serverContext, model: '/data/hf/Llama-3.1-8B'});
    expect(spec.argv[spec.argv.indexOf('--model-path') + 1]).toBe('/models/Llama-3.1-8B');
    expect(spec.argv[spec.argv.indexOf('--served-model-name') + 1]).toBe('/data/hf/Llama-3.1-8B');
    expect(spec.mounts).toEqual([{hostPath: '/data/hf/Llama-3.1-8B', containerPath: '/models/Llama-3.1-8B', readOnly: true}]);
  });

  it('mounts the draft model of speculative decoding apart from the served one', async () => {
    const spec = serverSpec(await config(EVERY_OPTION), {...serverContext, model: '/data/models/llama-fp8', gpus: ['a', 'b', 'c', 'd']});
    expect(spec.mounts).toEqual([
      {hostPath: '/data/models/llama-fp8', containerPath: '/models/llama-fp8', readOnly: true},
      {hostPath: '/data/drafts/eagle3-llama', containerPath: '/draft-models/eagle3-llama', readOnly: true},
    ]);
  });

  it('shares the host IPC namespace only with more than one GPU, and gives /dev/shm 32 GiB otherwise', async () => {
    const one = serverSpec(await config({}), serverContext);
    expect(one.ipcHost).toBeUndefined();
    expect(one.shmSizeBytes).toBe(SHM_SIZE_BYTES);
    expect(SHM_SIZE_BYTES).toBe(32 * 1024 ** 3);
    const two = serverSpec(await config({tp_size: 2}), {...serverContext, gpus: ['a', 'b']});
    expect(two.ipcHost).toBe(true);
    expect(two.shmSizeBytes).toBeUndefined();
  });
});

describe('what lem reads from SGLang', () => {
  it('records the values SGLang chose at start-up from its log lines', () => {
    expect(SERVER_ARGS_LINE.length).toBeGreaterThan(10_000);
    expect(reported(STARTUP_LOG)).toEqual({
      mem_fraction_static: 0.871,
      disable_radix_cache: 'False',
      disable_overlap_schedule: 'False',
      attention_backend: 'fa3',
      cuda_graph_backend_decode: 'full',
      cuda_graph_max_bs_decode: 256,
      cuda_graph_backend_prefill: 'breakable',
      max_total_num_tokens: 857322,
      chunked_prefill_size: 8192,
      max_prefill_tokens: 16384,
      max_running_requests: 4096,
      context_len: 131072,
      available_gpu_mem_gb: 16.21,
      cuda_graph_decode_memory_gb: 0.87,
    });
  });

  it('records the speculative shape SGLang settled on, and chunked prefill turned off', () => {
    const speculative = SERVER_ARGS_LINE.replace(', speculative_num_steps=None', ', speculative_num_steps=3')
      .replace(', speculative_eagle_topk=None', ', speculative_eagle_topk=1')
      .replace(', speculative_num_draft_tokens=None', ', speculative_num_draft_tokens=4');
    const scheduler = '[2026-12-03 10:00:42 TP0] max_total_num_tokens=401216, chunked_prefill_size=-1, max_prefill_tokens=16384, max_running_requests=48, context_len=131072, available_gpu_mem=12.80 GB';
    expect(reported([speculative, scheduler])).toMatchObject({speculative_num_steps: 3, speculative_eagle_topk: 1, speculative_num_draft_tokens: 4, chunked_prefill_size: -1, max_running_requests: 48, max_total_num_tokens: 401216});
  });

  it('does not read a setting from a line that merely names it', () => {
    expect(reported(['[2026-12-03 10:00:04] Max running requests is reset to 48 for speculative decoding. You can override this by explicitly setting --max-running-requests.'])).toEqual({});
    expect(reported(['[2026-12-03 10:00:04] Post-capture KV sizing: max_running_requests 4096 -> 2048', '[2026-12-03 10:00:04] Capture target prefill CUDA graph end. elapsed=4.10 s, mem usage=1.20 GB, avail mem=17.00 GB.'])).toEqual({});
  });

  it("classifies SGLang's out-of-memory and bad-configuration messages", () => {
    const classify = (line: string) => (ERROR_PATTERNS.resource.some((p) => line.includes(p)) ? 'resource' : ERROR_PATTERNS.config.some((p) => line.includes(p)) ? 'config' : null);
    expect(classify('torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 139.72 GiB')).toBe('resource');
    expect(classify('RuntimeError: Not enough memory. Please try to increase --mem-fraction-static. Current value: mem_fraction_static=0.3')).toBe('resource');
    expect(classify('ValueError: Loaded weights leave no GPU memory for the KV cache under --mem-fraction-static=0.5. Raise --mem-fraction-static above 0.612 (minimum viable = 1 - available/pre = 0.6114).')).toBe('resource');
    expect(classify('[2026-12-03 10:05:00 TP0] Prefill out of memory. Try to lower your batch size.')).toBe('resource');
    expect(classify('[2026-12-03 10:05:00 TP0] Decode out of memory. Try to lower your batch size.')).toBe('resource');
    expect(classify("sglang serve: error: argument --kv-cache-dtype: invalid choice: 'int4' (choose from auto, fp8_e5m2, fp8_e4m3)")).toBe('config');
    expect(classify('sglang serve: error: unrecognized arguments: --max-num-seqs 8')).toBe('config');
    expect(classify('ValueError: Unknown quantization method: marlin. Must be one of [...]')).toBe('config');
    expect(classify('ValueError: Quantization method specified in the model config (fp8) does not match the quantization method specified in the `quantization` argument (awq).')).toBe('config');
    expect(classify('ValueError: Warning: User-specified context_length (262144) is greater than the derived context_length (131072).')).toBe('config');
    expect(classify("AssertionError: served_model_name cannot contain a colon (':') character.")).toBe('config');
    expect(classify('ValueError: Unknown speculative algorithm name: MEDUSA')).toBe('config');
    expect(classify('AssertionError: 32 is not divisible by 3')).toBe('config');
    expect(classify("OSError: nope/model is not a local folder and is not a valid model identifier listed on 'https://huggingface.co/models'")).toBe('config');
    expect(classify('[2026-12-03 10:00:42 TP0] max_total_num_tokens=857322, chunked_prefill_size=8192')).toBeNull();
  });
});
