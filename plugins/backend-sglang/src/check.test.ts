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

  it('refuses more GPUs in tp × pp × dp than the experiment gives', async () => {
    expect(await check({tp_size: 2, pp_size: 2, dp_size: 1}, {gpus: 2})).toEqual([
      {
        path: ['tp_size'],
        message: 'tp_size × pp_size × dp_size = 2 × 2 × 1 = 4 GPUs, but the experiment gives the server 2',
        try: 'give the experiment 4 GPUs, or lower the parallel sizes until their product is at most 2',
      },
    ]);
    expect(await check({tp_size: 2, dp_size: 2}, {gpus: 4})).toEqual([]);
  });

  it('keeps expert parallelism inside the tensor-parallel group', async () => {
    expect(await check({tp_size: 4, ep_size: 3}, {gpus: 4})).toEqual([
      {path: ['ep_size'], message: 'ep_size 3 must divide tp_size 4: expert parallelism runs inside the tensor-parallel group', try: 'set ep_size to a divisor of 4 (1 turns expert parallelism off)'},
    ]);
    expect(await check({tp_size: 4, ep_size: 4}, {gpus: 4})).toEqual([]);
    expect((await check({ep_size: 2})).map((i) => i.path)).toEqual([['ep_size']]);
  });

  it('refuses a decode CUDA-graph size when decode captures no CUDA graphs', async () => {
    const issues = await check({cuda_graph_backend_decode: 'disabled', cuda_graph_max_bs_decode: 64});
    expect(issues).toEqual([
      {
        path: ['cuda_graph_max_bs_decode'],
        message: 'cuda_graph_backend_decode: disabled captures no decode CUDA graphs, so cuda_graph_max_bs_decode 64 would have no effect',
        try: 'remove cuda_graph_max_bs_decode, or choose a decode CUDA-graph backend',
      },
    ]);
    expect(await check({cuda_graph_backend_decode: 'disabled', cuda_graph_backend_prefill: 'disabled'})).toEqual([]);
    expect(await check({cuda_graph_backend_decode: 'breakable', cuda_graph_max_bs_decode: 64})).toEqual([]);
  });

  it('refuses the tc_piecewise prefill backend with full torch.compile', async () => {
    const issues = await check({enable_torch_compile: true, cuda_graph_backend_prefill: 'tc_piecewise'});
    expect(issues.map((i) => [i.path, i.message])).toEqual([[['cuda_graph_backend_prefill'], 'cuda_graph_backend_prefill tc_piecewise cannot run with enable_torch_compile: true (full torch.compile mode)']]);
    expect(issues[0]!.try).toContain('turn enable_torch_compile off');
    expect(await check({enable_torch_compile: true})).toEqual([]);
    expect(await check({cuda_graph_backend_prefill: 'tc_piecewise'})).toEqual([]);
  });

  it('refuses mixed chunks without chunked prefill', async () => {
    expect(await check({enable_mixed_chunk: true, chunked_prefill_size: -1})).toEqual([
      {path: ['enable_mixed_chunk'], message: 'enable_mixed_chunk mixes prefill chunks into decode batches, but chunked_prefill_size -1 turns chunked prefill off', try: 'remove enable_mixed_chunk, or give chunked_prefill_size a positive size'},
    ]);
    expect(await check({enable_mixed_chunk: true})).toEqual([]);
    expect(await check({enable_mixed_chunk: true, chunked_prefill_size: 2048})).toEqual([]);
  });

  it('refuses a served name with a colon, which SGLang reserves for model:adapter', async () => {
    const issues = await check({}, {model: 'registry.local:5000/llama'});
    expect(issues).toEqual([
      {
        path: ['model_path'],
        message: "SGLang serves the model under its name, and refuses a name with a colon (reserved for model:adapter), but the experiment's model is registry.local:5000/llama",
        try: 'serve the model from a path or hub id without a colon',
      },
    ]);
    expect((await check({model_path: '/data/m:v2'})).map((i) => i.message)).toEqual([expect.stringContaining('but model_path is /data/m:v2')]);
  });

  it('matches quantization gguf with a .gguf model, both ways', async () => {
    expect(await check({quantization: 'gguf'})).toEqual([
      {path: ['quantization'], message: "quantization gguf needs a .gguf file, but the experiment's model is meta-llama/Llama-3.1-8B-Instruct", try: 'set model_path to the .gguf file, or remove quantization'},
    ]);
    expect(await check({quantization: 'gguf', model_path: '/m/llama-Q4_K_M.gguf'})).toEqual([]);
    const awq = await check({quantization: 'awq', model_path: '/m/llama-Q4_K_M.gguf'});
    expect(awq.map((i) => [i.path, i.message])).toEqual([[['quantization'], 'model_path /m/llama-Q4_K_M.gguf is a GGUF file, which SGLang reads only as quantization gguf, not awq']]);
  });

  it('asks the draft-model algorithms for a draft model and refuses one with NGRAM', async () => {
    expect(await check({speculative: {algorithm: 'EAGLE3'}})).toEqual([
      {path: ['speculative', 'draft_model_path'], message: 'speculative algorithm EAGLE3 proposes tokens with a draft model, and none is given', try: 'set speculative.draft_model_path to the draft model (hub id or absolute path)'},
    ]);
    for (const algorithm of ['EAGLE', 'STANDALONE', 'DFLASH']) expect((await check({speculative: {algorithm}})).map((i) => i.path), algorithm).toEqual([['speculative', 'draft_model_path']]);
    const ngram = await check({speculative: {algorithm: 'NGRAM', draft_model_path: 'org/draft'}});
    expect(ngram.map((i) => i.path)).toEqual([['speculative', 'draft_model_path']]);
    expect(ngram[0]!.message).toContain('NGRAM looks drafts up in the prompt and needs no draft model');
    expect(await check({speculative: {algorithm: 'NEXTN'}})).toEqual([]);
    expect(await check({speculative: {algorithm: 'DSPARK'}})).toEqual([]);
    expect(await check({speculative: {algorithm: 'NGRAM'}})).toEqual([]);
  });

  it('asks for num_steps with eagle_topk or num_draft_tokens, and for num_steps + 1 draft tokens on a chain', async () => {
    const spec = {algorithm: 'EAGLE', draft_model_path: 'org/eagle'};
    const loose = await check({speculative: {...spec, eagle_topk: 4, num_draft_tokens: 8}});
    expect(loose).toEqual([
      {path: ['speculative', 'eagle_topk'], message: 'speculative.eagle_topk needs speculative.num_steps: without it SGLang chooses all three together', try: 'set speculative.num_steps too, or remove speculative.eagle_topk'},
      {path: ['speculative', 'num_draft_tokens'], message: 'speculative.num_draft_tokens needs speculative.num_steps: without it SGLang chooses all three together', try: 'set speculative.num_steps too, or remove speculative.num_draft_tokens'},
    ]);
    const chain = await check({speculative: {...spec, num_steps: 3, eagle_topk: 1, num_draft_tokens: 8}});
    expect(chain).toEqual([{path: ['speculative', 'num_draft_tokens'], message: 'with eagle_topk 1 SGLang sets num_draft_tokens to num_steps + 1 = 4, not 8', try: 'set num_draft_tokens to 4, or remove it'}]);
    expect(await check({speculative: {...spec, num_steps: 5, eagle_topk: 4, num_draft_tokens: 8}})).toEqual([]);
    expect(await check({speculative: {...spec, num_steps: 3}})).toEqual([]);
    expect(await check({speculative: {algorithm: 'NGRAM', num_draft_tokens: 16}})).toEqual([]);
  });

  it('refuses the draft shapes SGLang overrides for NGRAM and DFLASH', async () => {
    const ngram = await check({speculative: {algorithm: 'NGRAM', eagle_topk: 4}});
    expect(ngram).toEqual([{path: ['speculative', 'eagle_topk'], message: 'speculative.eagle_topk is overridden by SGLang: NGRAM takes its breadth from its own n-gram settings', try: 'remove speculative.eagle_topk'}]);
    const dflash = await check({speculative: {algorithm: 'DFLASH', draft_model_path: 'org/dflash', num_steps: 3, eagle_topk: 2}});
    expect(dflash.map((i) => [i.path, i.message])).toEqual([
      [['speculative', 'eagle_topk'], 'speculative.eagle_topk is overridden by SGLang: DFLASH drafts one block (topk 1)'],
      [['speculative', 'num_steps'], 'DFLASH runs one draft step, and SGLang overrides speculative.num_steps 3 to 1'],
    ]);
    expect(await check({speculative: {algorithm: 'DFLASH', draft_model_path: 'org/dflash', num_steps: 1}})).toEqual([]);
  });

  it('refuses speculative decoding with pipeline parallelism, and mixed chunks with speculative decoding', async () => {
    const pp = await check({pp_size: 2, speculative: {algorithm: 'NGRAM'}}, {gpus: 2});
    expect(pp).toEqual([{path: ['speculative'], message: 'SGLang runs no speculative decoding with pipeline parallelism, but pp_size is 2', try: 'set pp_size to 1, or remove speculative'}]);
    const mixed = await check({enable_mixed_chunk: true, speculative: {algorithm: 'NEXTN'}});
    expect(mixed).toEqual([{path: ['enable_mixed_chunk'], message: 'SGLang turns enable_mixed_chunk off with speculative decoding', try: 'remove enable_mixed_chunk, or remove speculative'}]);
  });

  it('supports a fixed output length and both APIs whatever the section says', () => {
    expect(backend.fixedOutputLength).toBe(true);
    expect(backend.apis).toEqual(['completions', 'chat']);
  });
});
