import {describe, expect, it} from 'vitest';
import {EVERY_OPTION, REFERENCE_TEXT, reference, validate} from './__fixtures__/config.js';
import {CUDA_GRAPH_BACKENDS, DTYPES, jsonSchema, KV_CACHE_DTYPES, QUANTIZATION_METHODS, SCHEDULE_POLICIES} from './schema.js';

type Issue = {message: string; path?: ReadonlyArray<PropertyKey | {key: PropertyKey}>};

function issuesOf(result: Awaited<ReturnType<typeof validate>>): Issue[] {
  expect('issues' in result, 'the section should be refused').toBe(true);
  return (result as {issues: Issue[]}).issues;
}

const pathOf = (issue: Issue): string => (issue.path ?? []).map((p) => String(typeof p === 'object' ? p.key : p)).join('.');

const choicesOf = (flag: string): string[] | undefined => {
  const spec = reference.flags.get(flag);
  return spec?.kind === 'value' ? spec.choices : undefined;
};

describe('sglang config schema', () => {
  it("applies SGLang 0.5.18's own defaults, leaving what SGLang sizes at start-up unset", async () => {
    expect(await validate({})).toEqual({
      value: {
        dtype: 'auto',
        kv_cache_dtype: 'auto',
        max_prefill_tokens: 16384,
        schedule_policy: 'fcfs',
        disable_radix_cache: false,
        disable_overlap_schedule: false,
        enable_mixed_chunk: false,
        tp_size: 1,
        pp_size: 1,
        dp_size: 1,
        ep_size: 1,
        enable_torch_compile: false,
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

  it('accepts -1 for chunked_prefill_size (chunked prefill off) and a speculative section of its algorithm alone', async () => {
    expect(await validate({chunked_prefill_size: -1})).toMatchObject({value: {chunked_prefill_size: -1}});
    expect(await validate({speculative: {algorithm: 'NGRAM'}})).toMatchObject({value: {speculative: {algorithm: 'NGRAM'}}});
  });

  it('offers only choices the pinned SGLang has', () => {
    expect(choicesOf('--dtype')).toEqual([...DTYPES]);
    expect(choicesOf('--quantization')).toEqual(expect.arrayContaining([...QUANTIZATION_METHODS]));
    expect(choicesOf('--kv-cache-dtype')).toEqual([...KV_CACHE_DTYPES]);
    expect(choicesOf('--schedule-policy')).toEqual(expect.arrayContaining([...SCHEDULE_POLICIES]));
    expect(choicesOf('--cuda-graph-backend-decode')).toEqual([...CUDA_GRAPH_BACKENDS]);
    expect(choicesOf('--cuda-graph-backend-prefill')).toEqual([...CUDA_GRAPH_BACKENDS]);
    for (const other of ['marlin', 'unquant', 'mlx_q4', 'modelslim', 'petit_nvfp4', 'quark_int4fp8_moe']) expect(QUANTIZATION_METHODS).not.toContain(other);
  });

  it.each([
    [{quantisation: 'fp8'}, '', 'quantisation'],
    [{quantization: 'marlin'}, 'quantization', ''],
    [{quantization: 'mlx_q4'}, 'quantization', ''],
    [{quantization: 'fp8_per_tensor'}, 'quantization', ''],
    [{kv_cache_dtype: 'fp8'}, 'kv_cache_dtype', ''],
    [{dtype: 'fp16'}, 'dtype', ''],
    [{mem_fraction_static: 1}, 'mem_fraction_static', ''],
    [{mem_fraction_static: 0}, 'mem_fraction_static', ''],
    [{context_length: 0}, 'context_length', ''],
    [{max_running_requests: 2.5}, 'max_running_requests', ''],
    [{max_total_tokens: 0}, 'max_total_tokens', ''],
    [{chunked_prefill_size: 0}, 'chunked_prefill_size', ''],
    [{chunked_prefill_size: -2}, 'chunked_prefill_size', ''],
    [{max_prefill_tokens: 0}, 'max_prefill_tokens', ''],
    [{schedule_policy: 'priority'}, 'schedule_policy', ''],
    [{disable_radix_cache: 'yes'}, 'disable_radix_cache', ''],
    [{disable_overlap_schedule: 1}, 'disable_overlap_schedule', ''],
    [{enable_mixed_chunk: 'true'}, 'enable_mixed_chunk', ''],
    [{tp_size: 0}, 'tp_size', ''],
    [{pp_size: 1.5}, 'pp_size', ''],
    [{dp_size: -1}, 'dp_size', ''],
    [{ep_size: 0}, 'ep_size', ''],
    [{cuda_graph_backend_decode: 'piecewise'}, 'cuda_graph_backend_decode', ''],
    [{cuda_graph_backend_prefill: 'eager'}, 'cuda_graph_backend_prefill', ''],
    [{cuda_graph_max_bs_decode: 0}, 'cuda_graph_max_bs_decode', ''],
    [{enable_torch_compile: 'no'}, 'enable_torch_compile', ''],
    [{speculative: {algorithm: 'eagle'}}, 'speculative.algorithm', ''],
    [{speculative: {algorithm: 'MEDUSA'}}, 'speculative.algorithm', ''],
    [{speculative: {draft_model_path: 'org/draft'}}, 'speculative.algorithm', ''],
    [{speculative: {algorithm: 'EAGLE', num_steps: 0}}, 'speculative.num_steps', ''],
    [{speculative: {algorithm: 'EAGLE', eagle_topk: 0}}, 'speculative.eagle_topk', ''],
    [{speculative: {algorithm: 'EAGLE', num_draft_tokens: 1.5}}, 'speculative.num_draft_tokens', ''],
    [{speculative: {algorithm: 'EAGLE', draft_model_path: ''}}, 'speculative.draft_model_path', ''],
    [{speculative: {algorithm: 'NGRAM', tokens: 3}}, 'speculative', 'tokens'],
    [{trust_remote_code: 'yes'}, 'trust_remote_code', ''],
    [{startup_timeout_s: 0}, 'startup_timeout_s', ''],
    [{extra_args: '--random-seed 1'}, 'extra_args', ''],
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
    expect(properties.max_prefill_tokens!.default).toBe(16384);
    expect(properties.schedule_policy!.default).toBe('fcfs');
    expect(properties.mem_fraction_static!.default).toBeUndefined();
    expect(properties.chunked_prefill_size!.default).toBeUndefined();
    expect(jsonSchema.required ?? []).toEqual([]);
  });
});

/** Flag → the default the reference prints, for each key whose default the schema sets or leaves to SGLang. */
const REFERENCE_DEFAULTS: Array<[string, string]> = [
  ['--dtype', 'auto'],
  ['--kv-cache-dtype', 'auto'],
  ['--max-prefill-tokens', '16384'],
  ['--schedule-policy', 'fcfs'],
  ['--disable-radix-cache', 'False'],
  ['--disable-overlap-schedule', 'False'],
  ['--enable-mixed-chunk', 'False'],
  ['--tp-size', '1'],
  ['--pp-size', '1'],
  ['--dp-size', '1'],
  ['--ep-size', '1'],
  ['--enable-torch-compile', 'False'],
  ['--trust-remote-code', 'False'],
  ['--quantization', 'None'],
  ['--mem-fraction-static', 'None'],
  ['--context-length', 'None'],
  ['--max-running-requests', 'None'],
  ['--max-total-tokens', 'None'],
  ['--chunked-prefill-size', 'None'],
  ['--cuda-graph-backend-decode', 'None'],
  ['--cuda-graph-backend-prefill', 'None'],
  ['--cuda-graph-max-bs-decode', 'None'],
  ['--speculative-algorithm', 'None'],
  ['--speculative-num-steps', 'None'],
  ['--speculative-eagle-topk', 'None'],
  ['--speculative-num-draft-tokens', 'None'],
  ['--enable-metrics', 'False'],
  ['--host', '127.0.0.1'],
  ['--port', '30000'],
];

/** The `(default: X)` of a flag's entry in the reference: its option line and the help lines under it (the last one shown). */
function shownDefault(flag: string): string | undefined {
  const lines = REFERENCE_TEXT.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`  ${flag} `) || line.startsWith(`  ${flag},`) || line === `  ${flag}`);
  if (start < 0) return undefined;
  let entry = lines[start]!;
  for (let i = start + 1; i < lines.length && /^\s{6,}\S/.test(lines[i]!); i++) entry += ` ${lines[i]!.trim()}`;
  return [...entry.matchAll(/\(default: ([^)]*)\)/g)].at(-1)?.[1];
}
