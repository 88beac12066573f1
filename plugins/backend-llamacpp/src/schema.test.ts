import {describe, expect, it} from 'vitest';
import {configSchema, jsonSchema} from './schema.js';

async function validate(value: unknown) {
  return configSchema['~standard'].validate(value);
}

describe('llamacpp config schema', () => {
  it('applies the defaults to an empty section', async () => {
    expect(await validate({})).toEqual({value: {parallel: 4, gpu_layers: 'auto', flash_attention: false}});
  });

  it('accepts every documented key', async () => {
    const section = {model_path: 'm.Q4_K_M.gguf', context_size: 2048, parallel: 8, threads: 2, gpu_layers: 'max', batch_size: 256, flash_attention: true};
    expect(await validate(section)).toEqual({value: section});
    expect(await validate({gpu_layers: 0})).toMatchObject({value: {gpu_layers: 0}});
    expect(await validate({gpu_layers: 33})).toMatchObject({value: {gpu_layers: 33}});
  });

  it.each([
    [{contxt_size: 10}, 'contxt_size'],
    [{parallel: 0}, 'parallel'],
    [{threads: 1.5}, 'threads'],
    [{gpu_layers: -1}, 'gpu_layers'],
    [{gpu_layers: 'all'}, 'gpu_layers'],
    [{flash_attention: 'yes'}, 'flash_attention'],
    [{model_path: ''}, 'model_path'],
  ])('rejects %j at %s', async (section, key) => {
    const result = await validate(section);
    expect('issues' in result && result.issues).toBeTruthy();
    const issues = (result as {issues: Array<{path?: ReadonlyArray<PropertyKey | {key: PropertyKey}>; message: string}>}).issues;
    const where = issues.flatMap((i) => (i.path ?? []).map((p) => String(typeof p === 'object' ? p.key : p)));
    const messages = issues.map((i) => i.message).join(' ');
    expect(where.includes(key) || messages.includes(key)).toBe(true);
  });

  it('publishes a JSON Schema with every key described and unknown keys forbidden', () => {
    expect(jsonSchema.type).toBe('object');
    expect(jsonSchema.additionalProperties).toBe(false);
    expect(jsonSchema.$schema).toBeUndefined();
    const properties = jsonSchema.properties as Record<string, {description?: string; default?: unknown}>;
    expect(Object.keys(properties).sort()).toEqual(['batch_size', 'context_size', 'flash_attention', 'gpu_layers', 'model_path', 'parallel', 'threads']);
    for (const [key, property] of Object.entries(properties)) expect(property.description, key).toBeTruthy();
    expect(properties.parallel!.default).toBe(4);
    expect(properties.gpu_layers!.default).toBe('auto');
    expect(jsonSchema.required ?? []).toEqual([]);
  });
});
