/**
 * scripts/gpu-check.sh end to end where there is no GPU: lem measures the fake libnvidia-ml
 * (150 W, real FFI) while a fake nvidia-smi logs a 150 W counter on the wall clock. The script must
 * align the two by lem's wall-clock anchor and report a ratio near 1 — this checks its plumbing
 * (window edges, interpolation, units); the real comparison needs a real GPU.
 */
import {spawnSync} from 'node:child_process';
import {mkdtempSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {compileFakeNvml, type FakeNvml} from '../../core/src/meters/__fixtures__/fake-nvml.js';
import {freshHome} from './helpers.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
let fake: FakeNvml;
let script: string;

beforeAll(() => {
  fake = compileFakeNvml();
  script = fake.use({driver: '555.42.06', devices: [{uuid: 'GPU-11111111-2222-3333-4444-555555555555', name: 'Fake H100', powerW: 150}]});
});
afterAll(() => fake.cleanup());

describe('scripts/gpu-check.sh', () => {
  it('compares lem\'s window energy with the independent counter log and prints a ratio near 1', () => {
    const out = mkdtempSync(join(tmpdir(), 'lem-gpu-check-'));
    const home = freshHome();
    const run = spawnSync('bash', [join(repo, 'scripts/gpu-check.sh'), out], {
      cwd: repo,
      encoding: 'utf8',
      timeout: 120_000,
      env: {
        ...process.env,
        NVIDIA_SMI: join(repo, 'packages/cli/test/fixtures/fake-nvidia-smi.mjs'),
        FAKE_SMI_POWER_W: '150',
        LEM_NVML_LIBRARY: fake.libraryPath,
        FAKE_NVML_SCRIPT: script,
        LEM_DATA_DIR: join(home, 'data'),
        LEM_CACHE_DIR: join(home, 'cache'),
        LEM_LOCK_DIR: join(home, 'locks'),
        GPU_LAYERS: '0',
        BASELINE_S: '1',
        PROMPTS: '60',
        RATE: '20',
      },
    });
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout.slice(run.stdout.indexOf('{'))) as {windowS: number; lemEnergyJ: number; nvidiaSmiEnergyJ: number; ratioLemOverSmi: number};
    expect(report.windowS).toBeGreaterThan(1.5);
    expect(report.nvidiaSmiEnergyJ).toBeCloseTo(150 * report.windowS, -1);
    // Two 100 ms-quantised counters read at slightly different instants: agreement within 10 %.
    expect(report.ratioLemOverSmi).toBeGreaterThan(0.9);
    expect(report.ratioLemOverSmi).toBeLessThan(1.1);
  });
});
