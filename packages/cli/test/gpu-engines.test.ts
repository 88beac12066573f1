/**
 * The bundled GPU engines as a user meets them without a GPU: listed with their APIs and images,
 * their sections in `lem config schema`, a dry run that shows the engine's exact command line,
 * and refusals of settings the engine would refuse, located at the key in the file, before
 * anything starts. (TensorRT-LLM, not bundled, has its own install and routing tests.)
 */
import {mkdtempSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';
import {freshHome, lem} from './helpers.js';

let home: string;
let dir: string;
beforeAll(() => {
  home = freshHome();
  dir = mkdtempSync(join(tmpdir(), 'lem-gpu-engines-'));
});

const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return name;
};
const run = (args: string[]) => lem(args, {home, cwd: dir});

describe('the bundled GPU engines', () => {
  it('are listed with their plugin, container-only runner, APIs and image', () => {
    const listed = run(['backends', '--json']);
    expect(listed.status, listed.stderr).toBe(0);
    const backends = (JSON.parse(listed.stdout) as {backends: Array<Record<string, unknown>>}).backends;
    expect(backends.filter((b) => ['vllm', 'sglang', 'pytorch'].includes(b.id as string)).map((b) => [b.id, b.plugin, b.gpu, b.local, b.image, b.apis])).toEqual([
      ['pytorch', '@lem/backend-pytorch', 'required', false, 'lem/backend-pytorch:0.1.0', ['completions', 'chat']],
      ['sglang', '@lem/backend-sglang', 'required', false, 'lem/backend-sglang:0.1.0', ['completions', 'chat']],
      ['vllm', '@lem/backend-vllm', 'required', false, 'lem/backend-vllm:0.1.0', ['completions', 'chat']],
    ]);
    const schema = JSON.parse(run(['config', 'schema']).stdout) as {properties: Record<string, {properties?: Record<string, {description?: string}>}>};
    expect(Object.keys(schema.properties.vllm!.properties!)).toEqual(expect.arrayContaining(['dtype', 'quantization', 'kv_cache_dtype', 'gpu_memory_utilization', 'max_num_seqs', 'tensor_parallel_size', 'speculative']));
    expect(schema.properties.sglang!.properties!.mem_fraction_static!.description).toBeTruthy();
    expect(schema.properties.pytorch!.properties!.continuous_batching!.description).toBeTruthy();
  });

  it('dry runs show the engine command line with every energy option explicit, and the image', () => {
    const dry = run(['experiment', file('sg.yaml', 'model: Qwen/Qwen3-8B\nbackend: sglang\ngpus: [0]\nsglang:\n  mem_fraction_static: 0.8\n'), '--dry-run']);
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('server: sglang on the docker runner, image lem/backend-sglang:0.1.0');
    expect(dry.stdout).toMatch(/^command: python3 -m sglang\.launch_server --model-path Qwen\/Qwen3-8B .*--enable-metrics .*--dtype auto --kv-cache-dtype auto .*--tp-size 1 .*--mem-fraction-static 0\.8/m);
    const vllm = run(['experiment', file('v.yaml', 'model: meta-llama/Llama-3.1-8B-Instruct\nbackend: vllm\ngpus: [0, 1]\nvllm:\n  tensor_parallel_size: 2\n'), '--dry-run', '--json']);
    expect(vllm.status, vllm.stderr).toBe(0);
    const server = (JSON.parse(vllm.stdout) as {server: {argv: string[]; image: string; runner: string}}).server;
    expect(server).toMatchObject({runner: 'docker', image: 'lem/backend-vllm:0.1.0'});
    expect(server.argv.slice(0, 3)).toEqual(['vllm', 'serve', 'meta-llama/Llama-3.1-8B-Instruct']);
    expect(server.argv.join(' ')).toContain('--tensor-parallel-size 2 --pipeline-parallel-size 1 --data-parallel-size 1');
  });

  it.each([
    ['more GPUs in the parallel layout than given', 'model: m/x\nbackend: vllm\ngpus: [0]\nvllm:\n  tensor_parallel_size: 2\n', 'E_CONFIG_INVALID', /:5:25 vllm\.tensor_parallel_size: .* = 2 GPUs, but the experiment gives the server 1/, /^Try: give the experiment 2 GPUs/m],
    ['a quantisation the pinned SGLang lacks', 'model: m/x\nbackend: sglang\ngpus: [0]\nsglang:\n  quantization: int3\n', 'E_CONFIG_INVALID', /:5:17 sglang\.quantization: Invalid option: expected one of "awq"/, /^Try: /m],
    ['a fixed output length transformers serve cannot hold', 'model: m/x\nbackend: pytorch\ngpus: [0]\nworkload:\n  fixed_output_length: true\n', 'E_CONFIG_INVALID', /:5:24 workload\.fixed_output_length: PyTorch \(transformers\) has no request field/, /^Try: workload\.fixed_output_length: false/m],
    ['prompt truncation with no tokenizer route', 'model: m/x\nbackend: vllm\ngpus: [0]\ndataset:\n  kind: builtin\n  max_input_tokens: 64\n', 'E_DATASET_NO_TOKENIZER', /:6:21 dataset\.max_input_tokens: backend vllm has no tokenize endpoint/, /^Try: remove dataset\.max_input_tokens$/m],
    ['a GPU engine as a local process', 'model: m/x\nbackend: vllm\ngpus: [0]\nrunner: local\n', 'E_RUNNER_UNSUPPORTED', /backend vllm cannot run as a local process/, /^Try: --runner docker$/m],
  ])('refuse %s before anything starts, at the key', (_what, text, code, where, tryLine) => {
    const refused = run(['experiment', file('bad.yaml', text)]);
    expect(refused.status, refused.stdout).toBe(2);
    expect(refused.stderr).toContain(`Error ${code}`);
    expect(refused.stderr).toMatch(where);
    expect(refused.stderr).toMatch(tryLine);
    expect(refused.stderr).not.toMatch(/^\s+at /m);
  });
});
