/**
 * Which prompts an experiment sends, in which order, and how long they may be.
 *
 * Selection is a pure function of (the dataset, `n_prompts`, `seed`): the same three always give
 * the same prompts in the same order, on any machine, so two configurations of a campaign see an
 * identical workload and a result can be reproduced from its recorded settings.
 */
import type {SourceLocation} from '@lem/plugin-kit';
import {configError, runError} from '../errors.js';

/** A prompt of a dataset before selection: a stable id (the same on every load) and its text. */
export interface DatasetPrompt {
  id: string;
  text: string;
}

/** A prompt as sent: `index` is its position in the send order (0-based). */
export interface PreparedPrompt extends DatasetPrompt {
  index: number;
}

/**
 * A seeded pseudo-random generator (mulberry32: 32-bit state, period 2^32), returning floats in
 * [0, 1). Not cryptographic; chosen because it is tiny, fast and gives the same sequence on every
 * platform, which is all reproducible sampling needs.
 */
export function seededRandom(seed: number): () => number {
  let state = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A Fisher–Yates shuffle of a copy, driven by {@link seededRandom}. */
export function seededShuffle<T>(items: readonly T[], seed: number): T[] {
  const out = items.slice();
  const random = seededRandom(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export const DatasetErrorCodes = {
  /** `dataset.path` names no file. */
  notFound: 'E_DATASET_NOT_FOUND',
  /** A dataset file cannot be read as prompts (bad line, missing column, unknown extension). */
  invalid: 'E_DATASET_INVALID',
  /** A dataset holds no prompt. */
  empty: 'E_DATASET_EMPTY',
  /** `n_prompts` asks for more prompts than the dataset holds. */
  tooSmall: 'E_DATASET_TOO_SMALL',
  /** `max_input_tokens` with a backend that exposes no tokenizer. */
  noTokenizer: 'E_DATASET_NO_TOKENIZER',
  /** A downloaded dataset (aienergyscore) is not in the cache yet. */
  notCached: 'E_DATASET_NOT_CACHED',
  /** Downloading a dataset failed, or what came back was not the dataset. */
  fetch: 'E_DATASET_FETCH',
  /** The server's tokenizer could not cut a prompt to `max_input_tokens` (a run failure). */
  truncate: 'E_DATASET_TRUNCATE',
} as const;

/**
 * The prompts to send: a seeded permutation of the dataset, cut to `n_prompts` (all when unset).
 *
 * Contract:
 * - the order is always shuffled by `seed` (0 included), so "the first n" of a file sorted by
 *   topic or length is not what gets measured;
 * - for one seed, the selection for n is a prefix of the selection for n + k: raising
 *   `n_prompts` adds prompts at the end and keeps those already chosen;
 * - `n_prompts` larger than the dataset is REFUSED (`E_DATASET_TOO_SMALL`), not filled by
 *   repeating prompts: servers cache prompt prefixes (vLLM's prefix cache, llama.cpp's slot
 *   cache), so a repeated prompt skips most of its prefill and would make energy and latency
 *   look better than the workload deserves. Synthetic prompts give any count.
 *
 * `what` names the dataset in the error (`the built-in set`, `prompts.jsonl`).
 */
export function preparePrompts(
  all: readonly DatasetPrompt[],
  options: {n_prompts?: number | undefined; seed?: number | undefined},
  what = 'the dataset',
): PreparedPrompt[] {
  return splitPrompts(all, options, what).measure;
}

/**
 * The selection of {@link preparePrompts} and the rest of the dataset in the same seeded order:
 * the prompts held back are never measured, so warm-up can use them without warming a prefix
 * cache for the measured ones. Held-back indices count on from the measured ones'.
 */
export function splitPrompts(
  all: readonly DatasetPrompt[],
  options: {n_prompts?: number | undefined; seed?: number | undefined},
  what = 'the dataset',
): {measure: PreparedPrompt[]; heldBack: PreparedPrompt[]} {
  const count = options.n_prompts ?? all.length;
  if (count > all.length) tooSmall(count, all.length, what);
  const order = seededShuffle(all, options.seed ?? 0).map((prompt, index) => ({index, id: prompt.id, text: prompt.text}));
  return {measure: order.slice(0, count), heldBack: order.slice(count)};
}

function tooSmall(count: number, available: number, what: string): never {
  throw configError(
    DatasetErrorCodes.tooSmall,
    `n_prompts is ${count} but ${what} has ${available} prompts; lem does not repeat prompts, because servers cache repeated prompt prefixes and the figures would flatter them.`,
    [`dataset.n_prompts: ${available} (or leave it out to send all of them)`, `dataset: {kind: synthetic, input_tokens: 256, n_prompts: ${count}} for any number of prompts`],
    [{path: 'dataset.n_prompts', message: `${count} > ${available} available`}],
  );
}

/**
 * The server's tokenizer, as the caller reaches it (e.g. POST /tokenize and /detokenize).
 *
 * `tokenize` must return the tokens of the text alone, WITHOUT special tokens such as BOS: the
 * server adds those itself when it receives the prompt (vLLM: `add_special_tokens: false`;
 * llama.cpp's /tokenize adds none by default).
 */
export interface Tokenizer {
  tokenize(text: string): Promise<number[]>;
  detokenize(tokens: number[]): Promise<string>;
}

/** What truncation adds to a prompt. */
export interface TruncationInfo {
  /** Tokens of the text as sent, by the server's tokenizer (special tokens excluded). */
  inputTokens: number;
  /** True when the text was cut to `max_input_tokens`. */
  truncated: boolean;
}

export type TruncatedPrompt = PreparedPrompt & TruncationInfo;

/**
 * Cuts every prompt longer than `maxInputTokens` tokens to its first `maxInputTokens` tokens, by
 * the server's own tokenizer (so the limit means what the server counts). Runs after launch,
 * since it needs the server.
 *
 * Detokenizing a prefix and tokenizing it again does not always give the same count (merges
 * across the cut, a partial UTF-8 character), so a cut text is re-checked and shortened by one
 * more token, at most a few times, until it fits: the guarantee is `inputTokens <= maxInputTokens`.
 * A trailing U+FFFD (half a character) is dropped. Prompts keep every other field they carry.
 */
export async function truncateToTokens<P extends {text: string; id?: string; index?: number}>(
  prompts: readonly P[],
  maxInputTokens: number,
  tokenizer: Tokenizer,
): Promise<Array<P & TruncationInfo>> {
  if (!Number.isInteger(maxInputTokens) || maxInputTokens < 1) throw new RangeError(`maxInputTokens must be a positive integer, got ${maxInputTokens}`);
  const out: Array<P & TruncationInfo> = [];
  for (const prompt of prompts) {
    const tokens = await tokenizer.tokenize(prompt.text);
    if (tokens.length <= maxInputTokens) {
      out.push({...prompt, inputTokens: tokens.length, truncated: false});
      continue;
    }
    let keep = maxInputTokens;
    let text = '';
    let count = Number.POSITIVE_INFINITY;
    for (let attempt = 0; attempt < 4 && count > maxInputTokens && keep > 0; attempt++, keep--) {
      text = (await tokenizer.detokenize(tokens.slice(0, keep))).replace(/\uFFFD+$/u, '');
      count = (await tokenizer.tokenize(text)).length;
    }
    if (count > maxInputTokens) {
      throw runError(
        DatasetErrorCodes.truncate,
        `prompt ${prompt.id ?? prompt.index ?? out.length}: could not cut it to ${maxInputTokens} tokens (the server's tokenizer still counts ${count} after 4 tries).`,
        ['raise dataset.max_input_tokens a little', 'report it with the backend and model: the tokenizer does not round-trip'],
        'runtime',
      );
    }
    out.push({...prompt, text, inputTokens: count, truncated: true});
  }
  return out;
}

/**
 * Refuses `max_input_tokens` when the backend exposes no tokenizer. Call it before launching a
 * server, so the refusal costs nothing.
 */
export function assertCanTruncate(hasTokenizer: boolean, backendId?: string, location?: SourceLocation): void {
  if (hasTokenizer) return;
  const who = backendId ? `backend ${backendId}` : 'this backend';
  throw configError(
    DatasetErrorCodes.noTokenizer,
    `dataset.max_input_tokens needs the server's tokenizer, and ${who} exposes none.`,
    ['remove dataset.max_input_tokens', 'dataset: {kind: synthetic, input_tokens: 256} for prompts of a set length'],
    [{path: 'dataset.max_input_tokens', message: `${who} has no tokenize endpoint`, ...(location ? {location} : {})}],
  );
}
