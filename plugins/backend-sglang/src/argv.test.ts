import {checkArgs} from '@lem/plugin-kit/testing';
import {describe, expect, it} from 'vitest';
import {config, EVERY_OPTION, reference, serverContext} from './__fixtures__/config.js';
import {placeModel, serverArgs, speculativeArgs} from './argv.js';
import {SGLANG_VERSION} from './index.js';

/** The flags after `python3 -m sglang.launch_server`. */
const flagsOf = (argv: string[]) => argv.slice(3);
const valueOf = (argv: string[], flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);

describe('the sglang.launch_server command line', () => {
  it('is checked against the reference of the pinned SGLang', () => {
    expect(reference.header.engine).toBe('sglang');
    expect(reference.header.version).toBe(SGLANG_VERSION);
    expect(reference.header.source).toContain('sgl-project/sglang@71de97b264b04dcd514cf904003028aefe9775c8:python/sglang/srt/server_args.py');
    expect(reference.header.source).toContain('v0.5.18');
  });

  it("starts the server on the model, served under lem's name, on 127.0.0.1 and lem's port, with metrics on", async () => {
    const argv = serverArgs(await config({}), serverContext);
    expect(argv.slice(0, 5)).toEqual(['python3', '-m', 'sglang.launch_server', '--model-path', 'meta-llama/Llama-3.1-8B-Instruct']);
    expect(valueOf(argv, '--served-model-name')).toBe('meta-llama/Llama-3.1-8B-Instruct');
    expect([valueOf(argv, '--host'), valueOf(argv, '--port')]).toEqual(['127.0.0.1', '18123']);
    expect(argv).toContain('--enable-metrics');
    expect(valueOf(argv, '--log-level')).toBe('info');
  });

  it('passes only flags of the reference, with values of the right kind, for the defaults and for every option', async () => {
    expect(checkArgs(flagsOf(serverArgs(await config({}), serverContext)), reference.flags)).toEqual([]);
    expect(checkArgs(flagsOf(serverArgs(await config(EVERY_OPTION), serverContext)), reference.flags)).toEqual([]);
    const unchunked = {chunked_prefill_size: -1, cuda_graph_backend_decode: 'disabled', cuda_graph_backend_prefill: 'disabled', speculative: {algorithm: 'NGRAM', num_draft_tokens: 12}};
    expect(checkArgs(flagsOf(serverArgs(await config(unchunked), serverContext)), reference.flags)).toEqual([]);
  });

  it('fails the reference check on a flag the pinned SGLang does not have, or a value it refuses', async () => {
    const argv = serverArgs(await config({extra_args: ['--max-num-seqs', '8', '--kv-cache-dtype', 'int4', '--tp-size', 'two']}), serverContext);
    expect(checkArgs(flagsOf(argv), reference.flags)).toEqual([
      '--max-num-seqs: not in the reference',
      '8: a value with no flag before it',
      expect.stringContaining('--kv-cache-dtype int4: not one of'),
      '--tp-size two: not an integer',
    ]);
  });

  it('passes every energy-relevant value option explicitly, at its default too', async () => {
    const argv = serverArgs(await config({}), serverContext);
    expect(valueOf(argv, '--dtype')).toBe('auto');
    expect(valueOf(argv, '--kv-cache-dtype')).toBe('auto');
    expect(valueOf(argv, '--max-prefill-tokens')).toBe('16384');
    expect(valueOf(argv, '--schedule-policy')).toBe('fcfs');
    expect(valueOf(argv, '--tp-size')).toBe('1');
    expect(valueOf(argv, '--pp-size')).toBe('1');
    expect(valueOf(argv, '--dp-size')).toBe('1');
    expect(valueOf(argv, '--ep-size')).toBe('1');
  });

  it('leaves what SGLang sizes or picks at start-up to SGLang unless the section sets it, and passes switches only when on', async () => {
    const argv = serverArgs(await config({}), serverContext);
    const startup = ['--quantization', '--mem-fraction-static', '--context-length', '--max-running-requests', '--max-total-tokens', '--chunked-prefill-size', '--cuda-graph-backend-decode', '--cuda-graph-backend-prefill', '--cuda-graph-max-bs-decode'];
    const switches = ['--disable-radix-cache', '--disable-overlap-schedule', '--enable-mixed-chunk', '--enable-torch-compile', '--trust-remote-code'];
    for (const flag of [...startup, ...switches]) expect(argv, flag).not.toContain(flag);
    expect(argv.some((a) => a.startsWith('--speculative'))).toBe(false);
  });

  it('passes every option the section sets, then extra_args verbatim', async () => {
    const argv = serverArgs(await config(EVERY_OPTION), serverContext);
    expect(valueOf(argv, '--model-path')).toBe('/models/llama-fp8');
    expect(valueOf(argv, '--dtype')).toBe('bfloat16');
    expect(valueOf(argv, '--quantization')).toBe('fp8');
    expect(valueOf(argv, '--kv-cache-dtype')).toBe('fp8_e4m3');
    expect(valueOf(argv, '--mem-fraction-static')).toBe('0.85');
    expect(valueOf(argv, '--context-length')).toBe('8192');
    expect(valueOf(argv, '--max-running-requests')).toBe('128');
    expect(valueOf(argv, '--max-total-tokens')).toBe('500000');
    expect(valueOf(argv, '--chunked-prefill-size')).toBe('4096');
    expect(valueOf(argv, '--max-prefill-tokens')).toBe('8192');
    expect(valueOf(argv, '--schedule-policy')).toBe('lpm');
    expect(valueOf(argv, '--tp-size')).toBe('2');
    expect(valueOf(argv, '--dp-size')).toBe('2');
    expect(valueOf(argv, '--ep-size')).toBe('2');
    expect(valueOf(argv, '--cuda-graph-backend-decode')).toBe('full');
    expect(valueOf(argv, '--cuda-graph-backend-prefill')).toBe('breakable');
    expect(valueOf(argv, '--cuda-graph-max-bs-decode')).toBe('160');
    expect(argv).toEqual(expect.arrayContaining(['--disable-radix-cache', '--disable-overlap-schedule', '--enable-torch-compile', '--trust-remote-code']));
    expect(argv).not.toContain('--enable-mixed-chunk');
    expect(valueOf(argv, '--speculative-algorithm')).toBe('EAGLE3');
    expect(valueOf(argv, '--speculative-draft-model-path')).toBe('/draft-models/eagle3-llama');
    expect([valueOf(argv, '--speculative-num-steps'), valueOf(argv, '--speculative-eagle-topk'), valueOf(argv, '--speculative-num-draft-tokens')]).toEqual(['3', '1', '4']);
    expect(argv.slice(-2)).toEqual(['--random-seed', '7']);
  });

  it('passes -1 to turn chunked prefill off', async () => {
    expect(valueOf(serverArgs(await config({chunked_prefill_size: -1}), serverContext), '--chunked-prefill-size')).toBe('-1');
  });

  it('writes the speculative flags the section sets, and no others', () => {
    expect(speculativeArgs({algorithm: 'NGRAM', num_draft_tokens: 12})).toEqual(['--speculative-algorithm', 'NGRAM', '--speculative-num-draft-tokens', '12']);
    expect(speculativeArgs({algorithm: 'EAGLE', draft_model_path: 'lmsys/sglang-EAGLE-LLaMA3-Instruct-8B'})).toEqual(['--speculative-algorithm', 'EAGLE', '--speculative-draft-model-path', 'lmsys/sglang-EAGLE-LLaMA3-Instruct-8B']);
  });

  it("takes a relative model_path from lem's resolved model", async () => {
    const argv = serverArgs(await config({model_path: './models/q4'}), {...serverContext, model: '/exp/models/q4'});
    expect(valueOf(argv, '--model-path')).toBe('/models/q4');
    expect(valueOf(argv, '--served-model-name')).toBe('/exp/models/q4');
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
