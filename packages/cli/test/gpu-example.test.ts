/**
 * examples/gpu-engines-campaign.yaml, planned here as a user with the TensorRT-LLM plugin would
 * plan it (the plugin linked from this checkout; no GPU or engine image is needed for a dry run):
 * the example must keep resolving against the engines' real sections, and without the plugin it
 * must say how to install it.
 */
import {spawnSync} from 'node:child_process';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {REPO} from './__fixtures__/docker-cli.js';
import {freshHome, lem, LEM_BIN} from './helpers.js';

const EXAMPLE = join(REPO, 'examples/gpu-engines-campaign.yaml');

interface Plan {
  plan: {configurations: Array<{name: string; backend: string; settings: Array<{key: string; value: unknown}>}>; runs: unknown[]; runner: string};
}

describe('the GPU engines example campaign', () => {
  it('without the TensorRT-LLM plugin, says to install it, at the keys of its section', () => {
    const run = lem(['campaign', 'run', EXAMPLE, '--dry-run'], {cwd: REPO});
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/gpu-engines-campaign\.yaml:\d+:\d+ sweep\.precision\[0\]\.tensorrt\.dtype: "tensorrt" is not a setting/);
    expect(run.stderr).toMatch(/^Try: lem plugins install @lem\/backend-tensorrt$/m);
  });

  it('with it, plans 3 engines × 2 precisions × 4 concurrencies × 3 cycles in containers, each engine given its own section', () => {
    const home = freshHome();
    const linked = lem(['plugins', 'link', join(REPO, 'plugins/backend-tensorrt'), '--no-install'], {home});
    expect(linked.status, linked.stderr).toBe(0);
    const run = lem(['campaign', 'run', EXAMPLE, '--dry-run', '--json'], {home, cwd: REPO});
    expect(run.status, run.stderr).toBe(0);
    // Well over the 64 KiB a pipe takes at once: lem waits for stdout to drain before it exits.
    expect(run.stdout.length).toBeGreaterThan(3 * 65536);
    const {plan} = JSON.parse(run.stdout) as Plan;
    expect(plan.configurations).toHaveLength(24);
    expect(plan.runs).toHaveLength(72);
    expect(plan.runner).toBe('docker');
    expect(plan.configurations.map((c) => c.name).slice(0, 5)).toEqual(['vllm-conc1-float16-auto', 'vllm-conc8-float16-auto', 'vllm-conc32-float16-auto', 'vllm-conc128-float16-auto', 'vllm-conc1-auto-fp8-Llama3.18BInstructFP8']);
    const setting = (name: string, key: string) => plan.configurations.find((c) => c.name === name)!.settings.find((s) => s.key === key)?.value;
    // The FP8 checkpoint is a hub id for every engine, not a path; each engine's own FP8 KV-cache type.
    for (const [engine, kv] of [['vllm', 'fp8'], ['tensorrt', 'fp8'], ['sglang', 'fp8_e4m3']] as const) {
      expect(setting(`${engine}-conc32-auto-${kv.replace('_', '')}-Llama3.18BInstructFP8`, `${engine}.model_path`)).toBe('nvidia/Llama-3.1-8B-Instruct-FP8');
      expect(setting(`${engine}-conc32-auto-${kv.replace('_', '')}-Llama3.18BInstructFP8`, `${engine}.kv_cache_dtype`)).toBe(kv);
    }
    expect(setting('tensorrt-conc8-float16-auto', 'tensorrt.max_batch_size')).toBe(2048);
    expect(setting('sglang-conc8-float16-auto', 'vllm.dtype')).toBeUndefined();
  });

  it('writes the whole plan to a pipe whose reader is slow (lem waits for stdout to drain before exiting)', () => {
    const home = freshHome();
    expect(lem(['plugins', 'link', join(REPO, 'plugins/backend-tensorrt'), '--no-install'], {home}).status).toBe(0);
    // A shell pipe whose reader starts 3 s late: a lem that exits without draining leaves only
    // the pipe's first 64 KiB there; one that waits gives everything.
    const command = `"${process.execPath}" "${LEM_BIN}" campaign run "${EXAMPLE}" --dry-run --json 2>/dev/null | (sleep 3; cat)`;
    const env = {...process.env, LEM_DATA_DIR: join(home, 'data'), LEM_CONFIG_DIR: join(home, 'config'), LEM_CACHE_DIR: join(home, 'cache'), NO_COLOR: '1'};
    const run = spawnSync('sh', ['-c', command], {cwd: REPO, env, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, timeout: 60_000});
    expect(run.status).toBe(0);
    expect(run.stdout.length).toBeGreaterThan(3 * 65536);
    expect((JSON.parse(run.stdout) as Plan).plan.configurations).toHaveLength(24);
  });
});
