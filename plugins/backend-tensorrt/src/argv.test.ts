import {checkArgs} from '@lem/plugin-kit/testing';
import {parse as parseYaml} from 'yaml';
import {describe, expect, it} from 'vitest';
import {config, EVERY_OPTION, reference, serverContext} from './__fixtures__/config.js';
import {llmApiOptions, optionsFileText, optionsPath, placeModel, serverArgs} from './argv.js';
import {TRTLLM_VERSION} from './index.js';

/** The flags after `trtllm-serve serve <model>`. */
const flagsOf = (argv: string[]) => argv.slice(3);
const valueOf = (argv: string[], flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);

describe('the trtllm-serve command line', () => {
  it('is checked against the reference of the pinned TensorRT-LLM', () => {
    expect(reference.header.engine).toBe('tensorrt-llm');
    expect(reference.header.version).toBe(TRTLLM_VERSION);
    expect(reference.header.source).toContain('tensorrt_llm/commands/serve.py');
    // The reference knows click's aliases: both spellings of the options file's flag take a value.
    expect(reference.flags.get('--config')).toEqual({kind: 'value', type: 'string'});
    expect(reference.flags.get('--extra_llm_api_options')).toEqual({kind: 'value', type: 'string'});
  });

  it("starts trtllm-serve serve on the model, on 127.0.0.1 and lem's port", async () => {
    const argv = serverArgs(await config({}), serverContext);
    expect(argv.slice(0, 3)).toEqual(['trtllm-serve', 'serve', 'meta-llama/Llama-3.1-8B-Instruct']);
    expect([valueOf(argv, '--host'), valueOf(argv, '--port')]).toEqual(['127.0.0.1', '18124']);
  });

  it('passes only flags of the reference, with values of the right kind, for the defaults and for every option', async () => {
    expect(checkArgs(flagsOf(serverArgs(await config({}), serverContext)), reference.flags)).toEqual([]);
    expect(checkArgs(flagsOf(serverArgs(await config(EVERY_OPTION), serverContext)), reference.flags)).toEqual([]);
    expect(checkArgs(flagsOf(serverArgs(await config({runtime: 'tensorrt'}), serverContext)), reference.flags)).toEqual([]);
  });

  it('fails the reference check on a flag the pinned TensorRT-LLM does not have, or a value of the wrong kind', async () => {
    const argv = serverArgs(await config({extra_args: ['--served_model_name', 'x', '--backend', 'vllm', '--tp_size', 'two']}), serverContext);
    expect(checkArgs(flagsOf(argv), reference.flags)).toEqual([
      '--served_model_name: not in the reference',
      'x: a value with no flag before it',
      expect.stringContaining('--backend vllm: not one of'),
      '--tp_size two: not an integer',
    ]);
  });

  it("passes the CLI's energy-relevant options explicitly, at TensorRT-LLM's defaults too", async () => {
    const argv = serverArgs(await config({}), serverContext);
    expect(valueOf(argv, '--backend')).toBe('pytorch');
    expect(valueOf(argv, '--max_batch_size')).toBe('2048');
    expect(valueOf(argv, '--max_num_tokens')).toBe('8192');
    expect(valueOf(argv, '--tp_size')).toBe('1');
    expect(valueOf(argv, '--pp_size')).toBe('1');
    expect(valueOf(argv, '--kv_cache_free_gpu_memory_fraction')).toBe('0.9');
    expect(valueOf(argv, '--log_level')).toBe('info');
    expect(valueOf(argv, '--config')).toBe('/tmp/lem/w2/trtllm-options.yaml');
    for (const flag of ['--max_seq_len', '--ep_size', '--trust_remote_code']) expect(argv, flag).not.toContain(flag);
  });

  it('passes every option the section sets, then extra_args verbatim', async () => {
    const argv = serverArgs(await config(EVERY_OPTION), serverContext);
    expect(argv[2]).toBe('/models/Llama-3.1-8B-Instruct-FP8');
    expect(valueOf(argv, '--max_batch_size')).toBe('256');
    expect(valueOf(argv, '--max_num_tokens')).toBe('16384');
    expect(valueOf(argv, '--max_seq_len')).toBe('8192');
    expect(valueOf(argv, '--tp_size')).toBe('2');
    expect(valueOf(argv, '--ep_size')).toBe('2');
    expect(valueOf(argv, '--kv_cache_free_gpu_memory_fraction')).toBe('0.85');
    expect(valueOf(argv, '--log_level')).toBe('verbose');
    expect(argv).toContain('--trust_remote_code');
    expect(argv.slice(-2)).toEqual(['--num_postprocess_workers', '2']);
  });
});

describe('the options file', () => {
  it('writes the LLM API settings with their defaults, as YAML trtllm-serve reads', async () => {
    const cfg = await config({});
    expect(parseYaml(optionsFileText(cfg))).toEqual({
      dtype: 'auto',
      kv_cache_config: {dtype: 'auto', free_gpu_memory_fraction: 0.9, enable_block_reuse: true},
      enable_chunked_prefill: false,
      enable_attention_dp: false,
      enable_iter_perf_stats: true,
      cuda_graph_config: {max_batch_size: 128, enable_padding: false},
      disable_overlap_scheduler: false,
      attn_backend: 'TRTLLM',
    });
    expect(optionsFileText(cfg).split('\n')[0]).toMatch(/^# /);
  });

  it('writes every option the section sets, the draft model at its container path, and extra_options last', async () => {
    expect(llmApiOptions(await config(EVERY_OPTION))).toEqual({
      dtype: 'bfloat16',
      kv_cache_config: {dtype: 'fp8', free_gpu_memory_fraction: 0.85, enable_block_reuse: false},
      enable_chunked_prefill: true,
      enable_attention_dp: true,
      enable_iter_perf_stats: true,
      cuda_graph_config: {max_batch_size: 256, enable_padding: true},
      disable_overlap_scheduler: true,
      attn_backend: 'FLASHINFER',
      speculative_config: {decoding_type: 'Eagle3', max_draft_len: 3, speculative_model_dir: '/draft-models/eagle3-llama'},
      stream_interval: 4,
    });
  });

  it('decodes eagerly with cuda_graph_config null when CUDA graphs are off', async () => {
    expect(llmApiOptions(await config({cuda_graphs: false})).cuda_graph_config).toBeNull();
    expect(parseYaml(optionsFileText(await config({cuda_graphs: false}))).cuda_graph_config).toBeNull();
  });

  it("leaves the PyTorch runtime's settings out for the tensorrt runtime, whose arguments refuse unknown keys", async () => {
    const options = llmApiOptions(await config({runtime: 'tensorrt'}));
    expect(Object.keys(options).sort()).toEqual(['dtype', 'enable_attention_dp', 'enable_chunked_prefill', 'enable_iter_perf_stats', 'kv_cache_config']);
    expect(options.kv_cache_config).toEqual({free_gpu_memory_fraction: 0.9, enable_block_reuse: true});
  });

  it('lives in the workdir under a fixed name', () => {
    expect(optionsPath('/tmp/lem/w2/')).toBe('/tmp/lem/w2/trtllm-options.yaml');
  });
});

describe('model placement', () => {
  it('passes a hub id as is and mounts a host folder read-only under /models', () => {
    expect(placeModel('nvidia/Llama-3.1-8B-Instruct-FP8', '/models')).toEqual({arg: 'nvidia/Llama-3.1-8B-Instruct-FP8'});
    expect(placeModel('/data/ckpt/llama/', '/models')).toEqual({arg: '/models/llama', mount: {hostPath: '/data/ckpt/llama', containerPath: '/models/llama', readOnly: true}});
  });
});
