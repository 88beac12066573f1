import {describe, expect, it} from 'vitest';
import {checkContext, config} from './__fixtures__/config.js';
import {checkConfig} from './check.js';

const issuesOf = async (section: unknown, ctx = checkContext) => checkConfig(await config(section), ctx);

describe('cross-field rules of the tensorrt section', () => {
  it('accepts the defaults and a full PyTorch-runtime section on enough GPUs', async () => {
    expect(await issuesOf({})).toEqual([]);
    expect(await issuesOf({tensor_parallel_size: 4, moe_expert_parallel_size: 2, enable_attention_dp: true, enable_chunked_prefill: true, max_seq_len: 32768, speculative: {decoding_type: 'NGram', max_draft_len: 4, max_matching_ngram_size: 3}}, {...checkContext, gpus: 4})).toEqual([]);
  });

  it('refuses more GPUs in the parallel layout than the experiment gives the server', async () => {
    expect(await issuesOf({tensor_parallel_size: 2, pipeline_parallel_size: 2}, {...checkContext, gpus: 2})).toEqual([
      {path: ['tensor_parallel_size'], message: 'tensor_parallel_size × pipeline_parallel_size = 2 × 2 = 4 GPUs, but the experiment gives the server 2', try: 'give the experiment 4 GPUs, or lower the parallel sizes until their product is at most 2'},
    ]);
  });

  it('refuses an expert-parallel size that does not divide the tensor-parallel size', async () => {
    const issues = await issuesOf({tensor_parallel_size: 4, moe_expert_parallel_size: 3}, {...checkContext, gpus: 4});
    expect(issues).toEqual([expect.objectContaining({path: ['moe_expert_parallel_size'], message: expect.stringContaining('must divide tensor_parallel_size 4')})]);
  });

  it('refuses attention data parallelism on one rank', async () => {
    expect(await issuesOf({enable_attention_dp: true})).toEqual([expect.objectContaining({path: ['enable_attention_dp']})]);
  });

  it("refuses the PyTorch runtime's settings and an FP8 KV cache with the tensorrt runtime", async () => {
    const issues = await issuesOf({runtime: 'tensorrt', kv_cache_dtype: 'fp8', cuda_graphs: true, overlap_scheduler: false, attention_backend: 'VANILLA', speculative: {decoding_type: 'NGram', max_draft_len: 2}});
    expect(issues.map((i) => i.path.join('.'))).toEqual(['kv_cache_dtype', 'cuda_graphs', 'overlap_scheduler', 'attention_backend', 'speculative']);
    expect(issues[0]).toMatchObject({message: expect.stringContaining('not supported by the tensorrt runtime'), try: 'use runtime: pytorch, or remove kv_cache_dtype'});
    expect(issues[1]).toMatchObject({message: 'cuda_graphs is a setting of the pytorch runtime, and runtime is tensorrt'});
  });

  it('refuses CUDA-graph settings when CUDA graphs are off', async () => {
    const issues = await issuesOf({cuda_graphs: false, cuda_graph_max_batch_size: 64, cuda_graph_padding: true});
    expect(issues.map((i) => i.path[0])).toEqual(['cuda_graph_max_batch_size', 'cuda_graph_padding']);
    expect(issues[0]!.try).toBe('remove cuda_graph_max_batch_size, or set cuda_graphs: true');
  });

  it('refuses a token budget below the longest sequence without chunked prefill, and accepts it with', async () => {
    expect(await issuesOf({max_num_tokens: 4096, max_seq_len: 8192})).toEqual([
      {path: ['max_num_tokens'], message: 'without chunked prefill a whole prompt is one iteration, so max_num_tokens (4096) must be at least max_seq_len (8192)', try: 'raise max_num_tokens to 8192, lower max_seq_len, or set enable_chunked_prefill: true'},
    ]);
    expect(await issuesOf({max_num_tokens: 4096, max_seq_len: 8192, enable_chunked_prefill: true})).toEqual([]);
  });

  it('checks each speculative decoding type for its draft model and n-gram settings', async () => {
    expect(await issuesOf({speculative: {decoding_type: 'Eagle3', max_draft_len: 3}})).toEqual([expect.objectContaining({path: ['speculative', 'speculative_model'], message: expect.stringContaining('none is given')})]);
    expect(await issuesOf({speculative: {decoding_type: 'MTP', max_draft_len: 1, speculative_model: '/d'}})).toEqual([expect.objectContaining({path: ['speculative', 'speculative_model'], try: 'remove speculative.speculative_model, or choose Eagle3 or DraftTarget'})]);
    expect(await issuesOf({speculative: {decoding_type: 'DraftTarget', max_draft_len: 3, speculative_model: '/d', max_matching_ngram_size: 2}})).toEqual([expect.objectContaining({path: ['speculative', 'max_matching_ngram_size']})]);
  });

  it('refuses a single model file, which TensorRT-LLM cannot serve, from the experiment or model_path', async () => {
    expect(await issuesOf({}, {...checkContext, model: '/data/models/tiny.gguf'})).toEqual([
      {path: ['model_path'], message: "the experiment's model /data/models/tiny.gguf is a single file; TensorRT-LLM serves a Hugging Face checkpoint folder, a TensorRT engine folder or a hub id (and no GGUF)", try: 'set tensorrt.model_path to the checkpoint folder or hub id (an FP8 checkpoint for FP8 weights)'},
    ]);
    expect(await issuesOf({model_path: '/data/model.safetensors'})).toEqual([expect.objectContaining({message: expect.stringContaining('model_path /data/model.safetensors is a single file')})]);
    expect(await issuesOf({model_path: '/data/models/llama-fp8'}, {...checkContext, model: '/data/models/tiny.gguf'})).toEqual([]);
  });
});
