import {existsSync, readFileSync} from 'node:fs';
import {API_VERSION, readReportedSettings} from '@lem/plugin-kit';
import {describe, expect, it} from 'vitest';
import {config, EVERY_OPTION, serverContext} from './__fixtures__/config.js';
import registerHook from './hooks/register.js';
import {backend, DOCKERFILE_PATH, ERROR_PATTERNS, IMAGE_REF, PYTORCH_BASE_IMAGE, REPORTED_SETTINGS, serverSpec, SITECUSTOMIZE, SITECUSTOMIZE_FILE, TRANSFORMERS_VERSION} from './index.js';
import {PLUGIN_VERSION} from './version.js';

const reported = (lines: string[]) => readReportedSettings(REPORTED_SETTINGS, lines);

// Lines as transformers 5.15.0 prints them: the "transformers" logger's "[transformers] %(message)s"
// format, uvicorn's, and the continuous-batching logger's "%(asctime)s - %(name)s - %(levelname)s -
// %(message)s", each message its source's format string (cited in index.ts) filled in.
const CB = '2026-12-03 10:02:11,402 - ContinuousBatchingLogger - INFO - ';
const STARTUP_LOG = [
  '[transformers] Loading meta-llama/Llama-3.1-8B-Instruct@main',
  'INFO:     Uvicorn running on http://127.0.0.1:18123 (Press CTRL+C to quit)',
  '[transformers] [Request received] Model: meta-llama/Llama-3.1-8B-Instruct@main, CB: True',
  `${CB}Using cuda graphs for (varlen, decode) paths: (False, True)`,
  `${CB}No behavior specified for use_async_batching, choosing cb_config.use_async_batching = False because use_cuda_graphs = True and is_attn_mask_needed = True. If you want to save memory, you can disable asynchronous batching but it will degrade performance.`,
  `${CB}Memory available for cache allocation: 114302 MB`,
  `${CB}Paged cache initialized: self.max_batch_tokens = 8192, self.num_blocks = 1784, self.block_size = 256`,
  `${CB}self.cache_shape = (457216, 8, 128) self.key_cache[0].shape = torch.Size([457216, 8, 128]) self.key_cache[0].numel() = 468189184`,
  '[transformers] Warming up for continuous batching...',
];

