/**
 * The GPU device check (scripts/device-check/) end to end where there is no GPU: pack builds the
 * one-file bundle, and its run.sh, started in a clean folder, unpacks it, starts the independent
 * logger and the server (a random-weight Llama on the CPU, real PyTorch and transformers), runs lem
 * against the server with the nvml meter on the fake libnvidia-ml (real FFI, one scripted counter
 * for lem and the logger alike), and writes the report. The power ramps, so a window placed off by
 * δ moves the energy compared by about δ·P(end): the report's figures are checked against the
 * ramp's own energy at lem's edges.
 */
import {execFileSync, spawn} from 'node:child_process';
import {copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {compileFakeNvml, type FakeNvml, type FakeNvmlDevice} from '../../core/src/meters/__fixtures__/fake-nvml.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const LIMIT_BYTES = 45 * 1024 * 1024;
const UUID = 'GPU-11111111-2222-3333-4444-555555555555';
/** Power P(t) = BASE_W + RAMP_W_PER_S·t from the script's origin; the counter is its integral. */
const BASE_W = 100;
const RAMP_W_PER_S = 20;
const ENERGY_START_MJ = 5_000_000;

/** The Python with torch and transformers on the CPU (scripts/device-check/python-env.sh). */
function devicePython(): string | null {
  const candidates = [process.env.LEM_DEVICE_CHECK_PYTHON, join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? '', '.cache'), 'lem/device-check-python/bin/python')];
  const found = candidates.find((p): p is string => p !== undefined && p !== '' && existsSync(p));
  if (found) return found;
  if (process.env.CI === 'true') throw new Error('CI: no Python with torch and transformers for the device check (scripts/device-check/python-env.sh makes one)');
  return null;
}

const python = devicePython();
/** Every temp folder the tests make (each holds a ~40 MB copy of the bundle): removed at the end. */
const made: string[] = [];
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
};
let fake: FakeNvml;
let bundle: string;
let packLine: {bytes: number; xzLevel: number};

interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
  out: string;
}

/** Starts the bundle's run.sh in a new empty folder, as a user would: `OUT=… bash lem-device-check.run`. */
function runBundle(file: string, env: Record<string, string | undefined>): Promise<RunResult> {
  const dir = tempDir('lem-device-check-test-');
  const out = join(dir, 'out');
  copyFileSync(file, join(dir, 'lem-device-check.run'));
  const child = spawn('bash', ['lem-device-check.run'], {cwd: dir, env: {...process.env, FAKE_NVML_SCRIPT: undefined, ...env}, timeout: 240_000});
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('exit', (status) => resolve({status, stdout, stderr, out})));
}

/** The settings of a short CPU run: the kit as it runs on a GPU, with a tiny model and a 4 s window. */
function cpuRun(script: string): Record<string, string> {
  return {
    OUT: '', // set per run below
    PYTHON: python!,
    DEVICE_CHECK_DEVICE: 'cpu',
    LEM_NVML_LIBRARY: fake.libraryPath,
    FAKE_NVML_SCRIPT: script,
    MODEL: 'tiny',
    RATE: '20',
    WINDOW_S: '4',
    INPUT_TOKENS: '32',
    OUTPUT_TOKENS: '16',
    WARMUP: '4',
    BASELINE_S: '1',
    IDLE_SETTLE_S: '0',
  };
}

async function runCpu(device: Omit<FakeNvmlDevice, 'uuid'>): Promise<RunResult & {report: any; raw: string}> {
  const script = fake.use({originNs: process.hrtime.bigint(), driver: '580.65.06', devices: [{uuid: UUID, name: 'NVIDIA H200', energyStartMj: ENERGY_START_MJ, ...device}]});
  const env = cpuRun(script);
  const dir = tempDir('lem-device-check-out-');
  env.OUT = dir;
  const result = await runBundle(bundle, env);
  const raw = join(dir, 'raw');
  mkdirSync(raw);
  if (existsSync(join(dir, 'raw.tar.gz'))) execFileSync('tar', ['-xzf', join(dir, 'raw.tar.gz'), '-C', raw]);
  const reportPath = join(dir, 'report.json');
  return {...result, out: dir, raw, report: existsSync(reportPath) ? JSON.parse(readFileSync(reportPath, 'utf8')) : null};
}

/** True when `value` has nothing (null or undefined) at the path `keys`. */
function missing(value: unknown, keys: string[]): boolean {
  const at = keys.reduce<any>((v, k) => (v === null || v === undefined ? v : v[k]), value);
  return at === null || at === undefined;
}

