import {describe, expect, it} from 'vitest';
import {decodeFlops, estimateFlops, prefillFlops, type FlopsModel} from './estimate.js';

/** L 2, A = 4 × 16 = 64, h 64, V 100, N 1000. */
const tiny: FlopsModel = {layers: 2, heads: 4, headDim: 16, hiddenSize: 64, vocabSize: 100, activeNonEmbeddingParams: 1000};

/** The same estimate token by token, position by position: the closed forms must agree with it. */
function bruteForce(m: FlopsModel, p: number, n: number): {prefill: number; decode: number} {
  const A = m.heads * m.headDim;
  const lmHead = 2 * m.hiddenSize * m.vocabSize;
  let prefill = 0;
  for (let j = 1; j <= p; j++) prefill += 2 * m.activeNonEmbeddingParams + m.layers * (2 * A * j + 2 * A * j); // matmuls, QKᵀ, AV
  if (p > 0 && n > 0) prefill += lmHead; // logits of the last prompt position → output token 1
  let decode = 0;
  for (let i = 1; i <= n - 1; i++) decode += 2 * m.activeNonEmbeddingParams + 4 * m.layers * A * (p + i) + lmHead;
  return {prefill, decode};
}

describe('prefillFlops / decodeFlops', () => {
  it('match a hand computation for p = 3, n = 4', () => {
    // 2·1000·3 + 2·2·64·3·4 + 2·64·100
    expect(prefillFlops(tiny, 3, 4)).toBe(6000 + 3072 + 12_800);
    // steps at positions 4, 5, 6: 3·(2000 + 12 800) + 4·2·64·(4 + 5 + 6)
    expect(decodeFlops(tiny, 3, 4)).toBe(44_400 + 7680);
  });

  it('edge cases: one output token has no decode step; no output token, no LM head; no prompt, no prefill', () => {
    expect(decodeFlops(tiny, 7, 1)).toBe(0);
    expect(prefillFlops(tiny, 5, 0)).toBe(2 * 1000 * 5 + 2 * 2 * 64 * 5 * 6);
    expect(prefillFlops(tiny, 0, 3)).toBe(0);
  });

  it('agree with the position-by-position sum', () => {
    const shapes: FlopsModel[] = [tiny, {layers: 16, heads: 32, headDim: 64, hiddenSize: 2048, vocabSize: 128_256, activeNonEmbeddingParams: 973_146_112}];
    for (const m of shapes) {
      for (const [p, n] of [[1, 1], [2, 9], [17, 3], [128, 64], [0, 0], [5, 0]] as const) {
        const b = bruteForce(m, p, n);
        expect(prefillFlops(m, p, n)).toBe(b.prefill);
        expect(decodeFlops(m, p, n)).toBe(b.decode);
      }
    }
  });
});

describe('estimateFlops', () => {
  it('sums requests into exact integers', () => {
    const result = estimateFlops(tiny, [
      {promptTokens: 3, outputTokens: 4},
      {promptTokens: 1, outputTokens: 1},
    ]);
    // Request 2: prefill 2000 + 2·2·64·1·2 + 12 800 = 15 312, no decode.
    expect(result).toMatchObject({
      available: true,
      estimated: true,
      prefillFlops: 21_872 + 15_312,
      decodeFlops: 52_080,
      totalFlops: 89_264,
      perOutputToken: 89_264 / 5,
      requests: 2,
      promptTokens: 4,
      outputTokens: 5,
    });
    if (!result.available) throw new Error('unreachable');
    expect(result.method).toContain('prefill = 2·N·p + 2·L·A·p·(p+1) + 2·h·V');
    expect(result.method).toContain('N = 1000');
  });

  it('is about 2·N per token for a short context on a real-sized model', () => {
    const m: FlopsModel = {layers: 16, heads: 32, headDim: 64, hiddenSize: 2048, vocabSize: 128_256, activeNonEmbeddingParams: 973_146_112};
    const result = estimateFlops(m, [{promptTokens: 100, outputTokens: 100}]);
    if (!result.available) throw new Error('unreachable');
    const perToken = result.totalFlops / 200;
    expect(perToken).toBeGreaterThan(2 * m.activeNonEmbeddingParams);
    expect(perToken).toBeLessThan(2.5 * m.activeNonEmbeddingParams); // + LM head (~0.5 GFLOP per output token) + attention
  });

  it('is unavailable when any token count is missing, or there are no requests', () => {
    expect(estimateFlops(tiny, [{promptTokens: 3, outputTokens: 4}, {promptTokens: 3, outputTokens: null}])).toMatchObject({
      available: false,
      reason: 'no-token-counts',
      detail: expect.stringContaining('1 of 2'),
    });
    expect(estimateFlops(tiny, [{promptTokens: null, outputTokens: 2}])).toMatchObject({available: false, reason: 'no-token-counts'});
    expect(estimateFlops(tiny, [{promptTokens: 2.5, outputTokens: 2}])).toMatchObject({available: false});
    expect(estimateFlops(tiny, [])).toMatchObject({available: false, reason: 'no-requests'});
  });

  it('has no per-output-token figure when nothing was generated', () => {
    expect(estimateFlops(tiny, [{promptTokens: 5, outputTokens: 0}])).toMatchObject({available: true, perOutputToken: null, decodeFlops: 0});
  });
});
