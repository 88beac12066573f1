import {describe, expect, it} from 'vitest';
import type {RequestRecord, TimelineSample} from '../measure/types.js';
import {computeMetrics, peakPowerW, type PhaseEnergyInput} from './metrics.js';

function record(id: number, over: Partial<RequestRecord> = {}): RequestRecord {
  return {
    id,
    phase: 'measure',
    promptIndex: id,
    scheduledMs: 1000 + id * 100,
    sendMs: 1000 + id * 100,
    firstChunkMs: 1000 + id * 100 + 20,
    firstContentMs: 1000 + id * 100 + 20,
    lastContentMs: 1000 + id * 100 + 110,
    endMs: 1000 + id * 100 + 110,
    chunkGapsMs: [10, 10, 10],
    contentChunks: 10,
    promptTokens: 5,
    outputTokens: 10,
    tokenSource: 'usage',
    finishReason: 'length',
    ok: true,
    httpStatus: 200,
    error: null,
    ...over,
  };
}

const energy = (energyJ: number | null, estimated = false): PhaseEnergyInput => ({energyJ, uncertaintyJ: energyJ === null ? null : 0.1, estimated, channels: []});

describe('computeMetrics', () => {
  // 10 requests, sends 100 ms apart from 1000 ms, each 110 ms long: window [1000, 2010] = 1.01 s.
  const records = Array.from({length: 10}, (_, i) => record(i));

  it('computes the window, throughput and latency figures from the records', () => {
    const m = computeMetrics({records, energy: energy(20.2), idle: {energy: energy(5), durationS: 5}, samples: []});
    expect(m.window).toEqual({startMs: 1000, endMs: 2010, durationS: 1.01});
    expect(m.requests).toMatchObject({sent: 10, ok: 10, failed: 0, failedFraction: 0});
    expect(m.tokens).toMatchObject({prompt: 50, output: 100, source: 'usage', meanOutput: 10});
    expect(m.outputTokensPerS).toBeCloseTo(100 / 1.01, 10);
    expect(m.requestsPerS).toBeCloseTo(10 / 1.01, 10);
    expect(m.ttftMs?.p50).toBe(20);
    // ITL = (E2E − TTFT) / (n − 1) = (110 − 20) / 9 = 10 ms
    expect(m.itlMs?.p50).toBeCloseTo(10, 10);
    expect(m.e2eMs?.max).toBe(110);
    expect(m.chunkGapMs?.n).toBe(30);
  });

  it('derives every energy figure from the window energy and idle power', () => {
    const m = computeMetrics({records, energy: energy(20.2), idle: {energy: energy(5), durationS: 5}, samples: []});
    if (!m.energy.available) throw new Error('energy should be available');
    expect(m.energy.idlePowerW).toBe(1);
    expect(m.energy.idleAdjustedEnergyJ).toBeCloseTo(20.2 - 1 * 1.01, 10);
    expect(m.energy.energyPerOutputTokenJ).toBeCloseTo(0.202, 10);
    expect(m.energy.energyPerTokenJ).toBeCloseTo(20.2 / 150, 10);
    expect(m.energy.energyPerRequestJ).toBeCloseTo(2.02, 10);
    expect(m.energy.energyPer1kQueriesWh).toBeCloseTo((2.02 * 1000) / 3600, 10);
    expect(m.energy.outputTokensPerJ).toBeCloseTo(100 / 20.2, 10);
    expect(m.energy.avgPowerW).toBeCloseTo(20, 10);
  });

  it('keeps null energy null with its reason, never 0', () => {
    const m = computeMetrics({records, energy: {energyJ: null, uncertaintyJ: null, estimated: false, channels: [], reason: 'remote-endpoint'}, idle: null, samples: []});
    expect(m.energy).toEqual({available: false, energyJ: null, reason: 'remote-endpoint'});
  });

  it('excludes failed requests from the figures but counts them', () => {
    const withFailures = [...records, record(10, {ok: false, outputTokens: null, tokenSource: null, error: {kind: 'timeout', message: 'x'}, httpStatus: null})];
    const m = computeMetrics({records: withFailures, energy: energy(10), idle: null, samples: []});
    expect(m.requests).toMatchObject({sent: 11, ok: 10, failed: 1, failuresByKind: {timeout: 1}});
    expect(m.tokens.output).toBe(100);
  });

  it('gives null per-token figures when token counts are missing, and undefined ITL for one-token outputs', () => {
    const noCounts = records.map((r, i) => (i === 0 ? {...r, outputTokens: null, tokenSource: null} : r));
    const m = computeMetrics({records: noCounts, energy: energy(10), idle: null, samples: []});
    expect(m.tokens.output).toBeNull();
    expect(m.tokens.withoutCounts).toBe(1);
    expect(m.outputTokensPerS).toBeNull();
    expect(m.energy.available && m.energy.energyPerOutputTokenJ).toBeNull();
    const oneToken = computeMetrics({records: records.map((r) => ({...r, outputTokens: 1})), energy: energy(1), idle: null, samples: []});
    expect(oneToken.itlMs).toBeNull();
  });
});

