import {describe, expect, it} from 'vitest';
import type {RequestRecord} from '../measure/types.js';
import {percentileOfSorted, requestMetrics, summarize} from './stats.js';

describe('summarize', () => {
  it('is null for no values', () => {
    expect(summarize([])).toBeNull();
  });

  it('gives the value itself for one value', () => {
    expect(summarize([7])).toEqual({n: 1, mean: 7, p50: 7, p90: 7, p95: 7, p99: 7, min: 7, max: 7});
  });

  it('interpolates linearly between order statistics (type 7, as NumPy)', () => {
    // numpy.percentile([1, 2, 3, 4], [50, 90, 95, 99]) = 2.5, 3.7, 3.85, 3.97
    const s = summarize([4, 1, 3, 2])!;
    expect(s.n).toBe(4);
    expect(s.mean).toBe(2.5);
    expect(s.p50).toBeCloseTo(2.5, 12);
    expect(s.p90).toBeCloseTo(3.7, 12);
    expect(s.p95).toBeCloseTo(3.85, 12);
    expect(s.p99).toBeCloseTo(3.97, 12);
    expect([s.min, s.max]).toEqual([1, 4]);
  });

  it('matches known percentiles of 1..100', () => {
    const s = summarize(Array.from({length: 100}, (_, i) => 100 - i))!;
    expect(s.p50).toBeCloseTo(50.5, 12);
    expect(s.p90).toBeCloseTo(90.1, 12);
    expect(s.p99).toBeCloseTo(99.01, 12);
    expect(s.mean).toBe(50.5);
  });

  it('sorts numerically and leaves the input alone', () => {
    const values = [10, 9, 100, 1];
    expect(summarize(values)!.p50).toBe(9.5);
    expect(values).toEqual([10, 9, 100, 1]);
  });

  it('gives NaN for a percentile of nothing', () => {
    expect(percentileOfSorted([], 0.5)).toBeNaN();
    expect(percentileOfSorted([1, 3], 1)).toBe(3);
    expect(percentileOfSorted([1, 3], 0)).toBe(1);
  });
});

describe('requestMetrics', () => {
  const record = (over: Partial<RequestRecord>): RequestRecord => ({
    id: 0,
    phase: 'measure',
    promptIndex: 0,
    scheduledMs: 100,
    sendMs: 100,
    firstChunkMs: 150,
    firstContentMs: 160,
    lastContentMs: 350,
    endMs: 360,
    chunkGapsMs: [],
    contentChunks: 10,
    promptTokens: 5,
    outputTokens: 11,
    tokenSource: 'usage',
    finishReason: 'length',
    ok: true,
    httpStatus: 200,
    error: null,
    ...over,
  });

  it('computes TTFT, E2E and ITL = (E2E − TTFT)/(tokens − 1)', () => {
    expect(requestMetrics(record({}))).toEqual({ttftMs: 60, e2eMs: 260, itlMs: 20});
  });

  it('leaves ITL undefined (null, not 0) for one token and unknown counts', () => {
    expect(requestMetrics(record({outputTokens: 1})).itlMs).toBeNull();
    expect(requestMetrics(record({outputTokens: null, tokenSource: null})).itlMs).toBeNull();
  });

  it('has no TTFT when no content arrived', () => {
    expect(requestMetrics(record({firstContentMs: null, lastContentMs: null}))).toEqual({ttftMs: null, e2eMs: 260, itlMs: null});
  });
});
