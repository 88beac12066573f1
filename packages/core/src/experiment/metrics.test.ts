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
  it('sums top-level channels per tick and ignores sub-zones', () => {
    const s = (t: number, channel: string, powerW: number): TimelineSample => ({scheduledMs: t, read: {meter: 'rapl', channel, energyJ: null, powerW, readStartMs: t, readEndMs: t}});
    const samples = [s(0, 'package-0', 10), s(0, 'package-1', 5), s(0, 'package-0/core', 8), s(100, 'package-0', 12), s(100, 'package-1', 6), s(300, 'package-0', 99)];
    expect(peakPowerW(samples, 0, 200)).toBe(18);
    expect(peakPowerW(samples, 500, 600)).toBeNull();
  });
});