describe('peakPowerW', () => {
  it('sums the channels totals add per tick: sub-zones inside a package are skipped, DRAM counts', () => {
    const s = (t: number, channel: string, powerW: number): TimelineSample => ({scheduledMs: t, read: {meter: 'rapl', channel, energyJ: null, powerW, readStartMs: t, readEndMs: t}});
    const channels = [
      {meter: 'rapl', channel: 'package-0'},
      {meter: 'rapl', channel: 'package-1'},
      {meter: 'rapl', channel: 'package-0/core', partOf: 'package-0'},
      {meter: 'rapl', channel: 'package-0/dram'},
    ];
    const samples = [s(0, 'package-0', 10), s(0, 'package-1', 5), s(0, 'package-0/core', 8), s(0, 'package-0/dram', 2), s(100, 'package-0', 12), s(100, 'package-1', 6), s(300, 'package-0', 99)];
    expect(peakPowerW(samples, 0, 200, channels)).toBe(18);
    expect(peakPowerW(samples, 0, 50, channels)).toBe(17);
    expect(peakPowerW(samples, 500, 600, channels)).toBeNull();
  });
});

describe('steady state', () => {
  const sample = (t: number, energyJ: number): TimelineSample => ({scheduledMs: t, read: {meter: 'rapl', channel: 'package-0', energyJ, powerW: null, readStartMs: t, readEndMs: t}});
  // 10 W steady: cumulative energy = 10 J/s × t.
  const samples = Array.from({length: 31}, (_, i) => sample(i * 1000, i * 10));
  const channels = [{meter: 'rapl', channel: 'package-0', kind: 'counter'}];

  it('interpolates counters at the window edges', async () => {
    const {counterAt} = await import('./metrics.js');
    expect(counterAt(samples, 'rapl', 'package-0', 2500)).toBeCloseTo(25, 10);
    expect(counterAt(samples, 'rapl', 'package-0', 99_000)).toBeNull();
  });

  it('reports throughput, latency and energy of the steady window, excluding straddlers from latency', async () => {
    const {steadyStateFigures} = await import('./metrics.js');
    // Requests every second from 0 s, each 1.5 s long, 10 output tokens.
    const rs = Array.from({length: 25}, (_, i) => record(i, {sendMs: i * 1000, firstContentMs: i * 1000 + 100, lastContentMs: i * 1000 + 1500, endMs: i * 1000 + 1500}));
    const f = steadyStateFigures({records: rs, window: {startMs: 5000, endMs: 17000}, samples, channels, energyNullReason: null});
    if (!f.available) throw new Error(f.reason);
    expect(f.durationS).toBe(12);
    // Ends 5.5 … 16.5 s fall inside: requests 4 … 15 → 12 requests.
    expect(f.completedRequests).toBe(12);
    expect(f.outputTokensPerS).toBeCloseTo(120 / 12, 10);
    // Entirely inside: sends 5 … 15 s (ending by 16.5 s) → 11 requests.
    expect(f.ttftMs?.n).toBe(11);
    expect(f.energyJ).toBeCloseTo(120, 10);
    expect(f.avgPowerW).toBeCloseTo(10, 10);
    expect(f.energyPerOutputTokenJ).toBeCloseTo(1, 10);
  });

  it('is null with a reason when shorter than 10 s or absent, and never invents energy', async () => {
    const {steadyStateFigures} = await import('./metrics.js');
    expect(steadyStateFigures({records: [], window: {startMs: 0, endMs: 9000}, samples, channels, energyNullReason: null})).toMatchObject({available: false, reason: 'shorter-than-10s', durationS: 9});
    expect(steadyStateFigures({records: [], window: null, samples, channels, energyNullReason: null})).toMatchObject({available: false, reason: 'no-steady-state'});
    const remote = steadyStateFigures({records: [], window: {startMs: 0, endMs: 20000}, samples, channels, energyNullReason: 'remote-endpoint'});
    expect(remote).toMatchObject({available: true, energyJ: null, energyReason: 'remote-endpoint'});
    const reset = [...samples.slice(0, 10), sample(10_000, 1), ...samples.slice(11).map((s) => sample(s.scheduledMs, s.read.energyJ! - 99))];
    expect(steadyStateFigures({records: [], window: {startMs: 5000, endMs: 20000}, samples: reset, channels, energyNullReason: null})).toMatchObject({energyJ: null, energyReason: 'counter-reset'});
  });
});
