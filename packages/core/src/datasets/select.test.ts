import {describe, expect, it} from 'vitest';
import {isCodedError} from '../errors.js';
import {assertCanTruncate, preparePrompts, seededShuffle, truncateToTokens, type DatasetPrompt, type Tokenizer} from './select.js';

const set: DatasetPrompt[] = Array.from({length: 50}, (_, i) => ({id: `p-${i}`, text: `prompt number ${i}`}));

/** A whitespace tokenizer: one token per word, joined back with single spaces. */
function whitespaceTokenizer(): Tokenizer & {calls: number} {
  const vocab: string[] = [];
  const ids = new Map<string, number>();
  const t = {
    calls: 0,
    async tokenize(text: string) {
      t.calls++;
      return text
        .split(/\s+/u)
        .filter(Boolean)
        .map((w) => {
          if (!ids.has(w)) ids.set(w, vocab.push(w) - 1);
          return ids.get(w)!;
        });
    },
    async detokenize(tokens: number[]) {
      return tokens.map((n) => vocab[n]!).join(' ');
    },
  };
  return t;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('did not throw');
}

describe('preparePrompts', () => {
  it('is a deterministic seeded permutation', () => {
    const a = preparePrompts(set, {seed: 42});
    expect(preparePrompts(set, {seed: 42})).toEqual(a);
    expect(a.map((p) => p.id).sort()).toEqual(set.map((p) => p.id).sort());
    expect(a.map((p) => p.id)).not.toEqual(set.map((p) => p.id));
    expect(preparePrompts(set, {seed: 43}).map((p) => p.id)).not.toEqual(a.map((p) => p.id));
    expect(a.map((p) => p.index)).toEqual([...Array(50).keys()]);
  });

  it('pins the order for a seed (a change here changes every recorded workload)', () => {
    expect(seededShuffle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 0)).toEqual(seededShuffle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 0));
    expect(preparePrompts(set, {seed: 0, n_prompts: 5}).map((p) => p.id)).toMatchInlineSnapshot(`
      [
        "p-27",
        "p-49",
        "p-48",
        "p-46",
        "p-25",
      ]
    `);
  });

  it('takes a prefix: raising n_prompts keeps the prompts already chosen', () => {
    const ten = preparePrompts(set, {seed: 5, n_prompts: 10});
    expect(ten).toHaveLength(10);
    expect(preparePrompts(set, {seed: 5, n_prompts: 30}).slice(0, 10)).toEqual(ten);
    expect(preparePrompts(set, {seed: 5, n_prompts: 50})).toEqual(preparePrompts(set, {seed: 5}));
  });

  it('refuses n_prompts above the dataset size instead of repeating prompts', () => {
    const error = thrown(() => preparePrompts(set, {seed: 0, n_prompts: 51}, 'prompts.jsonl'));
    expect(isCodedError(error)).toBe(true);
    expect(error).toMatchObject({code: 'E_DATASET_TOO_SMALL', exitCode: 2});
    expect((error as Error).message).toContain('n_prompts is 51 but prompts.jsonl has 50 prompts');
    expect((error as {try: string[]}).try[0]).toContain('dataset.n_prompts: 50');
  });
});

describe('truncateToTokens', () => {
  it('cuts long prompts to max tokens and leaves short ones alone', async () => {
    const tokenizer = whitespaceTokenizer();
    const prompts = [
      {index: 0, id: 'a', text: 'one two three'},
      {index: 1, id: 'b', text: 'one two three four five six seven'},
      {index: 2, id: 'c', text: 'alpha  beta\tgamma delta epsilon'},
    ];
    const out = await truncateToTokens(prompts, 4, tokenizer);
    expect(out).toEqual([
      {index: 0, id: 'a', text: 'one two three', inputTokens: 3, truncated: false},
      {index: 1, id: 'b', text: 'one two three four', inputTokens: 4, truncated: true},
      {index: 2, id: 'c', text: 'alpha beta gamma delta', inputTokens: 4, truncated: true},
    ]);
  });

  it('keeps cutting when the cut text tokenizes longer, and drops half characters', async () => {
    // A tokenizer whose detokenized prefix re-tokenizes one token longer unless shortened again.
    const tokenizer: Tokenizer = {
      tokenize: async (text) => Array.from({length: text.length}, (_, i) => i),
      detokenize: async (tokens) => 'x'.repeat(tokens.length) + (tokens.length >= 6 ? 'y' : '') + '\uFFFD',
    };
    const [out] = await truncateToTokens([{text: 'abcdefghij'}], 6, tokenizer);
    expect(out).toEqual({text: 'xxxxx', inputTokens: 5, truncated: true});
  });

  it('fails with a run error when the tokenizer never fits', async () => {
    const tokenizer: Tokenizer = {tokenize: async () => [1, 2, 3, 4, 5, 6, 7, 8, 9], detokenize: async () => 'never shorter'};
    await expect(truncateToTokens([{id: 'p', index: 0, text: 't'}], 2, tokenizer)).rejects.toMatchObject({code: 'E_DATASET_TRUNCATE', category: 'runtime'});
  });
});

describe('assertCanTruncate', () => {
  it('passes with a tokenizer and refuses without one, with a Try line', () => {
    expect(() => assertCanTruncate(true)).not.toThrow();
    const error = thrown(() => assertCanTruncate(false, 'openai'));
    expect(error).toMatchObject({code: 'E_DATASET_NO_TOKENIZER', exitCode: 2});
    expect((error as Error).message).toContain('backend openai');
    expect((error as {try: string[]}).try).toContain('remove dataset.max_input_tokens');
  });
});
