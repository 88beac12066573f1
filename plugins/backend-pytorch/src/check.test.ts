import {describe, expect, it} from 'vitest';
import {checkContext, config, EVERY_OPTION} from './__fixtures__/config.js';
import {backend} from './index.js';

async function check(section: unknown, ctx: Partial<typeof checkContext> = {}) {
  return backend.check!(await config(section), {...checkContext, ...ctx});
}

describe('cross-field rules (check)', () => {
  it('finds nothing wrong with the defaults on one GPU or several, or with every option on one', async () => {
    expect(await check({})).toEqual([]);
    expect(await check({}, {gpus: 4})).toEqual([]);
    expect(await check(EVERY_OPTION)).toEqual([]);
  });

  it('refuses a device index past the GPUs the experiment gives', async () => {
    expect(await check({device: 'cuda:2'}, {gpus: 2})).toEqual([
      {path: ['device'], message: 'device cuda:2 is not one of the 2 GPU(s) the experiment gives the server (cuda:0 to cuda:1 in the container)', try: 'use a device from cuda:0 to cuda:1, or device: auto'},
    ]);
    expect(await check({device: 'cuda:0'})).toEqual([]);
  });

  it('refuses one named GPU when the experiment gives several', async () => {
    const issues = await check({device: 'cuda'}, {gpus: 4});
    expect(issues).toEqual([
      {
        path: ['device'],
        message: 'device cuda puts the whole model on one GPU, but the experiment gives the server 4: the other 3 would idle through the measurement',
        try: 'give the experiment 1 GPU, or set device: auto to spread the layers over all 4',
      },
    ]);
    expect((await check({device: 'cuda:1'}, {gpus: 2})).map((i) => i.path)).toEqual([['device']]);
  });

  it('refuses continuous batching over several GPUs, whose paged cache lives on one', async () => {
    expect(await check({continuous_batching: true}, {gpus: 2})).toEqual([
      {
        path: ['continuous_batching'],
        message: "continuous batching keeps its paged KV cache on one GPU, but with device auto and 2 GPUs the model's layers are spread over all of them",
        try: 'give the experiment 1 GPU, or turn continuous_batching off to serve the spread-out model with generate()',
      },
    ]);
    expect(await check({continuous_batching: true})).toEqual([]);
  });

  it('refuses continuous-batching settings while continuous batching is off', async () => {
    const issues = await check({cb_num_blocks: 100, cb_max_batch_tokens: 4096, cb_max_memory_percent: 0.5, cb_use_cuda_graph: false});
    expect(issues.map((i) => i.path)).toEqual([['cb_num_blocks'], ['cb_max_batch_tokens'], ['cb_max_memory_percent'], ['cb_use_cuda_graph']]);
    expect(issues[0]).toEqual({path: ['cb_num_blocks'], message: 'cb_num_blocks applies to continuous batching only, and continuous_batching is off', try: 'set continuous_batching: true, or remove cb_num_blocks'});
  });

  it('refuses compile under continuous batching, which ignores it', async () => {
    expect(await check({continuous_batching: true, compile: true})).toEqual([
      {path: ['compile'], message: 'compile has no effect with continuous batching: it only gives the sequential generate() path a static, compiled KV cache', try: 'remove compile, or turn continuous_batching off'},
    ]);
    expect(await check({compile: true})).toEqual([]);
  });

  it('refuses an attention implementation continuous batching has no paged kernel for', async () => {
    const issues = await check({continuous_batching: true, attn_implementation: 'flex_attention'});
    expect(issues).toEqual([
      {
        path: ['attn_implementation'],
        message: 'continuous batching runs a paged attention kernel, which transformers 5.15.0 has for sdpa and eager (and flash attention), not for flex_attention',
        try: 'choose attn_implementation sdpa or eager, or turn continuous_batching off',
      },
    ]);
    expect(await check({attn_implementation: 'flex_attention'})).toEqual([]);
    expect(await check({continuous_batching: true, attn_implementation: 'eager'})).toEqual([]);
  });

  it('refuses a single weights file as the model', async () => {
    expect(await check({model_path: '/m/llama-Q4_K_M.gguf'})).toEqual([
      {path: ['model_path'], message: 'model_path /m/llama-Q4_K_M.gguf is a single weights file, but transformers serve loads a model folder (config, tokenizer and weights) or a hub id', try: "set model_path to the model's folder or hub id"},
    ]);
    const top = await check({}, {model: '/m/model.safetensors'});
    expect(top.map((i) => i.message)).toEqual(["the experiment's model /m/model.safetensors is a single weights file, but transformers serve loads a model folder (config, tokenizer and weights) or a hub id"]);
    expect(await check({model_path: '/m/llama-8b'})).toEqual([]);
  });

  it('refuses a reasoning mode with the completions API, which applies no chat template', async () => {
    const workload = {api: 'completions' as const, concurrency: 1, fixedOutputLength: false};
    expect(await check({reasoning: 'on'}, {workload})).toEqual([
      {path: ['reasoning'], message: 'reasoning on is applied through the chat template, which the completions API (raw prompts) does not use', try: 'set workload.api to chat, or remove reasoning'},
    ]);
    expect(await check({}, {workload})).toEqual([]);
    expect(await check({reasoning: 'off'})).toEqual([]);
  });

  it('offers both APIs and no fixed output length, whatever the section says', () => {
    expect(backend.fixedOutputLength).toBe(false);
    expect(backend.apis).toEqual(['completions', 'chat']);
  });
});
