/**
 * scripts/gpu-check.sh end to end where there is no GPU: lem measures the fake libnvidia-ml (real
 * FFI) while a fake nvidia-smi logs the same fake counter with wall-clock timestamps. The power
 * ramps, so energy over a window depends on where its edges are: the script must place lem's
 * window on nvidia-smi's log through the result's wall-clock anchor, to within what the counter's
 * 100 ms steps allow. This checks its plumbing (edges, interpolation, units); the real comparison
 * needs a real GPU.
 */
import {spawn} from 'node:child_process';
import {existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import {fileURLToPath} from 'node:url';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {compileFakeNvml, type FakeNvml} from '../../core/src/meters/__fixtures__/fake-nvml.js';
import {freshHome} from './helpers.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
let fake: FakeNvml;

/** The counter moves in steps every τ, as real ones do (about every 100 ms). */
const COUNTER_PERIOD_S = 0.1;
/**
 * Power P(t) = R·t from the origin, 0 W before it. The test starts the clock when the re-warm
 * request is on disk, right before the measure phase begins: the window's power rises from about
 * 0 W, so a window placed off by δ moves the compared energy by δ × P(end), twice the bound below
 * for δ = 200 ms, wherever the phase falls in time on a loaded machine.
 */
const RAMP_W_PER_S = 40;

const powerW = (tS: number) => RAMP_W_PER_S * Math.max(0, tS);
const energyJ = (tS: number) => (RAMP_W_PER_S * Math.max(0, tS) ** 2) / 2;

/** True once the run under `results` has a request of `phase` on disk. */
function reached(results: string, phase: string): boolean {
  const runs = existsSync(results) ? readdirSync(results) : [];
  const requests = runs[0] ? join(results, runs[0], 'requests.jsonl') : '';
  return requests !== '' && existsSync(requests) && readFileSync(requests, 'utf8').includes(`"phase":"${phase}"`);
}

beforeAll(() => {
  fake = compileFakeNvml();
});
afterAll(() => fake.cleanup());

describe('scripts/gpu-check.sh', () => {
  it("compares lem's window energy with the independent counter log: the same to within one counter step per edge", async () => {
    const out = mkdtempSync(join(tmpdir(), 'lem-gpu-check-'));
    const home = freshHome();
    const originFile = join(out, 'ramp-origin');
    const script = fake.use({
      originFile,
      driver: '555.42.06',
      devices: [{uuid: 'GPU-11111111-2222-3333-4444-555555555555', name: 'Fake H100', energyStartMj: 5_000_000, powerW: 0, rampWPerS: RAMP_W_PER_S, counterPeriodMs: COUNTER_PERIOD_S * 1000}],
    });
    const child = spawn('bash', [join(repo, 'scripts/gpu-check.sh'), out], {
      cwd: repo,
      timeout: 120_000,
      env: {
        ...process.env,
        // lem and the fake nvidia-smi load the same fake library and script: one counter, one clock.
        NVIDIA_SMI: join(repo, 'packages/cli/test/fixtures/fake-nvidia-smi.mjs'),
        LEM_NVML_LIBRARY: fake.libraryPath,
        FAKE_NVML_SCRIPT: script,
        LEM_DATA_DIR: join(home, 'data'),
        LEM_CACHE_DIR: join(home, 'cache'),
        LEM_LOCK_DIR: join(home, 'locks'),
        GPU_LAYERS: '0',
        BASELINE_S: '1',
        IDLE_SETTLE_S: '0',
        PROMPTS: '100',
        RATE: '20',
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let status: number | null | undefined;
    child.on('exit', (code) => (status = code));
    let originNs: bigint | undefined;
    while (status === undefined) {
      if (originNs === undefined && reached(join(out, 'results'), 'rewarm')) {
        originNs = process.hrtime.bigint();
        writeFileSync(`${originFile}.tmp`, String(originNs));
        renameSync(`${originFile}.tmp`, originFile); // whole, never half-written
      }
      await sleep(20);
    }
    expect(status, stderr).toBe(0);
    expect(originNs, 'the re-warm request was never seen on disk').toBeDefined();
    const report = JSON.parse(stdout.slice(stdout.indexOf('{'))) as {windowS: number; lemEnergyJ: number; lemUncertaintyJ: number; nvidiaSmiEnergyJ: number; ratioLemOverSmi: number};
    expect(report.windowS).toBeGreaterThan(4);

    // Where lem's edges fell on the ramp: the result's monotonic origin is the fake's clock too.
    const {runDir} = JSON.parse(readFileSync(join(out, 'experiment.json'), 'utf8')) as {runDir: string};
    const result = JSON.parse(readFileSync(join(runDir, 'result.json'), 'utf8')) as {clock: {t0Ns: string}; boundaries: Array<{label: string; atMs: number}>};
    const at = (label: string) => Number(BigInt(result.clock.t0Ns) - originNs!) / 1e9 + result.boundaries.find((b) => b.label === label)!.atMs / 1000;
    const [startS, endS] = [at('measure:start'), at('measure:end')];
    expect(startS).toBeLessThan(0.1);
    expect(endS).toBeGreaterThan(4);

    // lem reads the counter at each edge itself; its own figure is within its uncertainty of the ramp's.
    expect(Math.abs(report.lemEnergyJ - (energyJ(endS) - energyJ(startS)))).toBeLessThanOrEqual(report.lemUncertaintyJ);

    // The bound. Both sides read one staircase: the counter of P(t) steps every τ, by at most
    // τ·P(t + τ) near t. At an edge t lem has the staircase's value at t; the script interpolates it
    // between the two log lines around t, about τ apart, and both values lie within the step
    // between those lines: they differ by at most one step, τ·P(t + τ). The log's and the anchor's
    // millisecond timestamps move the interpolated value by ≤ 2 ms of its slope, ≤ 2 % of a step.
    // Over the window: |lem − smi| ≤ 1.02·τ·(P(start + τ) + P(end + τ)). The start is at 0 W here,
    // so that is about τ·P(end) = 2τ/T of the window's energy: 4 % at T = 5 s (a 65 s window on a
    // GPU: 0.3 %). A window placed 200 ms off moves the compared energy by 0.2 s × P(end): 8 %.
    // The log's lines are τ apart when the logger keeps its schedule; on a loaded machine they drift
    // further apart, and the step between two lines is then the counter's change over that spacing:
    // the bound takes the widest spacing the log really has.
    const spacingS = Math.max(COUNTER_PERIOD_S, widestSpacingS(readFileSync(join(out, 'nvidia-smi.csv'), 'utf8')));
    const boundJ = 1.02 * spacingS * (powerW(startS + spacingS) + powerW(endS + spacingS));
    const detail = `lem ${report.lemEnergyJ} J, nvidia-smi ${report.nvidiaSmiEnergyJ} J, bound ${boundJ.toFixed(3)} J (log spacing ≤ ${spacingS.toFixed(3)} s), edges at ${startS.toFixed(3)} s and ${endS.toFixed(3)} s of the ramp`;
    expect(Math.abs(report.lemEnergyJ - report.nvidiaSmiEnergyJ), detail).toBeLessThanOrEqual(boundJ + 0.001); // smi's figure is rounded to mJ
    expect(Math.abs(report.ratioLemOverSmi - 1), detail).toBeLessThanOrEqual(boundJ / report.nvidiaSmiEnergyJ + 1e-4); // the ratio is rounded to 4 places
  });
});

/** The widest gap between two consecutive lines of nvidia-smi's log (`YYYY/MM/DD HH:MM:SS.mmm, mJ`), in seconds. */
function widestSpacingS(log: string): number {
  const times = [...log.matchAll(/(\d{2}):(\d{2}):(\d{2})\.(\d{3}),/g)].map(([, h, m, s, ms]) => Number(h) * 3600 + Number(m) * 60 + Number(s) + Number(ms) / 1000);
  let widest = 0;
  for (let i = 1; i < times.length; i++) widest = Math.max(widest, times[i]! - times[i - 1]!);
  return widest;
}
