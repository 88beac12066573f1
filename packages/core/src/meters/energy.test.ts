import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import type {Boundary, MeterRead, TimelineSample} from '../measure/types.js';
import {edgePowerW, integratePower, modelRange, phaseEnergy, powerStats} from './energy.js';
import {digestTimeline} from './timeline-query.js';
import type {ChannelInfo} from './types.js';

const rapl = (channel: string, partOf?: string): ChannelInfo => ({meter: 'rapl', channel, kind: 'counter', estimated: false, scope: 'socket', source: 'test', updatePeriodMs: 1, ...(partOf ? {partOf} : {})});
const read = (channel: string, energyJ: number | null, startMs: number, endMs = startMs, powerW: number | null = null, meter = 'rapl'): MeterRead => ({meter, channel, energyJ, powerW, readStartMs: startMs, readEndMs: endMs});
const boundary = (label: string, reads: MeterRead[]): Boundary => ({label, atMs: (reads[0]!.readStartMs + reads[reads.length - 1]!.readEndMs) / 2, reads});
const sample = (t: number, powerW: number | null, channel = 'gpu0', meter = 'nvml'): TimelineSample => ({scheduledMs: t, read: read(channel, null, t, t, powerW, meter)});

describe('phaseEnergy', () => {
  const channels = ['package-0', 'package-1'].flatMap((p) => [rapl(p), rapl(`${p}/core`, p), rapl(`${p}/dram`)]);
  const reads = (t: number, e: Record<string, number>) => channels.map((c) => read(c.channel, e[c.channel] ?? 0, t, t + 0.1));

  it('takes end − start per channel and totals packages and DRAM without counting core twice', () => {
    const start = boundary('measure:start', reads(0, {'package-0': 100, 'package-0/core': 50, 'package-0/dram': 10, 'package-1': 200, 'package-1/core': 70, 'package-1/dram': 20}));
    const end = boundary('measure:end', reads(1000, {'package-0': 130, 'package-0/core': 70, 'package-0/dram': 13, 'package-1': 250, 'package-1/core': 100, 'package-1/dram': 24}));
    const e = phaseEnergy(start, end, channels);
    expect(e.channels.map((c) => [c.channel, c.energyJ])).toEqual([
      ['package-0', 30],
      ['package-0/core', 20],
      ['package-0/dram', 3],
      ['package-1', 50],
      ['package-1/core', 30],
      ['package-1/dram', 4],
    ]);
    expect(e.totals.energyJ).toBe(30 + 3 + 50 + 4);
    expect(e.energyJ).toBe(e.totals.energyJ);
    expect(e.estimated).toBe(false);
    expect(e.byMeter.rapl?.energyJ).toBe(87);
  });

  it('marks a counter that went backwards invalid, with null energy (never 0), and nulls the total', () => {
    const c = [rapl('package-0'), rapl('package-1')];
    const e = phaseEnergy(boundary('a', [read('package-0', 500, 0), read('package-1', 10, 0)]), boundary('b', [read('package-0', 3, 1000), read('package-1', 20, 1000)]), c);
    expect(e.channels[0]).toMatchObject({energyJ: null, uncertaintyJ: null});
    expect(e.channels[0]!.invalid).toMatch(/counter reset/);
    expect(e.channels[1]).toMatchObject({energyJ: 10});
    expect(e.channels[1]!.invalid).toBeUndefined();
    expect(e.totals.energyJ).toBeNull();
    expect(e.totals.reason).toMatch(/package-0: counter reset/);
  });

  it('a missing read is null with a reason, not invalid', () => {
    const e = phaseEnergy(boundary('a', [read('package-0', 1, 0)]), boundary('b', [read('package-0', null, 1000)]), [rapl('package-0')]);
    expect(e.channels[0]).toMatchObject({energyJ: null, reason: 'no counter read at b'});
    expect(e.channels[0]!.invalid).toBeUndefined();
  });

  it('uncertainty = Σ edges (read time + update period) × edge power, from adjacent samples', () => {
    const info: ChannelInfo = {...rapl('package-0'), updatePeriodMs: 1};
    const start = boundary('a', [read('package-0', 0, 100, 100.5)]); // mid 100.25, read 0.5 ms
    const end = boundary('b', [read('package-0', 100, 1100, 1102)]); // mid 1101, read 2 ms
    const samples = [90, 110, 1090, 1110].map((t, i) => ({scheduledMs: t, read: read('package-0', null, t, t, [40, 60, 80, 120][i]!)}));
    const e = phaseEnergy(start, end, [info], samples);
    // start edge power = (40 + 60) / 2 = 50 W; end edge = (80 + 120) / 2 = 100 W.
    expect(e.channels[0]!.uncertaintyJ).toBeCloseTo(((0.5 + 1) / 1000) * 50 + ((2 + 1) / 1000) * 100, 12);
    expect(e.totals.uncertaintyJ).toBeCloseTo(e.channels[0]!.uncertaintyJ!, 12);
  });

  it('without samples, edge power is the phase mean from the two boundaries', () => {
    const e = phaseEnergy(boundary('a', [read('package-0', 0, 0, 1)]), boundary('b', [read('package-0', 100, 1000, 1001)]), [rapl('package-0')]);
    // 100 J over 1 s = 100 W at both edges; (1 + 1) ms each.
    expect(e.channels[0]!.uncertaintyJ).toBeCloseTo(2 * (2 / 1000) * 100, 12);
  });

  it('labels a total with any estimated part as estimated', () => {
    const est: ChannelInfo = {meter: 'cpu-estimate', channel: 'server', kind: 'counter', estimated: true, scope: 'process-group', source: 'model', updatePeriodMs: 10};
    const e = phaseEnergy(
      boundary('a', [read('package-0', 0, 0), read('server', 0, 0, 0, null, 'cpu-estimate')]),
      boundary('b', [read('package-0', 5, 1000), read('server', 2, 1000, 1000, null, 'cpu-estimate')]),
      [rapl('package-0'), est],
    );
    expect(e.totals).toMatchObject({energyJ: 7, estimated: true});
    expect(e.byMeter.rapl?.estimated).toBe(false);
    expect(e.channels[1]!.estimated).toBe(true);
  });

  it('integrates a power-only channel over the window between its boundary reads', () => {
    const info: ChannelInfo = {meter: 'nvml', channel: 'gpu0', kind: 'power', estimated: false, scope: 'device', source: 'test', updatePeriodMs: 100};
    const samples = [0, 500, 1000, 1500, 2000].map((t) => sample(t, 200));
    const e = phaseEnergy(boundary('a', [read('gpu0', null, 500, 500, 200, 'nvml')]), boundary('b', [read('gpu0', null, 1500, 1500, 200, 'nvml')]), [info], samples);
    expect(e.channels[0]).toMatchObject({energyJ: 200, method: 'integrated'});
    expect(phaseEnergy(boundary('a', [read('gpu0', null, 0, 0, null, 'nvml')]), boundary('b', [read('gpu0', null, 9, 9, null, 'nvml')]), [info]).channels[0]!.reason).toMatch(/no power samples/);
  });
});

