import {existsSync} from 'node:fs';
import {API_VERSION} from '@lem/plugin-kit';
import {describe, expect, it} from 'vitest';
import registerHook from './hooks/register.js';
import {backend, configSchema, SERVER_MAIN_PATH} from './index.js';
import type {LlamacppConfig} from './schema.js';

const ctx = {model: '/models/tiny.gguf', port: 18123, gpus: [], workdir: '/tmp/w', threads: 3, runner: 'local' as const};

async function config(section: unknown): Promise<LlamacppConfig> {
  const result = await configSchema['~standard'].validate(section);
  if ('issues' in result && result.issues) throw new Error('invalid');
  return (result as {value: LlamacppConfig}).value;
}

describe('backend contribution', () => {
  it('describes itself', () => {
    expect(backend).toMatchObject({kind: 'backend', id: 'llamacpp', displayName: 'llama.cpp (embedded)', gpu: 'optional', local: true});
    expect(backend.jsonSchema.type).toBe('object');
  });

  it('starts dist/server/main.js with node, the model, the port and lem\'s threads by default', async () => {
    const spec = backend.server(await config({}), ctx);
    expect(spec.argv.slice(0, 2)).toEqual([process.execPath, SERVER_MAIN_PATH]);
    expect(SERVER_MAIN_PATH).toMatch(/[\\/]dist[\\/]server[\\/]main\.js$/);
    expect(existsSync(SERVER_MAIN_PATH.replace(/dist([\\/])server([\\/])main\.js$/, 'src$1server$2main.ts'))).toBe(true);
    const args = spec.argv.slice(2);
    const flag = (name: string) => args[args.indexOf(name) + 1];
    expect(flag('--model')).toBe('/models/tiny.gguf');
    expect(flag('--host')).toBe('127.0.0.1');
    expect(flag('--port')).toBe('18123');
    expect(flag('--threads')).toBe('3');
    expect(flag('--parallel')).toBe('4');
    expect(flag('--gpu-layers')).toBe('auto');
    expect(args).not.toContain('--context-size');
    expect(args).not.toContain('--flash-attention');
    expect(spec.port).toBe(18123);
    expect(spec.readiness).toEqual({healthPath: '/health', probe: 'completion', timeoutS: 120});
    expect(spec.stop).toEqual({signal: 'SIGTERM', graceS: 5});
    expect(spec.tokenizePath).toBe('/tokenize');
    expect(spec.versionProbe).toEqual({kind: 'http', path: '/version'});
    expect(spec.requestExtras).toEqual({ignore_eos: true});
    expect(spec.errorPatterns?.resource).toEqual(expect.arrayContaining(['failed to allocate', 'out of memory']));
  });

  it('lets the section override the model, threads and engine settings', async () => {
    const spec = backend.server(await config({model_path: '/m/q4.gguf', threads: 1, parallel: 2, context_size: 1024, gpu_layers: 0, batch_size: 128, flash_attention: true}), ctx);
    const args = spec.argv.slice(2);
    const flag = (name: string) => args[args.indexOf(name) + 1];
    expect(flag('--model')).toBe('/m/q4.gguf');
    expect(flag('--threads')).toBe('1');
    expect(flag('--parallel')).toBe('2');
    expect(flag('--context-size')).toBe('1024');
    expect(flag('--gpu-layers')).toBe('0');
    expect(flag('--batch-size')).toBe('128');
    expect(args).toContain('--flash-attention');
  });

  it('registers through the lem:register hook', async () => {
    const contributions = await registerHook.call(undefined, {apiVersion: API_VERSION, lemVersion: '0.0.0'});
    expect(contributions).toEqual([backend]);
  });
});
