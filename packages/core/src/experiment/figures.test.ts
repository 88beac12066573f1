import {describe, expect, it} from 'vitest';
import type {Boundary, RequestRecord, TimelineSample} from '../measure/types.js';
import type {ChannelInfo} from '../meters/index.js';
import {computeFigures, deriveWarnings} from './figures.js';

const cpu: ChannelInfo = {
  meter: 'cpu-estimate',
  channel: 'server',
  kind: 'counter',
  estimated: true,
  scope: 'process-group',
  source: 'test',
  updatePeriodMs: 10,
  model: {cpus: 1, idleWPerVcpu: 1, maxWPerVcpu: 3, range: {idleWPerVcpu: [0.5, 2], maxWPerVcpu: [2, 6], source: 'test'}},
};

/** A 10 W counter sampled every `intervalMs` from 0 to `untilMs`, as a stream (never an array). */
function* counterTimeline(intervalMs: number, untilMs: number, spikeAtMs = -1): Generator<TimelineSample> {
  for (let t = 0; t <= untilMs; t += intervalMs) {
    const powerW = t === spikeAtMs ? 99 : 10;
    yield {scheduledMs: t, read: {meter: 'cpu-estimate', channel: 'server', energyJ: (10 * t) / 1000, powerW, readStartMs: t, readEndMs: t}};
  }
}

const read = (t: number) => ({meter: 'cpu-estimate', channel: 'server', energyJ: (10 * t) / 1000, powerW: 10, readStartMs: t, readEndMs: t});
const boundary = (label: string, t: number): Boundary => ({label, atMs: t, reads: [read(t)]});

function record(id: number, sendMs: number, endMs: number): RequestRecord {
  return {id, phase: 'measure', promptIndex: id, scheduledMs: sendMs, sendMs, firstChunkMs: sendMs + 1, firstContentMs: sendMs + 1, lastContentMs: endMs, endMs, chunkGapsMs: [], contentChunks: 2, promptTokens: 4, outputTokens: 2, tokenSource: 'usage', finishReason: 'length', ok: true, httpStatus: 200, error: null};
}

describe('computeFigures', () => {
  it('takes a timeline of 200,000+ samples as a stream without a call-stack overflow, and finds its peak', () => {
    // 10 minutes at 3 ms: 200,001 samples. A spread of them into Math.max overflows V8's argument limit.
    const untilMs = 600_000;
    const records = Array.from({length: 200}, (_, i) => record(i, 1000 + i * 2900, 1000 + i * 2900 + 2500));
    const boundaries = [boundary('idle:start', 100), boundary('idle:end', 900), boundary('measure:start', 999), boundary('measure:end', records.at(-1)!.endMs + 1)];
    const figures = computeFigures({
      records,
      phases: [
        {name: 'idle', startMs: 100, endMs: 900, durationMs: 800},
        {name: 'measure', startMs: 999, endMs: records.at(-1)!.endMs + 1, durationMs: records.at(-1)!.endMs - 998},
      ],
      boundaries,
      channels: [cpu],
      energyNullReason: null,
      steadyWindow: {startMs: 3500, endMs: 500_000},
      intervalMs: 3,
      timeline: counterTimeline(3, untilMs, 300_000),
    });
    const m = figures.metrics!;
    if (!m.energy.available) throw new Error(m.energy.reason);
    expect(m.energy.peakPowerW).toBe(99);
    expect(m.energy.energyJ).toBeCloseTo((10 * (boundaries[3]!.atMs - 999)) / 1000, 9);
    expect(m.energy.idlePowerW).toBeCloseTo(10, 9);
    expect(m.energy.idlePowerStdW).toBe(0);
    // The estimate's model range brackets it (the coefficients' spread, apart from read-time uncertainty).
    expect(m.energy.modelRangeJ!.lowJ).toBeLessThan(m.energy.energyJ);
    expect(m.energy.modelRangeJ!.highJ).toBeGreaterThan(m.energy.energyJ);
    expect(m.coverage!.ticks).toBeGreaterThan(190_000);
    expect(m.steadyState.available && m.steadyState.energyJ).toBeCloseTo((10 * (500_000 - 3500)) / 1000, 6);
    expect(figures.phases.find((p) => p.name === 'idle')!.energy!.energyJ).toBeCloseTo(8, 9);
  });

  it('says the estimate and its model range in the warning', () => {
    const figures = computeFigures({
      records: [record(0, 1000, 2000)],
      phases: [],
      boundaries: [boundary('measure:start', 1000), boundary('measure:end', 2000)],
      channels: [cpu],
      energyNullReason: null,
      steadyWindow: null,
      intervalMs: 100,
      timeline: counterTimeline(100, 3000),
    });
    const warning = deriveWarnings({metrics: figures.metrics, maxOutputTokens: 2, channels: [cpu], loop: null}).find((w) => w.code === 'W_ENERGY_ESTIMATED');
    expect(warning?.message).toMatch(/would be \d+\.\d+–\d+\.\d+ J/);
  });
});

describe('deriveWarnings', () => {
  const gpu: ChannelInfo = {meter: 'nvml', channel: 'GPU-1', kind: 'counter', estimated: false, scope: 'device', source: 'test', updatePeriodMs: 100};
  /** A GPU whose energy counter stands at 5000 J while its power reads `powerW` (a virtualised driver may do that). */
  function stillCounter(powerW: number) {
    const at = (t: number) => ({meter: 'nvml', channel: 'GPU-1', energyJ: 5000, powerW, readStartMs: t, readEndMs: t});
    const samples = Array.from({length: 31}, (_, i): TimelineSample => ({scheduledMs: i * 100, read: at(i * 100)}));
    const figures = computeFigures({
      records: [record(0, 1000, 2000)],
      phases: [],
      boundaries: [
        {label: 'measure:start', atMs: 1000, reads: [at(1000)]},
        {label: 'measure:end', atMs: 2000, reads: [at(2000)]},
      ],
      channels: [gpu],
      energyNullReason: null,
      steadyWindow: null,
      intervalMs: 100,
      timeline: samples,
    });
    return deriveWarnings({metrics: figures.metrics, maxOutputTokens: 2, channels: [gpu], loop: null});
  }

  it('says when a GPU counter never moved while power was drawn: its 0 J is not a measurement', () => {
    const warning = stillCounter(250).find((w) => w.code === 'W_COUNTER_STILL');
    expect(warning?.message).toContain('GPU-1');
    expect(warning?.message).toMatch(/did not move.*250\.0 J/);
  });

  it('says nothing of a counter that stood still while the GPU drew nothing', () => {
    expect(stillCounter(0).map((w) => w.code)).not.toContain('W_COUNTER_STILL');
  });
});
