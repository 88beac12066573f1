import {describe, expect, it} from 'vitest';
import {EVERY_OPTION, REFERENCE_TEXT, reference, validate} from './__fixtures__/config.js';
import {jsonSchema, KV_CACHE_DTYPES, QUANTIZATION_METHODS} from './schema.js';

type Issue = {message: string; path?: ReadonlyArray<PropertyKey | {key: PropertyKey}>};

function issuesOf(result: Awaited<ReturnType<typeof validate>>): Issue[] {
  expect('issues' in result, 'the section should be refused').toBe(true);
  return (result as {issues: Issue[]}).issues;
}

const pathOf = (issue: Issue): string => (issue.path ?? []).map((p) => String(typeof p === 'object' ? p.key : p)).join('.');

describe('vllm config schema', () => {
  it("applies vLLM 0.22.1's own defaults, leaving what vLLM sizes at start-up unset", async () => {
    expect(await validate({})).toEqual({
      value: {
        dtype: 'auto',
        kv_cache_dtype: 'auto',
        gpu_memory_utilization: 0.92,
        tensor_parallel_size: 1,
        pipeline_parallel_size: 1,
        data_parallel_size: 1,
        enable_expert_parallel: false,
        enforce_eager: false,
        performance_mode: 'balanced',
        optimization_level: 2,
        trust_remote_code: false,
        startup_timeout_s: 1800,
        extra_args: [],
      },
    });
  });

  it('keeps the defaults equal to those the committed reference shows', () => {
    for (const [flag, value] of REFERENCE_DEFAULTS) expect(shownDefault(flag), flag).toBe(value);
  });

  it('accepts every documented key', async () => {
    expect(await validate(EVERY_OPTION)).toEqual({value: EVERY_OPTION});
  });

  it('offers only quantisation methods and KV-cache types the pinned vLLM has', () => {
    const kv = reference.flags.get('--kv-cache-dtype');
    expect(kv?.kind === 'value' && kv.choices).toEqual(expect.arrayContaining([...KV_CACHE_DTYPES]));
    expect(QUANTIZATION_METHODS).not.toContain('fbgemm_fp8');
    expect(QUANTIZATION_METHODS).not.toContain('aqlm');
  });

  it.each([
    [{quantisation: 'fp8'}, '', 'quantisation'],
    [{quantization: 'aqlm'}, 'quantization', ''],
    [{quantization: 'fbgemm_fp8'}, 'quantization', ''],
    [{kv_cache_dtype: 'fp8_inc'}, 'kv_cache_dtype', ''],
    [{kv_cache_dtype: 'int4'}, 'kv_cache_dtype', ''],
    [{dtype: 'fp16'}, 'dtype', ''],
    [{gpu_memory_utilization: 1.2}, 'gpu_memory_utilization', ''],
    [{gpu_memory_utilization: 0}, 'gpu_memory_utilization', ''],
    [{tensor_parallel_size: 0}, 'tensor_parallel_size', ''],
    [{max_num_seqs: 2.5}, 'max_num_seqs', ''],
    [{optimization_level: 4}, 'optimization_level', ''],
    [{performance_mode: 'fast'}, 'performance_mode', ''],
    [{speculative: {method: 'lookahead', num_speculative_tokens: 2}}, 'speculative.method', ''],
    [{speculative: {method: 'ngram'}}, 'speculative.num_speculative_tokens', ''],
    [{speculative: {method: 'ngram', num_speculative_tokens: 2, tokens: 3}}, 'speculative', 'tokens'],
    [{extra_args: '--seed 1'}, 'extra_args', ''],
    [{model_path: ''}, 'model_path', ''],
  ])('refuses %j', async (section, path, named) => {
    const issues = issuesOf(await validate(section));
    expect(issues.map(pathOf)).toContain(path);
    if (named) expect(issues.map((i) => i.message).join(' ')).toContain(named);
  });

  it('publishes a JSON Schema with every key described and unknown keys forbidden', () => {
    expect(jsonSchema.type).toBe('object');
    expect(jsonSchema.additionalProperties).toBe(false);
    expect(jsonSchema.$schema).toBeUndefined();
    const properties = jsonSchema.properties as Record<string, {description?: string; default?: unknown}>;
    expect(Object.keys(properties).sort()).toEqual(Object.keys(EVERY_OPTION).sort());
    for (const [key, property] of Object.entries(properties)) expect(property.description, key).toBeTruthy();
    expect(properties.gpu_memory_utilization!.default).toBe(0.92);
    expect(properties.max_num_seqs!.default).toBeUndefined();
    expect(jsonSchema.required ?? []).toEqual([]);
  });
});

/** Flag → the default the reference prints, for each key whose default the schema sets or leaves to vLLM. */
const REFERENCE_DEFAULTS: Array<[string, string]> = [
  ['--dtype', 'auto'],
  ['--kv-cache-dtype', 'auto'],
  ['--gpu-memory-utilization', '0.92'],
  ['--tensor-parallel-size', '1'],
  ['--pipeline-parallel-size', '1'],
  ['--data-parallel-size', '1'],
  ['--enable-expert-parallel', 'False'],
  ['--enforce-eager', 'False'],
  ['--performance-mode', 'balanced'],
  ['--optimization-level', '2'],
  ['--trust-remote-code', 'False'],
  ['--max-num-seqs', 'None'],
  ['--max-num-batched-tokens', 'None'],
  ['--enable-prefix-caching', 'None'],
  ['--enable-chunked-prefill', 'None'],
  ['--async-scheduling', 'None'],
  ['--max-cudagraph-capture-size', 'None'],
  ['--max-model-len', 'None'],
  ['--quantization', 'None'],
];

/** The `(default: X)` of a flag's entry in the reference: its option line and the help lines under it. */
function shownDefault(flag: string): string | undefined {
  const lines = REFERENCE_TEXT.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`  ${flag} `) || line.startsWith(`  ${flag},`) || line === `  ${flag}`);
  if (start < 0) return undefined;
  let entry = lines[start]!;
  for (let i = start + 1; i < lines.length && /^\s{6,}[^\s-]/.test(lines[i]!); i++) entry += ` ${lines[i]!.trim()}`;
  return /\(default: ([^)]*)\)/.exec(entry)?.[1];
}
