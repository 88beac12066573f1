import {describe, expect, it} from 'vitest';
import {checkContext, config, EVERY_OPTION} from './__fixtures__/config.js';
import {backend} from './index.js';

async function check(section: unknown, ctx: Partial<typeof checkContext> = {}) {
  return backend.check!(await config(section), {...checkContext, ...ctx});
}

describe('cross-field rules (check)', () => {
  it('finds nothing wrong with the defaults on one GPU, or with every option on four', async () => {
    expect(await check({})).toEqual([]);
    expect(await check(EVERY_OPTION, {gpus: 4})).toEqual([]);
  });

  it('refuses more GPUs in tensor × pipeline × data parallel than the experiment gives', async () => {
    const issues = await check({tensor_parallel_size: 2, pipeline_parallel_size: 2, data_parallel_size: 1}, {gpus: 2});
    expect(issues).toEqual([
      {
        path: ['tensor_parallel_size'],
        message: 'tensor_parallel_size × pipeline_parallel_size × data_parallel_size = 2 × 2 × 1 = 4 GPUs, but the experiment gives the server 2',
        try: 'give the experiment 4 GPUs, or lower the parallel sizes until their product is at most 2',
      },
    ]);
    expect(await check({tensor_parallel_size: 2, data_parallel_size: 2}, {gpus: 4})).toEqual([]);
  });

  it('refuses a CUDA-graph capture size when no CUDA graphs are captured', async () => {
    const eager = await check({enforce_eager: true, max_cudagraph_capture_size: 512});
    expect(eager.map((i) => i.path)).toEqual([['max_cudagraph_capture_size']]);
    expect(eager[0]!.message).toBe('enforce_eager: true runs the model without CUDA graphs, so max_cudagraph_capture_size 512 would have no effect');
    const o0 = await check({optimization_level: 0, max_cudagraph_capture_size: 64});
    expect(o0[0]!.message).toBe('optimization_level 0 captures no CUDA graphs, so max_cudagraph_capture_size 64 would have no effect');
    expect(o0[0]!.try).toContain('remove max_cudagraph_capture_size');
    expect(await check({enforce_eager: true})).toEqual([]);
  });

  it('refuses a token budget smaller than the batch, and one smaller than a prompt without chunked prefill', async () => {
    const small = await check({max_num_seqs: 256, max_num_batched_tokens: 128});
    expect(small).toEqual([
      {
        path: ['max_num_batched_tokens'],
        message: 'max_num_batched_tokens (128) must be at least max_num_seqs (256): every running sequence needs a token in each step',
        try: 'raise max_num_batched_tokens to 256 or more, or lower max_num_seqs',
      },
    ]);
    const unchunked = await check({enable_chunked_prefill: false, max_num_batched_tokens: 2048, max_model_len: 8192});
    expect(unchunked.map((i) => i.message)).toEqual(['without chunked prefill a whole prompt is one step, so max_num_batched_tokens (2048) must be at least max_model_len (8192)']);
    expect(await check({enable_chunked_prefill: true, max_num_batched_tokens: 2048, max_model_len: 8192})).toEqual([]);
  });

  it('matches quantization gguf with a .gguf model, both ways', async () => {
    expect(await check({quantization: 'gguf'})).toEqual([
      {path: ['quantization'], message: "quantization gguf needs a .gguf file, but the experiment's model is meta-llama/Llama-3.1-8B-Instruct", try: 'set model_path to the .gguf file, or remove quantization'},
    ]);
    expect(await check({quantization: 'gguf', model_path: '/m/llama-Q4_K_M.gguf'})).toEqual([]);
    const awq = await check({quantization: 'awq', model_path: '/m/llama-Q4_K_M.gguf'});
    expect(awq.map((i) => [i.path, i.message])).toEqual([[['quantization'], 'model_path /m/llama-Q4_K_M.gguf is a GGUF file, which vLLM reads only as quantization gguf, not awq']]);
  });

  it('asks draft-model methods for a draft model and refuses one elsewhere', async () => {
    const missing = await check({speculative: {method: 'eagle3', num_speculative_tokens: 3}});
    expect(missing).toEqual([
      {path: ['speculative', 'model'], message: 'speculative method eagle3 proposes tokens with a draft model, and none is given', try: 'set speculative.model to the draft model (hub id or absolute path)'},
    ]);
    const extra = await check({speculative: {method: 'ngram', model: 'org/draft', num_speculative_tokens: 3}});
    expect(extra.map((i) => i.path)).toEqual([['speculative', 'model']]);
    expect(extra[0]!.message).toContain('ngram needs no draft model');
    expect(await check({speculative: {method: 'qwen3_5_mtp', num_speculative_tokens: 1}})).toEqual([]);
  });

  it('keeps the n-gram window to the ngram methods and in order', async () => {
    const misplaced = await check({speculative: {method: 'mtp', num_speculative_tokens: 1, prompt_lookup_max: 4}});
    expect(misplaced).toEqual([{path: ['speculative', 'prompt_lookup_max'], message: 'speculative.prompt_lookup_max applies to the ngram methods only, not to mtp', try: 'remove speculative.prompt_lookup_max'}]);
    const reversed = await check({speculative: {method: 'ngram', num_speculative_tokens: 4, prompt_lookup_min: 5, prompt_lookup_max: 2}});
    expect(reversed.map((i) => [i.path, i.message])).toEqual([[['speculative', 'prompt_lookup_min'], 'speculative.prompt_lookup_min (5) is larger than prompt_lookup_max (2)']]);
    expect(await check({speculative: {method: 'ngram_gpu', num_speculative_tokens: 4, prompt_lookup_min: 2, prompt_lookup_max: 5}})).toEqual([]);
  });

  it("accepts a draft tensor-parallel size of 1 or the target's only", async () => {
    const spec = {method: 'eagle', model: 'org/eagle', num_speculative_tokens: 2};
    const issues = await check({tensor_parallel_size: 4, speculative: {...spec, draft_tensor_parallel_size: 2}}, {gpus: 4});
    expect(issues).toEqual([
      {path: ['speculative', 'draft_tensor_parallel_size'], message: "speculative.draft_tensor_parallel_size 2 must be 1 or the target's tensor_parallel_size (4)", try: 'set draft_tensor_parallel_size to 1 or 4'},
    ]);
    expect(await check({tensor_parallel_size: 4, speculative: {...spec, draft_tensor_parallel_size: 1}}, {gpus: 4})).toEqual([]);
  });

  it('supports a fixed output length and both APIs whatever the section says', () => {
    expect(backend.fixedOutputLength).toBe(true);
    expect(backend.apis).toEqual(['completions', 'chat']);
  });
});
