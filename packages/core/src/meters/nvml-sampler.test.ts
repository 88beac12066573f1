/**
 * The nvml meter inside the sampler's worker thread, on the fake libnvidia-ml.so.1: the worker
 * loads the library through koffi itself and reads it on the absolute schedule.
 */
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest';
import {isCodedError} from '@lem/plugin-kit';
import {monoNs} from '../measure/types.js';
import {phaseEnergy} from './energy.js';
import {startSampler, type Sampler} from './sampler.js';
import {compileFakeNvml, type FakeNvml} from './__fixtures__/fake-nvml.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Time-bound assertions: run one at a time with ≥ 2× margins (DESIGN §9).
describe.sequential('nvml in the sampler', () => {
  let fake: FakeNvml;
  let sampler: Sampler | undefined;
  beforeAll(() => {
    fake = compileFakeNvml();
  });
  afterAll(() => fake.cleanup());
  afterEach(async () => {
    await sampler?.stop();
    sampler = undefined;
  });

  it('boundary energy equals the scripted energy: counter GPU by its counter, power-only GPU by the timeline', async () => {
    const t0Ns = monoNs();
    // Counter: 1 000 000 mJ + 200 W·t, moving every 100 ms. Power-only: a steady 150 W.
    fake.use({
      originNs: t0Ns,
      devices: [
        {uuid: 'GPU-counter', energyStartMj: 1_000_000, powerW: 200, counterPeriodMs: 100, tempC: 61, clockReasons: 0x4},
        {uuid: 'GPU-power', noEnergyCounter: true, powerW: 150},
      ],
    });
    sampler = await startSampler({meters: [{kind: 'nvml', libraryPath: fake.libraryPath, uuids: ['GPU-counter', 'GPU-power']}], intervalMs: 50, t0Ns: t0Ns.toString()}, {flushEveryMs: 200});
    expect(sampler.channels.map((c) => [c.channel, c.kind])).toEqual([
      ['GPU-counter', 'counter'],
      ['GPU-power', 'power'],
    ]);
    expect(fake.refCount()).toBe(1); // the worker's meter holds NVML open
    await sleep(120);
    const start = await sampler.boundary('measure:start');
    await sleep(800);
    const end = await sampler.boundary('measure:end');
    await sleep(120);
    const result = await sampler.stop();
    expect(result.readErrors).toEqual([]);
    // Not asserted: fake.refCount() back to 0. The worker posts 'stopped' before it closes its
    // meters and the main thread terminates it on that message, so nvmlShutdown may never run
    // (sampler-worker.ts; reported). The fake reloads on a new script file regardless.

    // Each boundary read of the counter is the script's counter at a time inside the read.
    const counterAt = (ms: number) => 1000 + 200 * Math.floor(ms / 100) * 0.1;
    for (const b of [start, end]) {
      const r = b.reads.find((x) => x.channel === 'GPU-counter')!;
      expect(r.energyJ!).toBeGreaterThanOrEqual(counterAt(r.readStartMs) - 0.001);
      expect(r.energyJ!).toBeLessThanOrEqual(counterAt(r.readEndMs) + 0.001);
    }

    const e = phaseEnergy(start, end, sampler.channels, result.samples);
    const windowS = (end.atMs - start.atMs) / 1000;
    expect(windowS).toBeGreaterThan(0.75);
    const counter = e.channels.find((c) => c.channel === 'GPU-counter')!;
    expect(counter.method).toBe('counter');
    expect(Math.abs(counter.energyJ! - 200 * windowS)).toBeLessThanOrEqual(counter.uncertaintyJ!);
    // (read time + 100 ms) × 200 W at both edges, from the reads' own durations.
    const readS = (b: typeof start) => (b.reads.find((x) => x.channel === 'GPU-counter')!.readEndMs - b.reads.find((x) => x.channel === 'GPU-counter')!.readStartMs) / 1000;
    expect(counter.uncertaintyJ!).toBeCloseTo(200 * (0.2 + readS(start) + readS(end)), 6);
    const power = e.channels.find((c) => c.channel === 'GPU-power')!;
    expect(power.method).toBe('integrated');
    expect(power.energyJ!).toBeCloseTo(150 * windowS, 1);
    expect(e.totals.energyJ).toBeCloseTo(counter.energyJ! + power.energyJ!, 9);
    expect(e.totals.estimated).toBe(false);

    // The timeline: both GPUs on every tick, with the extras.
    const ticks = result.samples.filter((s) => s.read.channel === 'GPU-counter');
    expect(ticks.length).toBeGreaterThanOrEqual(10);
    expect(result.samples.filter((s) => s.read.channel === 'GPU-power')).toHaveLength(ticks.length);
    expect(ticks[0]!.read).toMatchObject({meter: 'nvml', powerW: 200, temperatureC: 61, clockEventReasons: 4, processes: 0, foreignProcesses: 0});
  });

  it('a GPU lost mid-run: the reads fail with E_GPU_LOST and the phase energy is null', async () => {
    const t0Ns = monoNs();
    // Lost 1 s after the origin: a worker that starts slowly on a loaded machine (a few hundred ms)
    // still creates its meter and takes the first boundary before.
    const lostAtS = 1;
    fake.use({originNs: t0Ns, devices: [{uuid: 'GPU-x', powerW: 100, lostAtS}]});
    sampler = await startSampler({meters: [{kind: 'nvml', libraryPath: fake.libraryPath, uuids: ['GPU-x']}], intervalMs: 50, t0Ns: t0Ns.toString()});
    const start = await sampler.boundary('a');
    await sleep(Math.max(0, lostAtS * 1000 - Number(monoNs() - t0Ns) / 1e6) + 150);
    const end = await sampler.boundary('b');
    const result = await sampler.stop();
    expect(start.reads[0]!.energyJ).toEqual(expect.any(Number));
    expect(end.reads[0]!.energyJ).toBeNull();
    expect(result.readErrors).toEqual([expect.objectContaining({meter: 'nvml', message: expect.stringMatching(/GPU GPU-x is lost/)})]);
    expect(phaseEnergy(start, end, sampler.channels, result.samples).energyJ).toBeNull();
  });

  it('an unknown GPU fails the sampler start with E_GPU_NOT_FOUND', async () => {
    fake.use({devices: [{uuid: 'GPU-here'}]});
    try {
      await startSampler({meters: [{kind: 'nvml', libraryPath: fake.libraryPath, uuids: ['GPU-elsewhere']}], t0Ns: monoNs().toString()});
      expect.unreachable();
    } catch (error) {
      expect(isCodedError(error) && error.code).toBe('E_GPU_NOT_FOUND');
      expect((error as Error).message).toContain('GPU-elsewhere');
    }
  });
});
