/**
 * The built-in prompt set (`dataset: {kind: builtin}`, the default): 128 prompts written for lem,
 * in ten kinds of task (questions, instructions, summaries of a passage, code, reasoning, creative
 * writing, extraction, translation, rewriting, classification) and of very different lengths,
 * from one short question to passages of some 400 words, so a run without any download exercises
 * short and long prefills. Ids (`question-07`) are stable; see builtin-prompts.ts.
 */
import {BUILTIN_PROMPT_DATA, type BuiltinPrompt} from './builtin-prompts.js';

export type {BuiltinCategory, BuiltinPrompt} from './builtin-prompts.js';

/** Bumped whenever a prompt is added or retired; results record it beside the dataset kind. */
export const BUILTIN_SET_VERSION = 1;

export const BUILTIN_PROMPTS: readonly BuiltinPrompt[] = Object.freeze(BUILTIN_PROMPT_DATA.map((prompt) => Object.freeze({...prompt})));

/** Length in characters of the built-in prompts: min, quartiles, max, mean (for docs and tests). */
export function builtinLengthStats(): {count: number; min: number; p25: number; median: number; p75: number; max: number; mean: number} {
  const lengths = BUILTIN_PROMPTS.map((p) => p.text.length).sort((a, b) => a - b);
  const at = (q: number): number => lengths[Math.min(lengths.length - 1, Math.floor(q * lengths.length))]!;
  return {
    count: lengths.length,
    min: lengths[0]!,
    p25: at(0.25),
    median: at(0.5),
    p75: at(0.75),
    max: lengths[lengths.length - 1]!,
    mean: Math.round(lengths.reduce((a, b) => a + b, 0) / lengths.length),
  };
}