describe.skipIf(python === null)('scripts/device-check', () => {
  beforeAll(() => {
    fake = compileFakeNvml();
    const dir = tempDir('lem-device-check-pack-');
    bundle = join(dir, 'lem-device-check.run');
    // xz level 3: about a third of the default's time, and the bundle still fits the limit.
    const line = execFileSync(process.execPath, [join(repo, 'scripts/device-check/pack.mjs'), '--out', bundle, '--xz-level', '3'], {cwd: repo, encoding: 'utf8'});
    packLine = JSON.parse(line.trim().split('\n').at(-1)!) as {bytes: number; xzLevel: number};
  }, 240_000);
  afterAll(() => {
    fake?.cleanup();
    for (const dir of made) rmSync(dir, {recursive: true, force: true});
  });

  it('pack builds one self-extracting file under the size limit', () => {
    const size = statSync(bundle).size;
    expect(packLine).toMatchObject({bytes: size, xzLevel: 3});
    expect(size).toBeLessThanOrEqual(LIMIT_BYTES);
    const head = readFileSync(bundle).subarray(0, 4096).toString('latin1');
    expect(head.startsWith('#!/usr/bin/env bash')).toBe(true);
    const offset = Number(/PAYLOAD_OFFSET=(\d{10})/.exec(head)![1]);
    // The payload starts right after the script's last line, an `exit`, and is xz (magic FD 37 7A 58 5A 00).
    const bytes = readFileSync(bundle);
    expect(bytes.subarray(offset - 5, offset).toString()).toBe('exit\n');
    expect([...bytes.subarray(offset, offset + 6)]).toEqual([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
  });

  it("runs end to end in a clean folder and reports lem's window energy beside the logger's, every figure present", async () => {
    const run = await runCpu({powerW: BASE_W, rampWPerS: RAMP_W_PER_S});
    expect(run.status, run.stderr).toBe(0);
    const r = run.report;
    const gaps = [
      ...['agree', 'lemJ', 'independentJ', 'diffPct'].map((k) => ['verdict', k]),
      ...['energyJ', 'uncertaintyJ', 'counterEnergyJ', 'integratedPowerJ', 'counterOverIntegrated', 'energyPerOutputTokenJ', 'avgPowerW'].map((k) => ['window', 'lem', k]),
      ...['counterEnergyJ', 'integratedPowerJ', 'counterOverIntegrated', 'energyPerOutputTokenJ', 'avgPowerW', 'counterEnergyMonotonicJ'].map((k) => ['window', 'logger', k]),
      ...['lemIdlePowerW', 'lemIdlePowerStdW', 'loggerIdlePowerW'].map((k) => ['idle', k]),
      ...['energy', 'power'].map((k) => ['readCostUs', 'logger', k, 'p50']),
      ['readCostUs', 'lemWholeRead', 'p50'],
      ...['lem', 'logger'].map((k) => ['jitterMs', k, 'p99']),
      ['counter', 'updatePeriodMs'],
      ['gpu', 'driver'],
      ['window', 'alignment', 'wallVsMonotonicJ'],
    ].filter((keys) => missing(r, keys));
    expect(gaps, JSON.stringify(r, null, 1)).toEqual([]);
    expect(r.verdict).toMatchObject({agree: true, compared: 'counter'});
    expect(r.counter).toMatchObject({offered: true, moved: true});
    expect(r.gpu).toMatchObject({uuid: UUID, driver: '580.65.06'});

    // The truth: the ramp's energy between lem's edges (the middle of each boundary read, on lem's
    // monotonic clock, which is the fake's). Both lem's figure and the logger's interpolation must
    // land on it. A window placed δ late gains δ·(P(end) − P(start)) = δ·R·T: 0.17 % here at δ = 50 ms.
    // What the placement itself may err by: lem's anchor is whole milliseconds (≤ 1 ms: δ·R·T ≤ 0.08 J,
    // 0.004 %), the logger's linear interpolation of the parabola over 20 ms (≤ R·Δ²/8 = 1 mJ an edge)
    // and whole-mJ counter reads: the bound below, 0.02 %, is 5× that and catches δ ≥ 6 ms.
    const result = JSON.parse(readFileSync(join(run.raw, r.lemRunDir, 'result.json'), 'utf8'));
    const t0 = BigInt(result.clock.t0Ns);
    const origin = BigInt(/origin_ns (\d+)/.exec(readFileSync(process.env.FAKE_NVML_SCRIPT!, 'utf8'))![1]!);
    const edgeS = (label: string) => {
      const read = result.boundaries.find((b: any) => b.label === label).reads[0];
      return Number(t0 - origin) / 1e9 + (read.readStartMs + read.readEndMs) / 2000;
    };
    const energyJ = (t: number) => BASE_W * t + (RAMP_W_PER_S * t * t) / 2;
    const truth = energyJ(edgeS('measure:end')) - energyJ(edgeS('measure:start'));
    const detail = `truth ${truth.toFixed(3)} J, lem ${r.window.lem.energyJ} J, logger ${r.window.logger.counterEnergyJ} J, window ${r.window.windowS} s`;
    expect(r.window.windowS, detail).toBeGreaterThan(3);
    // lem's own reads are whole mJ at its edges: within 2 mJ (5× margin at 0.01 J).
    expect(Math.abs(r.window.lem.energyJ - truth), detail).toBeLessThan(0.01);
    expect(Math.abs(r.window.logger.counterEnergyJ - truth) / truth, detail).toBeLessThan(0.0002);
    expect(Math.abs(r.verdict.diffPct), detail).toBeLessThan(0.1);
    // Over the logger's own clock, its integrated power is its counter (the fake's power is the counter's slope).
    expect(Math.abs(r.window.logger.counterOverIntegrated - 1)).toBeLessThan(0.005);
    expect(Math.abs(r.window.alignment.wallVsMonotonicJ)).toBeLessThan(truth * 0.001);
    expect(r.window.outputTokens).toBe(result.metrics.tokens.output);
    expect(r.window.logger.energyPerOutputTokenJ).toBeCloseTo(r.window.logger.counterEnergyJ / result.metrics.tokens.output, 9);

    const md = readFileSync(join(run.out, 'report.md'), 'utf8');
    expect(md).toContain('**AGREE**');
    expect(md).toContain('nvmlDeviceGetTotalEnergyConsumption');
    expect(readFileSync(join(run.out, 'run.log'), 'utf8')).toContain('lem and the logger agree');
    // The work folder under /tmp went once its raw files were kept.
    expect(run.stderr).toMatch(/unpacking into (\S+)/);
    expect(existsSync(/unpacking into (\S+)/.exec(run.stderr)![1]!)).toBe(false);
  }, 240_000);

  it('a counter that never moves: the report says so, compares integrated power, labelled, and exits 3', async () => {
    // The energy counter stays where it is while power reads 250 W: what a virtualised driver may do.
    const run = await runCpu({powerW: 0, powerMw: 250_000});
    expect(run.status, run.stderr).toBe(3);
    const r = run.report;
    expect(r.counter).toMatchObject({offered: true, moved: false});
    expect(r.verdict).toMatchObject({agree: false, compared: 'integrated-power', withinThreshold: true});
    expect(r.verdict.label).toContain('the counter did not move');
    expect(r.window.logger.integratedPowerJ / r.window.windowS).toBeCloseTo(250, 0);
    expect(r.window.logger.avgPowerW).toBeCloseTo(250, 0);
    // lem's own result says its 0 J is no measurement.
    expect(r.lemWarnings).toContain('W_COUNTER_STILL');
    expect(readFileSync(join(run.out, 'report.md'), 'utf8')).toContain('falls back to **integrated power**');
  }, 240_000);

  it('refuses bad input with a code and a Try line, before unpacking anything', async () => {
    const base = {PYTHON: python!, LEM_NVML_LIBRARY: fake.libraryPath};
    const cases: Array<[Record<string, string>, string]> = [
      [{...base, OUT: ''}, 'E_DEVICE_CHECK_OUT'],
      [{...base, OUT: join(tmpdir(), 'lem-dc-out-bad'), MODEL: 'huge', DEVICE_CHECK_DEVICE: 'cpu'}, 'E_DEVICE_CHECK_SETTING'],
      [{...base, OUT: join(tmpdir(), 'lem-dc-out-bad'), RATE: 'fast', DEVICE_CHECK_DEVICE: 'cpu'}, 'E_DEVICE_CHECK_SETTING'],
      [{...base, OUT: join(tmpdir(), 'lem-dc-out-bad'), PATH: '/usr/bin:/bin'}, 'E_DEVICE_CHECK_NO_GPU'], // no nvidia-smi here
      [{...base, OUT: join(tmpdir(), 'lem-dc-out-bad'), DEVICE_CHECK_DEVICE: 'cpu', LEM_NVML_LIBRARY: ''}, 'E_DEVICE_CHECK_NVML'],
      [{...base, OUT: join(tmpdir(), 'lem-dc-out-bad'), DEVICE_CHECK_DEVICE: 'cpu', PYTHON: '/usr/bin/false'}, 'E_DEVICE_CHECK_PYTHON'],
    ];
    for (const [env, code] of cases) {
      const run = await runBundle(bundle, env);
      expect(run.status, `${code}: ${run.stderr}`).toBe(2);
      expect(run.stderr).toContain(code);
      expect(run.stderr).toMatch(/\n {2}Try: \S/);
      expect(run.stderr).not.toContain('unpacking');
    }
    // The template itself is not a bundle.
    const template = await runBundle(join(repo, 'scripts/device-check/run.sh'), {...base, OUT: join(tmpdir(), 'lem-dc-out-bad')});
    expect(template.status).toBe(2);
    expect(template.stderr).toContain('E_DEVICE_CHECK_UNPACKED');
    rmSync(join(tmpdir(), 'lem-dc-out-bad'), {recursive: true, force: true});
  }, 120_000);

  it('a truncated bundle fails with E_DEVICE_CHECK_PAYLOAD', async () => {
    const cut = join(tempDir('lem-device-check-cut-'), 'cut.run');
    writeFileSync(cut, readFileSync(bundle).subarray(0, 2 * 1024 * 1024));
    const out = tempDir('lem-device-check-out-');
    const run = await runBundle(cut, {...cpuRun(''), OUT: out, FAKE_NVML_SCRIPT: undefined});
    expect(run.status, run.stderr).toBe(1);
    expect(run.stderr).toContain('E_DEVICE_CHECK_PAYLOAD');
    expect(readFileSync(join(out, 'run.log'), 'utf8')).toContain('E_DEVICE_CHECK_PAYLOAD');
  }, 120_000);
});
