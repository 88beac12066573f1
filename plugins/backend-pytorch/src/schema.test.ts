import {describe, expect, it} from 'vitest';
import {EVERY_OPTION, REFERENCE_TEXT, reference, validate} from './__fixtures__/config.js';
import {jsonSchema, REASONING_MODES} from './schema.js';

type Issue = {message: string; path?: ReadonlyArray<PropertyKey | {key: PropertyKey}>};

function issuesOf(result: Awaited<ReturnType<typeof validate>>): Issue[] {
  expect('issues' in result, 'the section should be refused').toBe(true);
  return (result as {issues: Issue[]}).issues;
}

const pathOf = (issue: Issue): string => (issue.path ?? []).map((p) => String(typeof p === 'object' ? p.key : p)).join('.');

describe('pytorch config schema', () => {
  it("applies transformers 5.15.0's own defaults, leaving what transformers sizes at start-up unset", async () => {
    expect(await validate({})).toEqual({
      value: {
        dtype: 'auto',
        device: 'auto',
        continuous_batching: false,
        cb_block_size: 256,
        compile: false,
        reasoning: 'auto',
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

  it('accepts each device form: auto, cuda and cuda:<n>', async () => {
    for (const device of ['auto', 'cuda', 'cuda:0', 'cuda:3']) expect(await validate({device}), device).toEqual({value: expect.objectContaining({device})});
  });

  it('offers the reasoning modes the reference lists', () => {
    const reasoning = reference.flags.get('--reasoning');
    expect(reasoning?.kind === 'value' && reasoning.choices?.slice().sort()).toEqual([...REASONING_MODES].sort());
  });

  it.each([
    [{continous_batching: true}, '', 'continous_batching'],
    [{tensor_parallel_size: 2}, '', 'tensor_parallel_size'],
    [{dtype: 'fp16'}, 'dtype', ''],
    [{dtype: 'float8_e4m3fn'}, 'dtype', ''],
    [{quantization: 'awq'}, 'quantization', ''],
    [{quantization: 'bnb-2bit'}, 'quantization', ''],
    [{attn_implementation: 'flash_attention_2'}, 'attn_implementation', ''],
    [{attn_implementation: 'kernels-community/flash-attn2'}, 'attn_implementation', ''],
    [{device: 'cpu'}, 'device', ''],
    [{device: 'cuda:x'}, 'device', ''],
    [{device: 'mps'}, 'device', ''],
    [{continuous_batching: 'yes'}, 'continuous_batching', ''],
    [{cb_block_size: 2}, 'cb_block_size', ''],
    [{cb_block_size: 64.5}, 'cb_block_size', ''],
    [{cb_num_blocks: 0}, 'cb_num_blocks', ''],
    [{cb_max_batch_tokens: -1}, 'cb_max_batch_tokens', ''],
    [{cb_max_memory_percent: 0}, 'cb_max_memory_percent', ''],
    [{cb_max_memory_percent: 1.5}, 'cb_max_memory_percent', ''],
    [{cb_use_cuda_graph: 'auto'}, 'cb_use_cuda_graph', ''],
    [{compile: 1}, 'compile', ''],
    [{reasoning: 'high'}, 'reasoning', ''],
    [{trust_remote_code: 'true'}, 'trust_remote_code', ''],
    [{startup_timeout_s: 0}, 'startup_timeout_s', ''],
    [{extra_args: '--default-seed 1'}, 'extra_args', ''],
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
    expect(properties.cb_block_size!.default).toBe(256);
    expect(properties.device!.default).toBe('auto');
    expect(properties.cb_num_blocks!.default).toBeUndefined();
    expect(jsonSchema.required ?? []).toEqual([]);
  });
});

/** Flag → the default the reference prints, for each key whose default the schema sets or leaves to transformers. */
const REFERENCE_DEFAULTS: Array<[string, string | undefined]> = [
  ['--dtype', 'auto'],
  ['--device', 'auto'],
  ['--continuous-batching / --no-continuous-batching', 'no-continuous-batching'],
  ['--compile / --no-compile', 'no-compile'],
  ['--reasoning', 'auto'],
  ['--trust-remote-code / --no-trust-remote-code', 'no-trust-remote-code'],
  ['--log-level', 'warning'],
  ['--quantization', undefined],
  ['--attn-implementation', undefined],
  ['--cb-block-size', undefined],
  ['--cb-num-blocks', undefined],
  ['--cb-max-batch-tokens', undefined],
  ['--cb-max-memory-percent', undefined],
  ['--cb-use-cuda-graph / --no-cb-use-cuda-graph', undefined],
];

/** The `[default: X]` of a flag's entry in the reference: its option line and the help lines under it. */
function shownDefault(flag: string): string | undefined {
  const lines = REFERENCE_TEXT.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`  ${flag} `) || line === `  ${flag}`);
  expect(start, flag).toBeGreaterThan(0);
  let entry = lines[start]!;
  for (let i = start + 1; i < lines.length && /^\s{6,}[^\s-]/.test(lines[i]!); i++) entry += ` ${lines[i]!.trim()}`;
  return /\[default: ([^\]]*)\]/.exec(entry)?.[1];
}
