import {checkArgs} from '@lem/plugin-kit/testing';
import {describe, expect, it} from 'vitest';
import {config, EVERY_OPTION, reference, serverContext} from './__fixtures__/config.js';
import {placeModel, serverArgs, speculativeJson} from './argv.js';
import {VLLM_VERSION} from './index.js';

/** The flags after `vllm serve <model>`. */
const flagsOf = (argv: string[]) => argv.slice(3);
const valueOf = (argv: string[], flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);

describe('the vllm serve command line', () => {
  it('is checked against the reference of the pinned vLLM', () => {
    expect(reference.header.engine).toBe('vllm');
    expect(reference.header.version).toBe(VLLM_VERSION);
    expect(reference.header.source).toContain('vllm/vllm-openai:v0.22.1');
  });

  it('starts vllm serve on the model, served under lem\'s name, on 127.0.0.1 and lem\'s port', async () => {
    const argv = serverArgs(await config({}), serverContext);
    expect(argv.slice(0, 3)).toEqual(['vllm', 'serve', 'meta-llama/Llama-3.1-8B-Instruct']);
    expect(valueOf(argv, '--served-model-name')).toBe('meta-llama/Llama-3.1-8B-Instruct');
    expect([valueOf(argv, '--host'), valueOf(argv, '--port')]).toEqual(['127.0.0.1', '18123']);
  });

  it('passes only flags of the reference, with values of the right kind, for the defaults and for every option', async () => {
    expect(checkArgs(flagsOf(serverArgs(await config({}), serverContext)), reference.flags)).toEqual([]);
    expect(checkArgs(flagsOf(serverArgs(await config(EVERY_OPTION), serverContext)), reference.flags)).toEqual([]);
  });

  it('fails the reference check on a flag the pinned vLLM does not have', async () => {
    const argv = serverArgs(await config({extra_args: ['--max-num-sequences', '8', '--kv-cache-dtype', 'int4']}), serverContext);
    expect(checkArgs(flagsOf(argv), reference.flags)).toEqual(['--max-num-sequences: not in the reference', '8: a value with no flag before it', expect.stringContaining('--kv-cache-dtype int4: not one of')]);
  });

  it('passes every energy-relevant option explicitly, at its default too', async () => {
    const argv = serverArgs(await config({}), serverContext);
    expect(valueOf(argv, '--dtype')).toBe('auto');
    expect(valueOf(argv, '--kv-cache-dtype')).toBe('auto');
    expect(valueOf(argv, '--gpu-memory-utilization')).toBe('0.92');
    expect(valueOf(argv, '--tensor-parallel-size')).toBe('1');
    expect(valueOf(argv, '--pipeline-parallel-size')).toBe('1');
    expect(valueOf(argv, '--data-parallel-size')).toBe('1');
    expect(valueOf(argv, '--performance-mode')).toBe('balanced');
    expect(valueOf(argv, '--optimization-level')).toBe('2');
    expect(argv).toContain('--no-enforce-eager');
    expect(argv).toContain('--no-enable-expert-parallel');
  });

  it('leaves what vLLM sizes at start-up to vLLM unless the section sets it', async () => {
    const argv = serverArgs(await config({}), serverContext);
    for (const flag of ['--max-num-seqs', '--max-num-batched-tokens', '--max-model-len', '--max-cudagraph-capture-size', '--quantization', '--speculative-config', '--trust-remote-code']) {
      expect(argv, flag).not.toContain(flag);
    }
    for (const flag of ['prefix-caching', 'chunked-prefill', 'async-scheduling']) {
      expect(argv.some((a) => a.endsWith(flag)), flag).toBe(false);
    }
  });

  it('passes every option the section sets, then extra_args verbatim', async () => {
    const argv = serverArgs(await config(EVERY_OPTION), serverContext);
    expect(argv[2]).toBe('/models/llama-fp8');
    expect(valueOf(argv, '--dtype')).toBe('bfloat16');
    expect(valueOf(argv, '--quantization')).toBe('fp8');
    expect(valueOf(argv, '--kv-cache-dtype')).toBe('fp8_e4m3');
    expect(valueOf(argv, '--gpu-memory-utilization')).toBe('0.85');
    expect(valueOf(argv, '--max-model-len')).toBe('8192');
    expect(valueOf(argv, '--max-num-seqs')).toBe('128');
    expect(valueOf(argv, '--max-num-batched-tokens')).toBe('16384');
    expect(valueOf(argv, '--tensor-parallel-size')).toBe('2');
    expect(valueOf(argv, '--data-parallel-size')).toBe('2');
    expect(valueOf(argv, '--max-cudagraph-capture-size')).toBe('256');
    expect(valueOf(argv, '--performance-mode')).toBe('throughput');
    expect(valueOf(argv, '--optimization-level')).toBe('3');
    expect(argv).toEqual(expect.arrayContaining(['--enable-expert-parallel', '--no-enforce-eager', '--no-enable-prefix-caching', '--enable-chunked-prefill', '--async-scheduling', '--trust-remote-code']));
    expect(JSON.parse(valueOf(argv, '--speculative-config')!)).toEqual({method: 'eagle3', model: '/draft-models/eagle3-llama', num_speculative_tokens: 3, draft_tensor_parallel_size: 2});
    expect(argv.slice(-2)).toEqual(['--seed', '7']);
  });

  it('writes the speculative JSON with only the keys the section sets', () => {
    expect(JSON.parse(speculativeJson({method: 'ngram', num_speculative_tokens: 4, prompt_lookup_max: 5, prompt_lookup_min: 2}))).toEqual({method: 'ngram', num_speculative_tokens: 4, prompt_lookup_max: 5, prompt_lookup_min: 2});
    expect(JSON.parse(speculativeJson({method: 'eagle', model: 'yuhuili/EAGLE-LLaMA3.1-Instruct-8B', num_speculative_tokens: 2}))).toEqual({method: 'eagle', model: 'yuhuili/EAGLE-LLaMA3.1-Instruct-8B', num_speculative_tokens: 2});
  });

  it('takes a relative model_path from lem\'s resolved model', async () => {
    const argv = serverArgs(await config({model_path: './models/q4'}), {...serverContext, model: '/exp/models/q4'});
    expect(argv[2]).toBe('/models/q4');
  });
});

describe('model placement', () => {
  it('passes a hub id as is, with nothing to mount', () => {
    expect(placeModel('Qwen/Qwen3-8B', '/models')).toEqual({arg: 'Qwen/Qwen3-8B'});
  });

  it('mounts a model folder read-only at /models/<name>', () => {
    expect(placeModel('/data/hf/Llama-3.1-8B/', '/models')).toEqual({arg: '/models/Llama-3.1-8B', mount: {hostPath: '/data/hf/Llama-3.1-8B', containerPath: '/models/Llama-3.1-8B', readOnly: true}});
  });

  it("mounts a .gguf file's folder and passes the file inside it", () => {
    expect(placeModel('/data/gguf/llama-Q4_K_M.gguf', '/models')).toEqual({arg: '/models/gguf/llama-Q4_K_M.gguf', mount: {hostPath: '/data/gguf', containerPath: '/models/gguf', readOnly: true}});
  });
});