describe('edgePowerW', () => {
  it('averages the nearest samples on both sides, else the read, else the fallback', () => {
    const s = [sample(0, 10), sample(100, 20), sample(200, 60)];
    const digest = digestTimeline(s, {channels: [{meter: 'nvml', channel: 'gpu0'}], times: [150, 100, 500], windows: []});
    const near = (t: number) => digest.nearPowerW({meter: 'nvml', channel: 'gpu0'}, t);
    expect(edgePowerW(near(150), undefined, null)).toBe(40);
    expect(edgePowerW(near(100), undefined, null)).toBe(20);
    expect(edgePowerW(near(500), undefined, null)).toBe(60);
    expect(edgePowerW(null, read('x', 1, 5, 5, 7), 3)).toBe(7);
    expect(edgePowerW(null, read('x', 1, 5, 5, null), 3)).toBe(3);
  });
});

describe('integratePower', () => {
  it('trapezoids uneven intervals and interpolates at the edges', () => {
    const s = [sample(0, 0), sample(100, 100), sample(400, 100)];
    // [50, 250]: 50..100 ramps 50→100 W (3.75 J·ms… /1000), then 150 ms at 100 W.
    expect(integratePower(s, 50, 250)).toBeCloseTo((50 * 75 + 150 * 100) / 1000, 12);
    // Outside the samples the first/last power is held.
    expect(integratePower(s, -100, 0)).toBe(0);
    expect(integratePower(s, 400, 500)).toBeCloseTo(10, 12);
    expect(integratePower([], 0, 1)).toBeNull();
    expect(() => integratePower(s, 2, 1)).toThrow(/reversed/);
    expect(() => integratePower([sample(0, 1, 'a'), sample(1, 1, 'b')], 0, 1)).toThrow(/several channels/);
    expect(integratePower([sample(0, 1, 'a'), sample(0, 5, 'b')], 0, 1000, {meter: 'nvml', channel: 'b'})).toBe(5);
  });

  const spacing = fc.array(fc.double({min: 0.01, max: 500, noNaN: true}), {minLength: 1, maxLength: 40});
  const timesFrom = (gaps: number[], start: number) => gaps.reduce<number[]>((ts, g) => [...ts, (ts[ts.length - 1] ?? start) + g], [start]);

  it('property: a constant power P over [a, b] gives P·(b − a) for any sample spacing', () => {
    fc.assert(
      fc.property(spacing, fc.double({min: 0, max: 1000, noNaN: true}), fc.double({min: -1000, max: 1000, noNaN: true}), fc.double({min: 0, max: 5000, noNaN: true}), fc.double({min: -200, max: 200, noNaN: true}), (gaps, powerW, a, width, offset) => {
        const samples = timesFrom(gaps, a + offset).map((t) => sample(t, powerW));
        const j = integratePower(samples, a, a + width)!;
        expect(j).toBeCloseTo((powerW * width) / 1000, 6);
      }),
    );
  });

  it('property: splitting a window in two and adding equals the whole', () => {
    fc.assert(
      fc.property(
        spacing,
        fc.array(fc.double({min: 0, max: 700, noNaN: true}), {minLength: 41, maxLength: 41}),
        fc.double({min: -100, max: 3000, noNaN: true}),
        fc.double({min: 0, max: 3000, noNaN: true}),
        fc.double({min: 0, max: 1, noNaN: true}),
        (gaps, powers, a, width, split) => {
          const samples = timesFrom(gaps, 0).map((t, i) => sample(t, powers[i]!));
          const b = a + width;
          const m = a + split * width;
          const whole = integratePower(samples, a, b)!;
          const parts = integratePower(samples, a, m)! + integratePower(samples, m, b)!;
          expect(parts).toBeCloseTo(whole, 6);
        },
      ),
    );
  });

  it('property: a linear power ramp is integrated exactly', () => {
    fc.assert(
      fc.property(spacing, fc.double({min: -1, max: 1, noNaN: true}), (gaps, slope) => {
        const ts = timesFrom(gaps, 0);
        const last = ts[ts.length - 1]!;
        const p = (t: number) => 100 + slope * t;
        const samples = ts.map((t) => sample(t, p(t)));
        const expectedJ = ((p(0) + p(last)) / 2) * last / 1000;
        expect(integratePower(samples, 0, last)).toBeCloseTo(expectedJ, 6);
      }),
    );
  });
});

