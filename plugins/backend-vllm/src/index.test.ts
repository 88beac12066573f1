import {existsSync, readFileSync} from 'node:fs';
import {API_VERSION, readReportedSettings} from '@lem/plugin-kit';
import {describe, expect, it} from 'vitest';
import {config, EVERY_OPTION, serverContext} from './__fixtures__/config.js';
import registerHook from './hooks/register.js';
import {backend, DOCKERFILE_PATH, ERROR_PATTERNS, IMAGE_REF, LOGGING_CONFIG, LOGGING_CONFIG_FILE, REPORTED_SETTINGS, serverSpec, VLLM_BASE_IMAGE, VLLM_VERSION} from './index.js';
import {PLUGIN_VERSION} from './version.js';

const reported = (lines: string[]) => readReportedSettings(REPORTED_SETTINGS, lines);

// Lines as vLLM 0.22.1 prints them: each message is its source's format string (cited in
// index.ts) filled in, behind the API server's and engine core's process prefixes.
const STARTUP_LOG = [
  "(APIServer pid=61) INFO 12-02 10:00:01 [utils.py:253] non-default args: {'model_tag': '/models/Llama-3.1-8B', 'host': '127.0.0.1', 'port': 18123}",
  '(APIServer pid=61) INFO 12-02 10:00:07 [model.py:1745] Using max model len 131072',
  '(APIServer pid=61) DEBUG 12-02 10:00:07 [arg_utils.py:2212] Defaulting max_num_batched_tokens to 8192 for OPENAI_API_SERVER usage context.',
  '(APIServer pid=61) DEBUG 12-02 10:00:07 [arg_utils.py:2220] Defaulting max_num_seqs to 1024 for OPENAI_API_SERVER usage context.',
  '(APIServer pid=61) INFO 12-02 10:00:07 [scheduler.py:226] Chunked prefill is enabled with max_num_batched_tokens=8192.',
  "(EngineCore_DP0 pid=140) INFO 12-02 10:00:12 [core.py:96] Initializing a V1 LLM engine (v0.22.1) with config: model='/models/Llama-3.1-8B', speculative_config=None, tokenizer='/models/Llama-3.1-8B', skip_tokenizer_init=False, tokenizer_mode=auto, revision=None, trust_remote_code=False, dtype=torch.bfloat16, max_seq_len=131072, download_dir=None, load_format=auto, tensor_parallel_size=1, pipeline_parallel_size=1, data_parallel_size=1, disable_custom_all_reduce=False, quantization=None, enforce_eager=False, kv_cache_dtype=auto, device_config=cuda, seed=0, served_model_name=meta-llama/Llama-3.1-8B-Instruct, enable_prefix_caching=True, enable_chunked_prefill=True, pooler_config=None, compilation_config={'mode': <CompilationMode.VLLM_COMPILE: 3>, 'cudagraph_mode': <CUDAGraphMode.FULL_AND_PIECEWISE: (2, 1)>, 'cudagraph_capture_sizes': [1, 2, 4, 8, 16, 512], 'max_cudagraph_capture_size': 512}",
  '(EngineCore_DP0 pid=140) INFO 12-02 10:01:40 [gpu_worker.py:440] Available KV cache memory: 107.25 GiB',
  '(EngineCore_DP0 pid=140) INFO 12-02 10:01:40 [kv_cache_utils.py:1311] GPU KV cache size: 878,592 tokens',
  '(EngineCore_DP0 pid=140) INFO 12-02 10:01:40 [kv_cache_utils.py:1316] Maximum concurrency for 131,072 tokens per request: 6.70x',
];

