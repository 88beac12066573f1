/**
 * Synthetic prompts of a chosen length: seeded random words, for sweeps over input length.
 *
 * THE LENGTH IS APPROXIMATE. lem cannot know the model's tokenizer before the server runs, so a
 * prompt of `input_tokens` tokens is built as `input_tokens` words drawn from a vocabulary of
 * short, common lowercase English words, separated by single spaces. Each of these words is one
 * token (with its leading space) in the usual BPE and SentencePiece vocabularies of current
 * models, so the count is typically exact or within a few percent, plus the BOS token the server
 * adds. A tokenizer that splits common words (small or non-English vocabularies) gives more.
 * For exact lengths use {@link exactSyntheticPrompts}, which needs the server's tokenizer (after
 * launch): it draws more words than needed and cuts them to `input_tokens` tokens by the
 * server's own count (see {@link truncateToTokens}).
 *
 * Prompts are independent random word sequences, so no two share a long prefix: a server's
 * prefix cache cannot shortcut their prefill (two prompts sharing even their first 4 words has a
 * chance below 1 in 10^9 for a pair).
 */
import {seededRandom, truncateToTokens, type PreparedPrompt, type Tokenizer, type TruncatedPrompt} from './select.js';

/** Short, frequent English words: one token each in common tokenizers (see the module note). */
export const SYNTHETIC_VOCABULARY: readonly string[] = Object.freeze(
  (
    'the of and to in is it you that he was for on are as with his they at be this have from or one had by ' +
    'but not what all were we when your can said there use an each which she do how their if will up other ' +
    'about out many then them these so some her would make like him into time has look two more write go see ' +
    'number no way could people my than first water been call who its now find long down day did get come ' +
    'made may part over new sound take only little work know place year live me back give most very after ' +
    'thing our just name good man think say great where help through much before line right too mean old any ' +
    'same tell boy follow came want show also around form three small set put end does another well large must ' +
    'big even such because turn here why ask went men read need land different home us move try kind hand ' +
    'picture again change off play spell air away animal house point page letter mother answer found study ' +
    'still learn should world high every near add food between own below country plant last school father keep ' +
    'tree never start city earth eye light thought head under story saw left few while along might close ' +
    'something seem next hard open example begin life always those both paper together got group often run ' +
    'important until children side feet car mile night walk white sea began grow took river four carry state ' +
    'once book hear stop without second later miss idea enough eat face watch far real almost let above girl ' +
    'sometimes mountain cut young talk soon list song being leave family'
  ).split(' '),
);

export interface SyntheticSpec {
  /** Target prompt length in tokens (approximate: one word per token). */
  input_tokens: number;
  n_prompts: number;
  seed: number;
}

/**
 * `n_prompts` prompts of `input_tokens` words each (or `words` words when given), reproducible
 * from `seed`. Prompt i is the same for every `n_prompts` > i. Ids: `synthetic-<seed>-<i>`.
 */
export function syntheticPrompts(spec: SyntheticSpec, options: {words?: number} = {}): PreparedPrompt[] {
  const words = options.words ?? spec.input_tokens;
  if (!Number.isInteger(words) || words < 1) throw new RangeError(`a synthetic prompt needs at least one word, got ${words}`);
  const prompts: PreparedPrompt[] = [];
  for (let i = 0; i < spec.n_prompts; i++) {
    // One stream per prompt, keyed by (seed, i), so a prompt does not depend on the others.
    const random = seededRandom((Math.imul(spec.seed + 1, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0);
    const text: string[] = [];
    for (let w = 0; w < words; w++) text.push(SYNTHETIC_VOCABULARY[Math.floor(random() * SYNTHETIC_VOCABULARY.length)]!);
    prompts.push({index: i, id: `synthetic-${spec.seed}-${i}`, text: text.join(' ')});
  }
  return prompts;
}

/**
 * Prompts of `input_tokens` tokens by the server's tokenizer (special tokens excluded): draws
 * 25 % more words than needed (every word is at least one token, so there is always enough), then
 * cuts each prompt with {@link truncateToTokens}. Exact for the usual tokenizers; where tokens
 * merge across the cut the count can come out a token or two short (`inputTokens` says), never
 * over.
 */
export async function exactSyntheticPrompts(spec: SyntheticSpec, tokenizer: Tokenizer): Promise<TruncatedPrompt[]> {
  const drawn = syntheticPrompts(spec, {words: Math.ceil(spec.input_tokens * 1.25) + 4});
  return truncateToTokens(drawn, spec.input_tokens, tokenizer);
}
