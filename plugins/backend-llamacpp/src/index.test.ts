import {existsSync, readFileSync, statSync} from 'node:fs';
import {basename, dirname, join} from 'node:path';
import {API_VERSION} from '@lem/plugin-kit';
import {describe, expect, it} from 'vitest';
import registerHook from './hooks/register.js';
import {backend, configSchema, CONTAINER_LAUNCHER, DOCKERFILE_PATH, SERVER_MAIN_PATH} from './index.js';
import {PLUGIN_VERSION} from './version.js';
import type {LlamacppConfig} from './schema.js';

const ctx = {model: '/models/tiny.gguf', port: 18123, gpus: [], workdir: '/tmp/w', threads: 3, runner: 'local' as const};

async function config(section: unknown): Promise<LlamacppConfig> {
  const result = await configSchema['~standard'].validate(section);
  if ('issues' in result && result.issues) throw new Error('invalid');
  return (result as {value: LlamacppConfig}).value;
}

describe('in a container (runner docker)', () => {
  const docker = {...ctx, model: '/data/models/tiny.gguf', runner: 'docker' as const};

  it('runs the image\'s launcher on the model mounted read-only at /models, with the same flags', async () => {
    const spec = backend.server(await config({threads: 1}), docker);
    expect(spec.argv[0]).toBe(CONTAINER_LAUNCHER);
    const flag = (name: string) => spec.argv[spec.argv.indexOf(name) + 1];
    expect(flag('--model')).toBe('/models/tiny.gguf');
    expect([flag('--host'), flag('--port'), flag('--threads')]).toEqual(['127.0.0.1', '18123', '1']);
    expect(spec.mounts).toEqual([{hostPath: '/data/models', containerPath: '/models', readOnly: true}]);
    expect(spec.argv).not.toContain(process.execPath);
  });

  it('mounts the folder of model_path when the section gives one', async () => {
    const spec = backend.server(await config({model_path: '/q/tiny-q8.gguf'}), docker);
    expect(spec.argv[spec.argv.indexOf('--model') + 1]).toBe('/models/tiny-q8.gguf');
    expect(spec.mounts).toEqual([{hostPath: '/q', containerPath: '/models', readOnly: true}]);
  });

  it('names its image and the Dockerfile that builds it (shipped in the package)', () => {
    expect(backend.image).toEqual({ref: `lem/backend-llamacpp:${PLUGIN_VERSION}`, dockerfile: DOCKERFILE_PATH, buildArgs: {LEM_PLUGIN_VERSION: PLUGIN_VERSION}});
    expect(existsSync(DOCKERFILE_PATH)).toBe(true);
  });

  it('keeps the local launch without mounts', async () => {
    expect(backend.server(await config({}), ctx).mounts).toBeUndefined();
  });

  it('passes the same flags on both runners; only argv[0..] and the model path differ', async () => {
    const section = await config({threads: 2, parallel: 3, context_size: 512, gpu_layers: 0, batch_size: 64, flash_attention: true});
    const local = backend.server(section, {...docker, runner: 'local'});
    const inside = backend.server(section, docker);
    const withoutModel = (argv: string[]) => argv.filter((_, i) => argv[i - 1] !== '--model' && argv[i] !== '--model');
    expect(withoutModel(inside.argv.slice(1))).toEqual(withoutModel(local.argv.slice(2)));
    expect(local.argv[local.argv.indexOf('--model') + 1]).toBe('/data/models/tiny.gguf');
    expect({...inside, argv: [], mounts: undefined}).toEqual({...local, argv: []});
  });

  it('ships its image parts: the launcher (executable, outside /usr) beside the Dockerfile, the docker folder in the package', () => {
    const launcher = join(dirname(DOCKERFILE_PATH), basename(CONTAINER_LAUNCHER));
    expect(statSync(launcher).mode & 0o111).not.toBe(0);
    expect(CONTAINER_LAUNCHER.startsWith('/usr/')).toBe(false);
    const dockerfile = readFileSync(DOCKERFILE_PATH, 'utf8');
    expect(dockerfile).toMatch(/^ARG BASE=node:20-bookworm-slim\nFROM \$\{BASE\}$/m);
    expect(dockerfile).toContain(`COPY ${basename(CONTAINER_LAUNCHER)} ${CONTAINER_LAUNCHER}`);
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {files: string[]};
    expect(pkg.files).toContain('docker');
  });
});

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