describe('backend contribution', () => {
  it('describes itself: GPU only, containers only, its image and Dockerfile', () => {
    expect(backend).toMatchObject({kind: 'backend', id: 'vllm', displayName: 'vLLM', gpu: 'required', local: false, fixedOutputLength: true, apis: ['completions', 'chat']});
    expect(backend.image).toEqual({ref: `lem/backend-vllm:${PLUGIN_VERSION}`, dockerfile: DOCKERFILE_PATH});
    expect(IMAGE_REF).toBe(`lem/backend-vllm:${PLUGIN_VERSION}`);
    expect(backend.jsonSchema.type).toBe('object');
  });

  it('builds FROM the official image of the pinned vLLM, by tag, with its entrypoint cleared', () => {
    expect(existsSync(DOCKERFILE_PATH)).toBe(true);
    const dockerfile = readFileSync(DOCKERFILE_PATH, 'utf8');
    expect(VLLM_BASE_IMAGE).toBe(`vllm/vllm-openai:v${VLLM_VERSION}`);
    expect(dockerfile).toMatch(new RegExp(`^ARG BASE=${VLLM_BASE_IMAGE.replace(/[.]/g, '\\.')}\\nFROM \\$\\{BASE\\}$`, 'm'));
    expect(dockerfile).toMatch(/^ENTRYPOINT \[\]$/m);
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
    expect(spec.argv.slice(0, 2)).toEqual(['vllm', 'serve']);
    expect(spec.readiness).toEqual({healthPath: '/health', probe: 'completion', timeoutS: 900});
    expect(spec.stop).toEqual({signal: 'SIGTERM', graceS: 30});
    expect(spec.metricsPath).toBe('/metrics');
    expect(spec.metrics).toEqual({format: 'prometheus', running: 'vllm:num_requests_running', waiting: 'vllm:num_requests_waiting', kvCacheUsage: 'vllm:kv_cache_usage_perc'});
    expect(spec.versionProbe).toEqual({kind: 'http', path: '/version', pick: 'version'});
    expect(spec.requestExtras).toEqual({ignore_eos: true});
    expect(spec.tokenizePath).toBeUndefined();
    expect(serverSpec(await config({}), serverContext).readiness.timeoutS).toBe(1800);
  });

  it('averages the per-engine KV-cache gauges when data-parallel', async () => {
    const spec = serverSpec(await config({data_parallel_size: 4}), {...serverContext, gpus: ['a', 'b', 'c', 'd']});
    expect(spec.metrics?.kvCacheUsageScale).toBe(0.25);
  });

  it('passes a hub id as is and mounts nothing', async () => {
    const spec = serverSpec(await config({}), serverContext);
    expect(spec.argv[2]).toBe('meta-llama/Llama-3.1-8B-Instruct');
    expect(spec.mounts).toBeUndefined();
  });

  it('mounts a host model folder read-only and serves its container path under lem\'s name', async () => {
    const spec = serverSpec(await config({}), {...serverContext, model: '/data/hf/Llama-3.1-8B'});
    expect(spec.argv[2]).toBe('/models/Llama-3.1-8B');
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

  it('shares the host IPC namespace only with more than one GPU, and sizes /dev/shm otherwise', async () => {
    const one = serverSpec(await config({}), serverContext);
    expect(one.ipcHost).toBeUndefined();
    expect(one.shmSizeBytes).toBe(8 * 1024 ** 3);
    const two = serverSpec(await config({tensor_parallel_size: 2}), {...serverContext, gpus: ['a', 'b']});
    expect(two.ipcHost).toBe(true);
    expect(two.shmSizeBytes).toBeUndefined();
  });

  it('writes a logging config into the workdir that lets arg_utils.py DEBUG lines through, and points vLLM at it', async () => {
    const spec = serverSpec(await config({}), serverContext);
    expect(spec.files).toEqual([{path: LOGGING_CONFIG_FILE, contents: expect.any(String)}]);
    const written = JSON.parse(spec.files![0]!.contents) as typeof LOGGING_CONFIG;
    expect(written).toEqual(LOGGING_CONFIG);
    expect(written.loggers.vllm.level).toBe('INFO');
    expect(written.loggers['vllm.engine.arg_utils']).toEqual({level: 'DEBUG', propagate: true});
    expect(written.handlers.vllm.level).toBe('DEBUG');
    expect(spec.env).toEqual({VLLM_LOGGING_CONFIG_PATH: `/tmp/lem/w1/${LOGGING_CONFIG_FILE}`, VLLM_NO_USAGE_STATS: '1'});
  });
});

describe('what lem reads from vLLM', () => {
  it('records the values vLLM chose at start-up from its log lines', () => {
    expect(reported(STARTUP_LOG)).toEqual({
      max_model_len: 131072,
      max_num_batched_tokens: 8192,
      max_num_seqs: 1024,
      enable_prefix_caching: 'True',
      enable_chunked_prefill: 'True',
      cudagraph_mode: 'FULL_AND_PIECEWISE',
      max_cudagraph_capture_size: 512,
      kv_cache_memory_gib: 107.25,
      kv_cache_tokens: '878,592',
      kv_cache_max_concurrency: 6.7,
    });
  });

  it('does not read a setting from a line that merely names it', () => {
    expect(reported(["(APIServer pid=61) INFO non-default args: {'max_num_seqs': 64, 'enable_prefix_caching': False}"])).toEqual({});
  });

  it('classifies vLLM\'s out-of-memory and bad-configuration messages', () => {
    const classify = (line: string) => (ERROR_PATTERNS.resource.some((p) => line.includes(p)) ? 'resource' : ERROR_PATTERNS.config.some((p) => line.includes(p)) ? 'config' : null);
    expect(classify('torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 139.72 GiB')).toBe('resource');
    expect(classify('ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine.')).toBe('resource');
    expect(classify("ValueError: To serve at least one request with the models's max seq len (131072), (16.00 GiB KV cache is needed, which is larger than the available KV cache memory (9.40 GiB).")).toBe('resource');
    expect(classify('ValueError: Free memory on device (60.1/139.7 GiB) on startup is less than desired GPU memory utilization (0.92, 128.5 GiB).')).toBe('resource');
    expect(classify("vllm serve: error: argument --kv-cache-dtype: invalid choice: 'int4'")).toBe('config');
    expect(classify('vllm serve: error: unrecognized arguments: --max-num-sequences 8')).toBe('config');
    expect(classify('pydantic_core._pydantic_core.ValidationError: 1 validation error for ModelConfig')).toBe('config');
    expect(classify("  Value error, Invalid repository ID or local directory specified: '/models/nope'.")).toBe('config');
    expect(classify('ValueError: Total number of attention heads (32) must be divisible by tensor parallel size (3).')).toBe('config');
    expect(classify('Unknown quantization method: awq4. Must be one of [...]')).toBe('config');
    expect(classify('INFO 12-02 10:00:07 [model.py:1745] Using max model len 131072')).toBeNull();
  });
});
