import {checkArgs} from '@lem/plugin-kit/testing';
import {describe, expect, it} from 'vitest';
import {config, EVERY_OPTION, reference, serverContext} from './__fixtures__/config.js';
import {placeModel, serverArgs} from './argv.js';
import {TRANSFORMERS_VERSION} from './index.js';

/** The flags after `transformers serve <model>`. */
const flagsOf = (argv: string[]) => argv.slice(3);
const valueOf = (argv: string[], flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);

describe('the transformers serve command line', () => {
  it('is checked against the reference of the pinned transformers', () => {
    expect(reference.header.engine).toBe('transformers');
    expect(reference.header.version).toBe(TRANSFORMERS_VERSION);
    expect(reference.header.source).toMatch(/^huggingface\/transformers@5eddc12edfaf8cafde8c9bae4ccb12f8a139b4f9:src\/transformers\/cli\/serve\.py /);
    expect(reference.header.source).toContain('v5.15.0');
  });

  it("starts transformers serve on lem's model name, on 127.0.0.1 and lem's port", async () => {
    const argv = serverArgs(await config({}), serverContext);
    expect(argv.slice(0, 3)).toEqual(['transformers', 'serve', 'meta-llama/Llama-3.1-8B-Instruct']);
    expect([valueOf(argv, '--host'), valueOf(argv, '--port')]).toEqual(['127.0.0.1', '18123']);
  });

  it('passes only flags of the reference, with values of the right kind, for the defaults and for every option', async () => {
    expect(checkArgs(flagsOf(serverArgs(await config({}), serverContext)), reference.flags)).toEqual([]);
    expect(checkArgs(flagsOf(serverArgs(await config(EVERY_OPTION), serverContext)), reference.flags)).toEqual([]);
    const ctx = {...serverContext, gpus: ['a', 'b']};
    expect(checkArgs(flagsOf(serverArgs(await config({cb_use_cuda_graph: false, continuous_batching: true}), ctx)), reference.flags)).toEqual([]);
  });

  it('fails the reference check on a flag the pinned transformers does not have', async () => {
    const argv = serverArgs(await config({extra_args: ['--max-num-seqs', '8', '--reasoning', 'high', '--cb-block-size', 'big']}), serverContext);
    expect(checkArgs(flagsOf(argv), reference.flags)).toEqual([
      '--max-num-seqs: not in the reference',
      '8: a value with no flag before it',
      expect.stringContaining('--reasoning high: not one of'),
      '--cb-block-size big: not an integer',
    ]);
  });

  it('passes every energy-relevant option explicitly, at its default too', async () => {
    const argv = serverArgs(await config({}), serverContext);
    expect(valueOf(argv, '--device')).toBe('auto');
    expect(valueOf(argv, '--dtype')).toBe('auto');
    expect(valueOf(argv, '--reasoning')).toBe('auto');
    expect(valueOf(argv, '--log-level')).toBe('warning');
    expect(argv).toEqual(expect.arrayContaining(['--no-continuous-batching', '--no-compile', '--no-trust-remote-code']));
  });

  it('leaves what transformers decides to transformers unless the section sets it, and passes no continuous-batching flag without it', async () => {
    const argv = serverArgs(await config({}), serverContext);
    for (const flag of ['--quantization', '--attn-implementation', '--cb-block-size', '--cb-num-blocks', '--cb-max-batch-tokens', '--cb-max-memory-percent']) {
      expect(argv, flag).not.toContain(flag);
    }
    expect(argv.some((a) => a.endsWith('cb-use-cuda-graph'))).toBe(false);
    const cb = serverArgs(await config({continuous_batching: true}), serverContext);
    expect(valueOf(cb, '--cb-block-size')).toBe('256');
    expect(cb).toContain('--continuous-batching');
    for (const flag of ['--cb-num-blocks', '--cb-max-batch-tokens', '--cb-max-memory-percent']) expect(cb, flag).not.toContain(flag);
    expect(cb.some((a) => a.endsWith('cb-use-cuda-graph'))).toBe(false);
  });

  it('passes every option the section sets, then extra_args verbatim', async () => {
    const argv = serverArgs(await config(EVERY_OPTION), {...serverContext, model: '/data/models/llama-8b'});
    expect(argv[2]).toBe('/data/models/llama-8b');
    expect(valueOf(argv, '--dtype')).toBe('bfloat16');
    expect(valueOf(argv, '--quantization')).toBe('bnb-4bit');
    expect(valueOf(argv, '--attn-implementation')).toBe('sdpa');
    expect(valueOf(argv, '--device')).toBe('cuda:0');
    expect(valueOf(argv, '--cb-block-size')).toBe('128');
    expect(valueOf(argv, '--cb-num-blocks')).toBe('4096');
    expect(valueOf(argv, '--cb-max-batch-tokens')).toBe('16384');
    expect(valueOf(argv, '--cb-max-memory-percent')).toBe('0.85');
    expect(valueOf(argv, '--reasoning')).toBe('off');
    expect(argv).toEqual(expect.arrayContaining(['--continuous-batching', '--cb-use-cuda-graph', '--no-compile', '--trust-remote-code']));
    expect(argv.slice(-2)).toEqual(['--default-seed', '7']);
  });

  it('turns CUDA graphs off explicitly when the section says so', async () => {
    expect(serverArgs(await config({continuous_batching: true, cb_use_cuda_graph: false}), serverContext)).toContain('--no-cb-use-cuda-graph');
  });

  it("names the model by lem's resolved string, a relative model_path included", async () => {
    const argv = serverArgs(await config({model_path: './models/q4'}), {...serverContext, model: '/exp/models/q4'});
    expect(argv[2]).toBe('/exp/models/q4');
  });
});

describe('model placement', () => {
  it('passes a hub id as is, with nothing to mount', () => {
    expect(placeModel('Qwen/Qwen3-8B')).toEqual({arg: 'Qwen/Qwen3-8B'});
  });

  it('mounts a host model folder read-only at its own path and passes the path unchanged', () => {
    expect(placeModel('/data/hf/Llama-3.1-8B/')).toEqual({arg: '/data/hf/Llama-3.1-8B/', mount: {hostPath: '/data/hf/Llama-3.1-8B', containerPath: '/data/hf/Llama-3.1-8B', readOnly: true}});
    expect(placeModel('/data//hf/m')).toEqual({arg: '/data//hf/m', mount: {hostPath: '/data/hf/m', containerPath: '/data/hf/m', readOnly: true}});
  });
});
