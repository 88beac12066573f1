import {describe, expect, it} from 'vitest';
import type {RequestRecord, TimelineSample} from '../measure/types.js';
import {digestTimeline, type ChannelInfo} from '../meters/index.js';
import {computeMetrics, steadyStateFigures, type PhaseEnergyInput} from './metrics.js';

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

const channel = (meter: string, name: string, over: Partial<ChannelInfo> = {}): ChannelInfo => ({
  meter,
  channel: name,
  kind: 'counter',
  estimated: false,
  scope: meter === 'nvml' ? 'device' : meter === 'rapl' ? 'socket' : 'process-group',
  source: 'test',
  updatePeriodMs: 100,
  ...over,
});

/** Energy of the window [1000, 2010] (the records'), from boundary reads 1 ms outside it. */
const energy = (energyJ: number | null, over: Partial<PhaseEnergyInput> = {}): PhaseEnergyInput => ({energyJ, uncertaintyJ: energyJ === null ? null : 0.1, estimated: false, channels: [], window: {startMs: 999, endMs: 2011}, ...over});
const noTimeline = digestTimeline([], {channels: [], times: [], windows: []});

describe('computeMetrics', () => {
  // 10 requests, sends 100 ms apart from 1000 ms, each 110 ms long: window [1000, 2010] = 1.01 s.
  const records = Array.from({length: 10}, (_, i) => record(i));

  it('computes the window, throughput and latency figures from the records', () => {
    const m = computeMetrics({records, energy: energy(20.24), idle: {energy: energy(5), durationS: 5, powerStdW: 0.1}, timeline: noTimeline});
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
    expect(m.nullReasons).toEqual({coverage: 'no-meter'});
  });

  it('derives every energy figure from the energy and the energy window, the same interval for both', () => {
    const m = computeMetrics({records, energy: energy(20.24), idle: {energy: energy(5), durationS: 5, powerStdW: 0.1}, timeline: noTimeline});
    if (!m.energy.available) throw new Error('energy should be available');
    // The boundary reads span 1.012 s: average power and the idle adjustment use that, not T = 1.01 s.
    expect(m.energy.window).toEqual({startMs: 999, endMs: 2011, durationS: 1.012});
    expect(m.energy.avgPowerW).toBeCloseTo(20.24 / 1.012, 10);
    expect(m.energy.idlePowerW).toBe(1);
    expect(m.energy.idlePowerStdW).toBe(0.1);
    expect(m.energy.idleAdjustedEnergyJ).toBeCloseTo(20.24 - 1 * 1.012, 10);
    expect(m.energy.energyPerOutputTokenJ).toBeCloseTo(0.2024, 10);
    expect(m.energy.energyPerTokenJ).toBeCloseTo(20.24 / 150, 10);
    expect(m.energy.energyPerRequestJ).toBeCloseTo(2.024, 10);
    expect(m.energy.totalEnergyPer1kQueriesWh).toBeCloseTo((2.024 * 1000) / 3600, 10);
    expect(m.energy.outputTokensPerJ).toBeCloseTo(100 / 20.24, 10);
  });

  it("names AI Energy Score's GPU-only unit apart from the total, and says why the GPU one is null without a GPU", () => {
    const channels = [
      {meter: 'nvml', channel: 'GPU-a', scope: 'device' as const, energyJ: 36, uncertaintyJ: 0.1, estimated: false, method: 'counter' as const},
      {meter: 'rapl', channel: 'package-0', scope: 'socket' as const, energyJ: 18, uncertaintyJ: 0.1, estimated: false, method: 'counter' as const},
    ];
    const withGpu = computeMetrics({records, energy: energy(54, {channels}), idle: null, timeline: noTimeline});
    if (!withGpu.energy.available) throw new Error('energy should be available');
    expect(withGpu.energy.gpuEnergyJ).toBe(36);
    expect(withGpu.energy.gpuEnergyPer1kQueriesWh).toBeCloseTo((3.6 * 1000) / 3600, 10);
    expect(withGpu.energy.totalEnergyPer1kQueriesWh).toBeCloseTo((5.4 * 1000) / 3600, 10);
    expect(withGpu.energy.scopes).toEqual(['device', 'socket']);
    const cpuOnly = computeMetrics({records, energy: energy(18, {channels: [channels[1]!]}), idle: null, timeline: noTimeline});
    if (!cpuOnly.energy.available) throw new Error('energy should be available');
    expect(cpuOnly.energy.gpuEnergyPer1kQueriesWh).toBeNull();
    expect(cpuOnly.energy.nullReasons.gpuEnergyPer1kQueriesWh).toBe('no-gpu-meter');
    expect(cpuOnly.energy.idlePowerW).toBeNull();
    expect(cpuOnly.energy.nullReasons.idlePowerW).toBe('no-idle-phase');
  });

  it('keeps null energy null with its reason, never 0', () => {
    const m = computeMetrics({records, energy: {energyJ: null, uncertaintyJ: null, estimated: false, channels: [], reason: 'remote-endpoint'}, idle: null, timeline: noTimeline});
    expect(m.energy).toEqual({available: false, energyJ: null, reason: 'remote-endpoint'});
  });

  it('a zero-length window gives null rates and power with the reason, not 0 or Infinity', () => {
    const instant = [record(0, {sendMs: 1000, firstContentMs: 1000, lastContentMs: 1000, endMs: 1000})];
    const m = computeMetrics({records: instant, energy: energy(1, {window: {startMs: 1000, endMs: 1000}}), idle: null, timeline: noTimeline});
    expect(m.requestsPerS).toBeNull();
    expect(m.outputTokensPerS).toBeNull();
    expect(m.nullReasons).toMatchObject({requestsPerS: 'zero-length-window', outputTokensPerS: 'zero-length-window'});
    if (!m.energy.available) throw new Error('energy should be available');
    expect(m.energy.avgPowerW).toBeNull();
    expect(m.energy.nullReasons.avgPowerW).toBe('zero-length-window');
  });

  it('excludes failed requests from the figures but counts them', () => {
    const withFailures = [...records, record(10, {ok: false, outputTokens: null, tokenSource: null, error: {kind: 'timeout', message: 'x'}, httpStatus: null})];
    const m = computeMetrics({records: withFailures, energy: energy(10), idle: null, timeline: noTimeline});
    expect(m.requests).toMatchObject({sent: 11, ok: 10, failed: 1, failuresByKind: {timeout: 1}});
    expect(m.tokens.output).toBe(100);
  });

  it('gives null per-token figures when token counts are missing, and undefined ITL for one-token outputs', () => {
    const noCounts = records.map((r, i) => (i === 0 ? {...r, outputTokens: null, tokenSource: null} : r));
    const m = computeMetrics({records: noCounts, energy: energy(10), idle: null, timeline: noTimeline});
    expect(m.tokens.output).toBeNull();
    expect(m.tokens.withoutCounts).toBe(1);
    expect(m.outputTokensPerS).toBeNull();
    expect(m.nullReasons.outputTokensPerS).toBe('no-token-counts');
    expect(m.energy.available && m.energy.energyPerOutputTokenJ).toBeNull();
    const oneToken = computeMetrics({records: records.map((r) => ({...r, outputTokens: 1})), energy: energy(1), idle: null, timeline: noTimeline});
    expect(oneToken.itlMs).toBeNull();
    expect(oneToken.nullReasons.itlMs).toMatch(/one-token/);
  });

  it('sums the channels totals add per tick for peak power: sub-zones inside a package are skipped, DRAM counts', () => {
    const s = (t: number, name: string, powerW: number): TimelineSample => ({scheduledMs: t, read: {meter: 'rapl', channel: name, energyJ: null, powerW, readStartMs: t, readEndMs: t}});
    const channels = [channel('rapl', 'package-0'), channel('rapl', 'package-1'), channel('rapl', 'package-0/core', {partOf: 'package-0'}), channel('rapl', 'package-0/dram')];
    const samples = [s(1000, 'package-0', 10), s(1000, 'package-1', 5), s(1000, 'package-0/core', 8), s(1000, 'package-0/dram', 2), s(1100, 'package-0', 12), s(1100, 'package-1', 6), s(2500, 'package-0', 99)];
    const timeline = digestTimeline(samples, {channels, times: [], windows: [{fromMs: 1000, toMs: 2010}]});
    const m = computeMetrics({records, energy: energy(20), idle: null, timeline, channels});
    expect(m.energy.available && m.energy.peakPowerW).toBe(18);
    expect(m.coverage).toEqual({ticks: 2, expectedTicks: 10, fraction: 0.2});
  });
});