describe('powerStats', () => {
  it('mean, sample std and peak of one channel inside the window', () => {
    const s = [sample(0, 999), sample(10, 2), sample(20, 4), sample(30, 4), sample(40, 4), sample(50, 5), sample(60, 5), sample(70, 7), sample(80, 9), sample(90, 999, 'other')];
    const stats = powerStats(s, 10, 85, {meter: 'nvml', channel: 'gpu0'})!;
    expect(stats.n).toBe(8);
    expect(stats.meanW).toBe(5);
    expect(stats.stdW).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(stats.peakW).toBe(9);
    expect(powerStats(s, 1000, 2000, {meter: 'nvml', channel: 'gpu0'})).toBeNull();
    expect(powerStats([sample(5, 3)], 0, 10, {meter: 'nvml', channel: 'gpu0'})).toEqual({n: 1, meanW: 3, stdW: 0, peakW: 3});
  });
});

describe('modelRange', () => {
  it("recovers the CPU-seconds from a linear model's energy and re-prices them at the spread's ends", () => {
    const model = {cpus: 2, idleWPerVcpu: 1, maxWPerVcpu: 3, range: {idleWPerVcpu: [0.5, 2] as [number, number], maxWPerVcpu: [2, 5] as [number, number], source: 'test'}};
    // 10 s, 4 CPU-seconds: E = 2 × 1 × 10 + (3 − 1) × 4 = 28 J.
    expect(modelRange(28, 10, model)).toEqual({lowJ: 2 * 0.5 * 10 + (2 - 0.5) * 4, highJ: 2 * 2 * 10 + (5 - 2) * 4});
  });

  it('gives a phase estimated with a model its range, and totals add measured channels at their value', () => {
    const est: ChannelInfo = {
      meter: 'cpu-estimate', channel: 'server', kind: 'counter', estimated: true, scope: 'process-group', source: 'model', updatePeriodMs: 10,
      model: {cpus: 1, idleWPerVcpu: 1, maxWPerVcpu: 3, range: {idleWPerVcpu: [0.5, 2], maxWPerVcpu: [2, 6], source: 'test'}},
    };
    const gpu: ChannelInfo = {meter: 'nvml', channel: 'GPU-a', kind: 'counter', estimated: false, scope: 'device', source: 'test', updatePeriodMs: 100};
    const e = phaseEnergy(
      boundary('a', [read('server', 0, 0, 0, null, 'cpu-estimate'), read('GPU-a', 0, 0, 0, null, 'nvml')]),
      boundary('b', [read('server', 20, 10_000, 10_000, null, 'cpu-estimate'), read('GPU-a', 1000, 10_000, 10_000, null, 'nvml')]),
      [est, gpu],
    );
    // 10 s, 20 J: 10 J idle share and 5 CPU-seconds; low 0.5·10 + 1.5·5 = 12.5, high 2·10 + 4·5 = 40.
    expect(e.channels[0]!.modelRangeJ).toEqual({lowJ: 12.5, highJ: 40});
    expect(e.modelRangeJ).toEqual({lowJ: 1012.5, highJ: 1040});
    expect(e.channels.map((c) => c.scope)).toEqual(['process-group', 'device']);
  });
});
