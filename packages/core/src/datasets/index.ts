/**
 * Where an experiment's prompts come from (`dataset:` in a file, DESIGN §5 "measure").
 *
 * Two calls, both before any server starts:
 * - {@link checkDatasetAvailable}: cheap (a stat, a manifest read), for every experiment of a
 *   campaign up front, so a missing file or an undownloaded dataset stops the campaign at once;
 * - {@link loadPrompts}: reads the prompts and applies `n_prompts` and `seed`.
 * Cutting to `max_input_tokens` needs the server's tokenizer, so it happens after launch
 * ({@link truncateToTokens}); {@link assertCanTruncate} refuses it before launch when the backend
 * has no tokenizer.
 */
import type {DatasetSpec} from '../config/schemas.js';
import {assertAienergyscoreCached, AIENERGYSCORE_SOURCE, loadAienergyscore} from './aienergyscore.js';
import {BUILTIN_PROMPTS} from './builtin.js';
import {checkPromptFile, readPromptFile} from './file.js';
import {splitPrompts, type PreparedPrompt} from './select.js';
import {syntheticPrompts} from './synthetic.js';

export {
  AIENERGYSCORE_SOURCE,
  DEFAULT_HF_ENDPOINT,
  aienergyscoreCachePaths,
  aienergyscoreUrl,
  assertAienergyscoreCached,
  fetchAienergyscore,
  hfEndpoint,
  isAienergyscoreCached,
  loadAienergyscore,
  type AienergyscoreManifest,
  type FetchAienergyscoreOptions,
  type FetchAienergyscoreResult,
} from './aienergyscore.js';
export {BUILTIN_PROMPTS, BUILTIN_SET_VERSION, builtinLengthStats, type BuiltinCategory, type BuiltinPrompt} from './builtin.js';
export {DEFAULT_COLUMNS, checkPromptFile, promptFileFormat, readPromptFile, resolveDatasetPath, type PromptFileFormat, type PromptFileOptions} from './file.js';
export {
  DatasetErrorCodes,
  assertCanTruncate,
  preparePrompts,
  splitPrompts,
  seededRandom,
  seededShuffle,
  truncateToTokens,
  type DatasetPrompt,
  type PreparedPrompt,
  type Tokenizer,
  type TruncatedPrompt,
  type TruncationInfo,
} from './select.js';
export {SYNTHETIC_VOCABULARY, exactSyntheticPrompts, syntheticPrompts, type SyntheticSpec} from './synthetic.js';

export interface DatasetLocations {
  /** Folder of the file that names the dataset: `dataset.path` is relative to it. */
  baseDir: string;
  /** Where downloaded datasets are cached (see aienergyscore.ts). */
  cacheDir: string;
}

/**
 * The prompts to send, in send order: `index` 0..n-1, `id` stable across loads (built-in id,
 * `line-<n>` of a file, `row-<n>` of the Hub file, `synthetic-<seed>-<i>`).
 * Throws config errors only (exit 2): missing or malformed file, dataset not cached, `n_prompts`
 * above the dataset's size.
 */
export async function loadPrompts(spec: DatasetSpec, opts: DatasetLocations): Promise<PreparedPrompt[]> {
  return (await loadPromptSets(spec, opts)).measure;
}

/** The prompts to send ({@link loadPrompts}) and the rest of the dataset, held back in the same seeded order (none for synthetic sets). */
export async function loadPromptSets(spec: DatasetSpec, opts: DatasetLocations): Promise<{measure: PreparedPrompt[]; heldBack: PreparedPrompt[]}> {
  switch (spec.kind) {
    case 'builtin':
      return splitPrompts(BUILTIN_PROMPTS, spec, 'the built-in set');
    case 'synthetic':
      return {measure: syntheticPrompts(spec), heldBack: []};
    case 'file':
      return splitPrompts(await readPromptFile(spec.path, {baseDir: opts.baseDir, column: spec.column}), spec, spec.path);
    case 'aienergyscore': {
      const revision = spec.revision ?? AIENERGYSCORE_SOURCE.revision;
      return splitPrompts(await loadAienergyscore(opts.cacheDir, revision), spec, `aienergyscore (revision ${revision})`);
    }
  }
}

/** Seeds of warm-up text, far from any dataset seed, so that no warm-up prompt is a measured one. */
const WARMUP_SEED_BASE = 0x40000000;

/**
 * Prompts for warm-up and re-warm, disjoint from the measured ones, so that a server's prefix
 * cache (vLLM's, on by default; llama.cpp's slots) cannot give the first measured requests a
 * flattering TTFT: the prompts the dataset held back where there are any, else synthetic text of
 * the measured prompts' word counts (random common words: no prefix in common with them).
 */
export function warmupPrompts(sets: {measure: readonly PreparedPrompt[]; heldBack: readonly PreparedPrompt[]}, count: number): {prompts: PreparedPrompt[]; source: 'held-back' | 'synthetic'; description: string} {
  const n = Math.max(1, count);
  if (sets.heldBack.length > 0) {
    const prompts = Array.from({length: n}, (_, i) => ({...sets.heldBack[i % sets.heldBack.length]!, index: i}));
    return {prompts, source: 'held-back', description: `prompts of the dataset that are not measured (${Math.min(n, sets.heldBack.length)} distinct)`};
  }
  const prompts = Array.from({length: n}, (_, i) => {
    const words = sets.measure.length > 0 ? sets.measure[i % sets.measure.length]!.text.split(/\s+/).filter(Boolean).length : 16;
    const [prompt] = syntheticPrompts({input_tokens: Math.max(1, words), n_prompts: 1, seed: WARMUP_SEED_BASE + i});
    return {...prompt!, index: i, id: `warmup-${i}`};
  });
  return {prompts, source: 'synthetic', description: 'synthetic text with the word counts of the measured prompts (the dataset holds no other prompt)'};
}

/** The cheap pre-launch check: the file exists with a known extension; the download is cached. */
export async function checkDatasetAvailable(spec: DatasetSpec, opts: DatasetLocations): Promise<void> {
  switch (spec.kind) {
    case 'builtin':
    case 'synthetic':
      return;
    case 'file':
      await checkPromptFile(spec.path, {baseDir: opts.baseDir});
      return;
    case 'aienergyscore':
      await assertAienergyscoreCached(opts.cacheDir, spec.revision ?? AIENERGYSCORE_SOURCE.revision);
      return;
  }
}