describe('steady state', () => {
  const counter = (t: number, energyJ: number, name = 'package-0', meter = 'rapl'): TimelineSample => ({scheduledMs: t, read: {meter, channel: name, energyJ, powerW: null, readStartMs: t, readEndMs: t}});
  const power = (t: number, powerW: number): TimelineSample => ({scheduledMs: t, read: {meter: 'nvml', channel: 'GPU-p', energyJ: null, powerW, readStartMs: t, readEndMs: t}});
  // 10 W steady: cumulative energy = 10 J/s × t.
  const samples = Array.from({length: 31}, (_, i) => counter(i * 1000, i * 10));
  const channels = [channel('rapl', 'package-0')];
  const digest = (list: TimelineSample[], chans: ChannelInfo[], w: {startMs: number; endMs: number}) => digestTimeline(list, {channels: chans, times: [w.startMs, w.endMs], windows: []});
  // Requests every second from 0 s, each 1.5 s long, 10 output tokens.
  const rs = Array.from({length: 25}, (_, i) => record(i, {sendMs: i * 1000, firstContentMs: i * 1000 + 100, lastContentMs: i * 1000 + 1500, endMs: i * 1000 + 1500}));

  it('reports throughput, latency and energy of the steady window, excluding straddlers from latency', () => {
    const window = {startMs: 5000, endMs: 17000};
    const f = steadyStateFigures({records: rs, window, timeline: digest(samples, channels, window), channels, energyNullReason: null});
    if (!f.available) throw new Error(f.reason);
    expect(f.durationS).toBe(12);
    // Ends 5.5 … 16.5 s fall inside: requests 4 … 15 → 12 requests.
    expect(f.completedRequests).toBe(12);
    expect(f.outputTokensPerS).toBeCloseTo(120 / 12, 10);
    // Entirely inside: sends 5 … 15 s (ending by 16.5 s) → 11 requests.
    expect(f.ttftMs?.n).toBe(11);
    expect(f.energyJ).toBeCloseTo(120, 10); // interpolated: 170 J − 50 J
    expect(f.avgPowerW).toBeCloseTo(10, 10);
    expect(f.energyPerOutputTokenJ).toBeCloseTo(1, 10);
  });

  it('integrates power-only channels over the window and carries the estimated label and uncertainty', () => {
    const window = {startMs: 5000, endMs: 17000};
    const gpu = channel('nvml', 'GPU-p', {kind: 'power', updatePeriodMs: 1000});
    const estimate = channel('cpu-estimate', 'server', {estimated: true});
    const list = [...Array.from({length: 31}, (_, i) => power(i * 1000, 200)), ...Array.from({length: 31}, (_, i) => counter(i * 1000, i * 2, 'server', 'cpu-estimate'))];
    const f = steadyStateFigures({records: rs, window, timeline: digest(list, [gpu, estimate], window), channels: [gpu, estimate], energyNullReason: null});
    if (!f.available) throw new Error(f.reason);
    // 200 W × 12 s from the GPU's power, plus 2 W × 12 s estimated.
    expect(f.energyJ).toBeCloseTo(2400 + 24, 9);
    expect(f.estimated).toBe(true);
    // GPU: 1 s update × 200 W at each edge; estimate: 0.1 s × its power (2 W, from the window's mean) at each edge.
    expect(f.uncertaintyJ).toBeCloseTo(2 * 200 + 2 * 0.1 * 2, 9);
  });

  it('is null with a reason when shorter than 10 s or absent, and never invents energy', () => {
    const w9 = {startMs: 0, endMs: 9000};
    expect(steadyStateFigures({records: [], window: w9, timeline: digest(samples, channels, w9), channels, energyNullReason: null})).toMatchObject({available: false, reason: 'shorter-than-10s', durationS: 9});
    expect(steadyStateFigures({records: [], window: null, timeline: noTimeline, channels, energyNullReason: null})).toMatchObject({available: false, reason: 'no-steady-state'});
    const w20 = {startMs: 0, endMs: 20000};
    const remote = steadyStateFigures({records: [], window: w20, timeline: digest(samples, channels, w20), channels, energyNullReason: 'remote-endpoint'});
    expect(remote).toMatchObject({available: true, energyJ: null, energyReason: 'remote-endpoint'});
    const reset = [...samples.slice(0, 10), counter(10_000, 1), ...samples.slice(11).map((s) => counter(s.scheduledMs, s.read.energyJ! - 99))];
    const w = {startMs: 5000, endMs: 20000};
    expect(steadyStateFigures({records: [], window: w, timeline: digest(reset, channels, w), channels, energyNullReason: null})).toMatchObject({energyJ: null, energyReason: 'counter-reset'});
    const outside = {startMs: 5000, endMs: 99_000};
    expect(steadyStateFigures({records: [], window: outside, timeline: digest(samples, channels, outside), channels, energyNullReason: null})).toMatchObject({energyJ: null, energyReason: 'window-outside-timeline'});
  });
});
