import {describe, expect, it} from 'vitest';
import type {Tokenizer} from './select.js';
import {exactSyntheticPrompts, SYNTHETIC_VOCABULARY, syntheticPrompts} from './synthetic.js';

/** A real tokenizer at the injected boundary: one token per character pair (words split apart). */
function pairTokenizer(): Tokenizer {
  const vocab: string[] = [];
  const ids = new Map<string, number>();
  const id = (piece: string): number => {
    let n = ids.get(piece);
    if (n === undefined) {
      n = vocab.push(piece) - 1;
      ids.set(piece, n);
    }
    return n;
  };
  return {
    tokenize: async (text) => (text.match(/.{1,2}/gsu) ?? []).map(id),
    detokenize: async (tokens) => tokens.map((t) => vocab[t]!).join(''),
  };
}

describe('synthetic prompts', () => {
  it('are reproducible from the seed and differ between seeds and prompts', () => {
    const a = syntheticPrompts({input_tokens: 64, n_prompts: 20, seed: 7});
    expect(syntheticPrompts({input_tokens: 64, n_prompts: 20, seed: 7})).toEqual(a);
    const b = syntheticPrompts({input_tokens: 64, n_prompts: 20, seed: 8});
    expect(b.map((p) => p.text)).not.toEqual(a.map((p) => p.text));
    expect(new Set(a.map((p) => p.text)).size).toBe(20);
    // No shared opening: a prefix cache cannot skip their prefill.
    expect(new Set(a.map((p) => p.text.split(' ').slice(0, 4).join(' '))).size).toBe(20);
    expect(a.map((p) => p.index)).toEqual([...Array(20).keys()]);
    expect(a[3]!.id).toBe('synthetic-7-3');
  });

  it('keep prompt i the same whatever n_prompts is', () => {
    const five = syntheticPrompts({input_tokens: 32, n_prompts: 5, seed: 1});
    expect(syntheticPrompts({input_tokens: 32, n_prompts: 50, seed: 1}).slice(0, 5)).toEqual(five);
  });

  it('have input_tokens words, each from the one-token vocabulary', () => {
    expect(new Set(SYNTHETIC_VOCABULARY).size).toBe(SYNTHETIC_VOCABULARY.length);
    for (const n of [1, 17, 512]) {
      for (const p of syntheticPrompts({input_tokens: n, n_prompts: 3, seed: 0})) {
        const words = p.text.split(' ');
        expect(words.length).toBe(n);
        for (const w of words) expect(SYNTHETIC_VOCABULARY).toContain(w);
      }
    }
  });

  it('are cut to exactly input_tokens with the server tokenizer', async () => {
    const tokenizer = pairTokenizer();
    const prompts = await exactSyntheticPrompts({input_tokens: 100, n_prompts: 4, seed: 3}, tokenizer);
    for (const p of prompts) {
      expect(p.inputTokens).toBe(100);
      expect((await tokenizer.tokenize(p.text)).length).toBe(100);
      expect(p.truncated).toBe(true);
    }
  });
});
