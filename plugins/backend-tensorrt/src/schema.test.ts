import {describe, expect, it} from 'vitest';
import {config, EVERY_OPTION, validate} from './__fixtures__/config.js';
import {jsonSchema} from './schema.js';

const pathsOf = async (section: unknown) => {
  const result = await validate(section);
  return 'issues' in result ? result.issues.map((i) => (i.path ?? []).map((p) => (typeof p === 'object' ? p.key : p)).join('.')) : [];
};

describe('the tensorrt section', () => {
  it("fills TensorRT-LLM's own defaults and leaves what it derives unset", async () => {
    expect(await config({})).toEqual({
      runtime: 'pytorch',
      dtype: 'auto',
      kv_cache_dtype: 'auto',
      free_gpu_memory_fraction: 0.9,
      enable_block_reuse: true,
      max_batch_size: 2048,
      max_num_tokens: 8192,
      enable_chunked_prefill: false,
      tensor_parallel_size: 1,
      pipeline_parallel_size: 1,
      enable_attention_dp: false,
      trust_remote_code: false,
      log_level: 'info',
      startup_timeout_s: 2400,
      extra_options: {},
      extra_args: [],
    });
  });

  it('accepts every option', async () => {
    expect(await config(EVERY_OPTION)).toMatchObject({...EVERY_OPTION, speculative: {...EVERY_OPTION.speculative}});
  });

  it.each([
    [{runtime: 'trt'}, 'runtime'],
    [{dtype: 'fp8'}, 'dtype'],
    [{kv_cache_dtype: 'int8'}, 'kv_cache_dtype'],
    [{free_gpu_memory_fraction: 0}, 'free_gpu_memory_fraction'],
    [{free_gpu_memory_fraction: 1.2}, 'free_gpu_memory_fraction'],
    [{max_batch_size: 0}, 'max_batch_size'],
    [{max_num_tokens: 1.5}, 'max_num_tokens'],
    [{max_seq_len: -1}, 'max_seq_len'],
    [{tensor_parallel_size: 0}, 'tensor_parallel_size'],
    [{pipeline_parallel_size: '2'}, 'pipeline_parallel_size'],
    [{moe_expert_parallel_size: 0}, 'moe_expert_parallel_size'],
    [{cuda_graphs: 'yes'}, 'cuda_graphs'],
    [{cuda_graph_max_batch_size: 0}, 'cuda_graph_max_batch_size'],
    [{attention_backend: 'flash'}, 'attention_backend'],
    [{speculative: {decoding_type: 'Medusa', max_draft_len: 2}}, 'speculative.decoding_type'],
    [{speculative: {decoding_type: 'NGram'}}, 'speculative.max_draft_len'],
    [{speculative: {decoding_type: 'NGram', max_draft_len: 2, lookahead: 3}}, 'speculative'],
    [{log_level: 'loud'}, 'log_level'],
    [{startup_timeout_s: 0}, 'startup_timeout_s'],
    [{extra_args: '--x'}, 'extra_args'],
    [{max_batch: 8}, ''],
  ])('refuses %j at %s', async (section, path) => {
    expect(await pathsOf(section)).toContain(path);
  });

  it('is a strict JSON Schema object whose keys all have descriptions', () => {
    expect(jsonSchema).toMatchObject({type: 'object', additionalProperties: false});
    const properties = jsonSchema.properties as Record<string, {description?: string}>;
    for (const [key, prop] of Object.entries(properties)) expect(prop.description, key).toBeTruthy();
    expect(jsonSchema.required ?? []).toEqual([]);
  });
});
