/**
 * The cool-down gap against the fake NVML library (the lowest boundary of a GPU this machine
 * lacks): the starting temperature is the target's base, a hot GPU keeps the campaign waiting
 * until it is back within delta_c, and the wait is bounded.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {compileFakeNvml, type FakeNvml} from '../meters/__fixtures__/fake-nvml.js';
import {makeCooler} from './cooldown.js';
import type {CampaignPlan} from './types.js';

const UUID = 'GPU-11111111-2222-3333-4444-555555555555';
let nvml: FakeNvml;

beforeAll(() => {
  nvml = compileFakeNvml();
});
afterAll(() => nvml.cleanup());

function plan(cooldown: Partial<CampaignPlan['gaps']['cooldown']>, uuids = [UUID]): CampaignPlan {
  return {
    gaps: {betweenExperimentsS: 0, betweenCyclesS: 0, cooldown: {enabled: true, deltaC: 3, timeoutS: 5, ...cooldown}},
    environment: {lemVersion: '0', plugins: [], models: {}, datasets: {}, gpus: {uuids, driverVersion: null}},
  } as unknown as CampaignPlan;
}

describe('cool-down gaps', () => {
  it('is off unless enabled, and says why it cannot work without a GPU temperature', () => {
    expect(makeCooler(plan({enabled: false}), nvml.libraryPath)).toEqual({cooler: null, note: null});
    const none = makeCooler(plan({}, []), nvml.libraryPath);
    expect(none.cooler).toBeNull();
    expect(none.note).toMatch(/uses no GPU.*time only/);
  });

  it('waits until the hottest GPU is back within delta_c of its starting temperature', async () => {
    nvml.use({devices: [{uuid: UUID, tempC: 40}]});
    const {cooler} = makeCooler(plan({timeoutS: 10}), nvml.libraryPath);
    expect(cooler?.idleC).toBe(40);
    nvml.use({devices: [{uuid: UUID, tempC: 55}]});
    // Cooled below the target (40 + 3) after a few reads: the wait ends then, not at the timeout.
    let reads = 0;
    const cooling = setInterval(() => {
      reads++;
      if (reads === 2) nvml.use({devices: [{uuid: UUID, tempC: 42}]});
    }, 300);
    const result = await cooler!.wait(new AbortController().signal);
    clearInterval(cooling);
    expect(result.cooledDown).toBe(true);
    expect(result.startC).toBe(55);
    expect(result.endC).toBe(42);
    expect(result.targetC).toBe(43);
    expect(result.waitedS).toBeLessThan(10);
  });

  it('gives up after timeout_s and says so', async () => {
    nvml.use({devices: [{uuid: UUID, tempC: 40}]});
    const {cooler} = makeCooler(plan({timeoutS: 0.5}), nvml.libraryPath);
    nvml.use({devices: [{uuid: UUID, tempC: 70}]});
    const result = await cooler!.wait(new AbortController().signal);
    expect(result).toMatchObject({cooledDown: false, reason: 'timeout', endC: 70});
  });
});
