/**
 * The campaign file (DESIGN §7): its own keys (what to run, how often, in what order, with what
 * gaps) beside experiment keys that every run inherits. Its own keys are validated here, located
 * at `file:line:col`; the experiment keys go through the resolver like any experiment file.
 */
import {dirname, isAbsolute, resolve} from 'node:path';
import {z} from 'zod';
import type {SourceLocation} from '@lem/plugin-kit';
import {configError, ErrorCodes} from '../errors.js';
import {isModelPath, isPlainObject, type KeyPath} from '../config/paths.js';
import {failureThresholdSchema, gapsSchema, retrySchema} from '../config/schemas.js';
import {absoluteBackendPaths} from '../config/resolve.js';
import {loadYamlFile, type LoadedFile} from '../config/yaml-file.js';
import {slurmSchema} from '../slurm/settings.js';
import {CAMPAIGN_METRICS} from './summary.js';

const metricIds = CAMPAIGN_METRICS.map((m) => m.id) as [string, ...string[]];

export const cyclesSchema = z
  .union([
    z.int().min(1).describe('A fixed number of cycles.'),
    z
      .object({
        min: z.int().min(2).describe('Cycles always run (at least 2: a CI needs two values).'),
        max: z.int().min(2).describe('Cycles never exceeded.'),
        target_ci_pct: z.number().positive().describe("Stop adding cycles once every configuration's 95 % CI half-width is within this % of its mean."),
        metric: z.enum(metricIds).default('energyPerOutputTokenJ').describe('The metric whose CI decides.'),
      })
      .strict()
      .refine((c) => c.max >= c.min, {message: 'cycles.max must be at least cycles.min', path: ['max']})
      .describe('Adaptive cycles.'),
  ])
  .describe('How many times every configuration runs (default 3): a number, or adaptive {min, max, target_ci_pct, metric}.');

/** A campaign's own keys; every other top-level key is an experiment key every run inherits. */
export const campaignKeysShape = {
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a name is letters, digits, dots, dashes and underscores').describe("The campaign's name (its id is <name>-<UTC timestamp>)."),
  base: z.string().min(1).optional().describe('An experiment file every run starts from, relative to this file.'),
  sweep: z
    .record(z.string(), z.array(z.unknown()).min(1, 'a sweep axis needs at least one value'))
    .optional()
    .describe('Dotted keys → value lists, crossed; a name whose values are override maps is a group of alternatives.'),
  experiments: z
    .array(z.union([z.object({path: z.string().min(1)}).strict(), z.record(z.string(), z.unknown())]))
    .min(1)
    .optional()
    .describe('Explicit runs, inline or {path: file.yaml}, each merged over base.'),
  cycles: cyclesSchema.optional(),
  order: z.enum(['interleaved', 'shuffled', 'grouped', 'reverse', 'latin_square']).default('interleaved').describe('Order of the runs within and across cycles.'),
  seed: z.int().nonnegative().optional().describe('Seed of `shuffled` and `latin_square` (drawn and recorded when absent).'),
  gaps: gapsSchema.optional(),
  retry: retrySchema.optional(),
  failure_threshold: failureThresholdSchema.optional(),
  run_timeout_s: z.number().positive().default(3600).describe('A run taking longer fails (category runtime).'),
  executor: z.enum(['local', 'slurm']).default('local').describe('Where runs happen: this machine, or a Slurm cluster.'),
  slurm: slurmSchema.optional(),
};

export const campaignKeysSchema = z.object(campaignKeysShape).strict();
export type CampaignKeys = z.output<typeof campaignKeysSchema>;

export const CAMPAIGN_KEYS = Object.keys(campaignKeysShape);

/** The campaign file read: its own keys (unvalidated here), its experiment keys, and where it is. */
export interface CampaignFile {
  file: LoadedFile;
  /** Absolute path. */
  path: string;
  dir: string;
  own: Record<string, unknown>;
  experimentKeys: Record<string, unknown>;
}

export function loadCampaignFile(path: string, cwd = process.cwd()): CampaignFile {
  const file = loadYamlFile(path, {kind: 'campaign', command: 'lem campaign run', cwd});
  if (!isPlainObject(file.data)) {
    throw configError(ErrorCodes.configInvalid, `${file.path} must be a mapping of keys to values`, ['see examples/tiny-campaign.yaml for the shape of a campaign file'], [
      {path: '(top level)', message: 'expected a mapping', location: file.locate([])},
    ]);
  }
  const own: Record<string, unknown> = {};
  const experimentKeys: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(file.data)) (CAMPAIGN_KEYS.includes(key) ? own : experimentKeys)[key] = value;
  const absolute = resolve(cwd, path);
  return {file, path: absolute, dir: dirname(absolute), own, experimentKeys};
}

/** A view of the part of `file` at `prefix`, as a file of its own (an inline experiment entry). */
export function subFile(file: LoadedFile, prefix: KeyPath, data: unknown): LoadedFile {
  return {
    path: file.path,
    ...(file.absolutePath ? {absolutePath: file.absolutePath} : {}),
    data,
    locate: (path: KeyPath, options?: {key?: boolean}): SourceLocation => file.locate([...prefix, ...path], options),
  };
}

/** `file` with its data replaced (paths made absolute), located as before. */
export function withData(file: LoadedFile, data: unknown): LoadedFile {
  return {...file, data};
}

/**
 * Relative paths in a layer hang from the file that wrote them; once layers of several files are
 * merged that is lost, so each layer's paths are made absolute first: `model` when it looks like a
 * path, `dataset.path`, and every backend key ending in `_path` (the plugins' convention for
 * files, e.g. `llamacpp.model_path`).
 */
export function absolutePaths(data: Record<string, unknown>, dir: string, backendIds: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {...data};
  const fix = (value: string) => (isAbsolute(value) ? value : resolve(dir, value));
  if (typeof out.model === 'string' && isModelPath(out.model)) out.model = fix(out.model);
  if (isPlainObject(out.dataset) && typeof out.dataset.path === 'string') out.dataset = {...out.dataset, path: fix(out.dataset.path)};
  return absoluteBackendPaths(out, dir, backendIds);
}