describe('backend contribution', () => {
  it('describes itself: GPU only, containers only, its image and Dockerfile', () => {
    expect(backend).toMatchObject({kind: 'backend', id: 'pytorch', displayName: 'PyTorch (transformers)', gpu: 'required', local: false, fixedOutputLength: false, apis: ['completions', 'chat']});
    expect(backend.image).toEqual({ref: `lem/backend-pytorch:${PLUGIN_VERSION}`, dockerfile: DOCKERFILE_PATH});
    expect(IMAGE_REF).toBe(`lem/backend-pytorch:${PLUGIN_VERSION}`);
    expect(backend.jsonSchema.type).toBe('object');
  });

  it('builds FROM the official PyTorch image by tag and installs the pinned transformers exactly', () => {
    expect(existsSync(DOCKERFILE_PATH)).toBe(true);
    const dockerfile = readFileSync(DOCKERFILE_PATH, 'utf8');
    expect(PYTORCH_BASE_IMAGE).toMatch(/^pytorch\/pytorch:\d+\.\d+\.\d+-cuda\d+\.\d+-cudnn\d+-runtime$/);
    expect(dockerfile).toMatch(new RegExp(`^ARG BASE=${PYTORCH_BASE_IMAGE.replace(/[.]/g, '\\.')}\\nFROM \\$\\{BASE\\}$`, 'm'));
    expect(dockerfile).toMatch(new RegExp(`^ARG TRANSFORMERS_VERSION=${TRANSFORMERS_VERSION.replace(/[.]/g, '\\.')}$`, 'm'));
    expect(dockerfile).toContain('"transformers[serving]==${TRANSFORMERS_VERSION}"');
    expect(dockerfile).toMatch(/^ARG BITSANDBYTES_VERSION=\d+\.\d+\.\d+$/m);
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
  it('waits for /health and a first completion, stops with SIGTERM; the version is the image\'s', async () => {
    const spec = serverSpec(await config({startup_timeout_s: 900}), serverContext);
    expect(spec.port).toBe(18123);
    expect(spec.argv.slice(0, 2)).toEqual(['transformers', 'serve']);
    expect(spec.readiness).toEqual({healthPath: '/health', probe: 'completion', timeoutS: 900});
    expect(spec.stop).toEqual({signal: 'SIGTERM', graceS: 15});
    // No route answers the version, and an exec probe would run on lem's host: the image pins it.
    expect(spec.versionProbe).toBeUndefined();
    expect(serverSpec(await config({}), serverContext).readiness.timeoutS).toBe(1800);
  });

  it('declares no metrics, tokenizer, request extras, shared memory or IPC: transformers serve has none of them to offer or need', async () => {
    const spec = serverSpec(await config({continuous_batching: true}), serverContext);
    for (const key of ['metricsPath', 'metrics', 'tokenizePath', 'requestExtras', 'shmSizeBytes', 'ipcHost', 'ulimits'] as const) expect(spec[key], key).toBeUndefined();
  });

  it('passes a hub id as is and mounts nothing', async () => {
    const spec = serverSpec(await config({}), serverContext);
    expect(spec.argv[2]).toBe('meta-llama/Llama-3.1-8B-Instruct');
    expect(spec.mounts).toBeUndefined();
  });

  it("mounts a host model folder read-only at its own path, so lem's model name is also the container's path", async () => {
    const spec = serverSpec(await config(EVERY_OPTION), {...serverContext, model: '/data/models/llama-8b'});
    expect(spec.argv[2]).toBe('/data/models/llama-8b');
    expect(spec.mounts).toEqual([{hostPath: '/data/models/llama-8b', containerPath: '/data/models/llama-8b', readOnly: true}]);
  });

  it("writes a sitecustomize into the workdir that lets continuous batching's INFO lines through, and puts it on the path", async () => {
    const spec = serverSpec(await config({}), {...serverContext, workdir: '/tmp/lem/w1/'});
    expect(spec.files).toEqual([{path: SITECUSTOMIZE_FILE, contents: SITECUSTOMIZE}]);
    expect(SITECUSTOMIZE_FILE).toBe('sitecustomize.py');
    expect(SITECUSTOMIZE).toContain('logging.getLogger("ContinuousBatchingLogger").setLevel(logging.INFO)');
    expect(SITECUSTOMIZE.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual(['import logging', 'logging.getLogger("ContinuousBatchingLogger").setLevel(logging.INFO)']);
    expect(spec.env).toEqual({PYTHONPATH: '/tmp/lem/w1', HF_HUB_DISABLE_UPDATE_CHECK: '1', HF_HUB_DISABLE_TELEMETRY: '1'});
  });
});

describe('what lem reads from transformers', () => {
  it('records the values continuous batching chose at start-up from its log lines', () => {
    expect(reported(STARTUP_LOG)).toEqual({
      cb_cache_memory_mib: 114302,
      cb_max_batch_tokens: 8192,
      cb_num_blocks: 1784,
      cb_block_size: 256,
      cb_cuda_graph_varlen: 'False',
      cb_cuda_graph_decode: 'True',
      cb_async_batching: 'False',
    });
  });

  it('reads nothing from the sequential path, which sizes nothing at start-up', () => {
    expect(reported(STARTUP_LOG.slice(0, 3))).toEqual({});
  });

  it('does not read a setting from a line that merely names it', () => {
    expect(reported([`${CB}Although cb_config.max_blocks_per_request = 32, the decode fast path is not available`, '[transformers] Unknown option self.num_blocks = 12'])).toEqual({});
  });

  it("classifies transformers' out-of-memory and bad-configuration messages", () => {
    const classify = (line: string) => (ERROR_PATTERNS.resource.some((p) => line.includes(p)) ? 'resource' : ERROR_PATTERNS.config.some((p) => line.includes(p)) ? 'config' : null);
    expect(classify('torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.96 GiB. GPU 0 has a total capacity of 139.72 GiB')).toBe('resource');
    expect(classify('MemoryError: Memory footprint 151002431488 is more than available memory 120527855616')).toBe('resource');
    expect(classify('ValueError: No positive solution (root = -1523.4)')).toBe('resource');
    expect(classify('ValueError: No real solution (discriminant = -42.0)')).toBe('resource');
    expect(classify('ValueError: Some modules are dispatched on the CPU or the disk. Make sure you have enough GPU RAM to fit the quantized model.')).toBe('resource');
    expect(classify('│ No such option: --max-num-seqs                                    │')).toBe('config');
    expect(classify("Invalid value for '--reasoning': 'high' is not one of 'on', 'off', 'auto'.")).toBe('config');
    expect(classify("ValueError: Unsupported quantization method: 'awq'. Must be 'bnb-4bit' or 'bnb-8bit'.")).toBe('config');
    expect(classify("ValueError: Unsupported attention implementation: 'flash'. Must be one of {'sdpa', 'eager'}")).toBe('config');
    expect(classify("ValueError: Unsupported dtype: 'fp16'. Must be 'auto' or a valid torch dtype (e.g. 'float16', 'bfloat16').")).toBe('config');
    expect(classify("OSError: /models/nope is not a local folder and is not a valid model identifier listed on 'https://huggingface.co/models'")).toBe('config');
    expect(classify('ValueError: The repository org/custom contains custom code which must be executed to correctly load the model.')).toBe('config');
    expect(classify('ImportError: Using `bitsandbytes` 4-bit quantization requires bitsandbytes: `pip install -U bitsandbytes>=0.46.1`')).toBe('config');
    expect(classify('ValueError: Block size must be at least 4, but got 2')).toBe('config');
    expect(classify('INFO:     Uvicorn running on http://127.0.0.1:18123 (Press CTRL+C to quit)')).toBeNull();
  });
});
