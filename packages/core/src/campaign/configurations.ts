/**
 * From a campaign file to its distinct configurations: every `experiments` entry (or `base`
 * alone) crossed with every sweep point, each resolved by the settings resolver with the
 * campaign's precedence (CLI > sweep point > entry > base > campaign keys > `.lem-config.yaml` >
 * default). Points that do not resolve are dropped with their reasons; identical resolved
 * configurations are merged; names are derived from what varies.
 */
import {createHash} from 'node:crypto';
import {basename} from 'node:path';
import stableStringify from 'fast-json-stable-stringify';
import {isCodedError} from '../errors.js';
import {isPlainObject} from '../config/paths.js';
import {dataLayer, formatSource, resolveLayers, type ConfigLayer, type ResolvedExperiment, type Setting} from '../config/resolve.js';
import type {Redactor} from '../config/secrets.js';
import type {LoadedFile} from '../config/yaml-file.js';
import type {Registry} from '../registry.js';
import {absolutePaths} from './file.js';
import {describePoint, pointData, pointFile, type SweepPoint} from './sweep.js';
import type {DroppedPoint, PlannedSetting} from './types.js';

/** Layers of one `experiments` entry (or of `base` alone), lowest precedence first, CLI apart. */
export interface EntryLayers {
  /** `experiments[1]`, `other.yaml`, or null for `base` alone. */
  entry: string | null;
  /** A short name for configuration names: the entry's `name`, its file name, or `e<i>`. */
  label: string;
  layers: ConfigLayer[];
}

export interface Candidate {
  entry: EntryLayers;
  point: SweepPoint;
  resolved: ResolvedExperiment;
  /** Sweep keys left out because they belong to another backend's section. */
  ignored: string[];
  settingsHash: string;
}

export interface ExpandInput {
  registry: Registry;
  entries: EntryLayers[];
  points: SweepPoint[];
  cli: ConfigLayer | null;
  campaignFile: LoadedFile;
  campaignDir: string;
  env: NodeJS.ProcessEnv;
  redactor: Redactor;
  defaultName: string;
}

/** Settings that name or file a run but do not change what is measured. */
const NOT_MEASURED = new Set(['name', 'description', 'results_dir', 'verbosity', 'notifications', 'gaps', 'retry', 'failure_threshold']);

export function isMeasured(key: string): boolean {
  return !NOT_MEASURED.has(key.split('.')[0]!);
}

/** Every entry × point resolved; those that fail are dropped with the errors' messages. */
export async function expandCandidates(input: ExpandInput): Promise<{candidates: Candidate[]; dropped: DroppedPoint[]}> {
  const candidates: Candidate[] = [];
  const dropped: DroppedPoint[] = [];
  const backendIds = new Set(input.registry.backends.keys());
  for (const entry of input.entries) {
    const staticBackend = backendOf([...(input.cli ? [input.cli] : []), ...[...entry.layers].reverse()]);
    for (const point of input.points) {
      const pointBackend = point.assignments.find((a) => a.key === 'backend')?.value;
      const cliBackend = input.cli ? backendOf([input.cli]) : undefined;
      const backend = String(cliBackend ?? pointBackend ?? staticBackend ?? 'llamacpp');
      const {data, ignored} = pointData(point, backend, backendIds);
      const sweep = dataLayer('sweep', absolutePaths(data, input.campaignDir, backendIds), pointFile(point, input.campaignFile, data));
      const layers = [...entry.layers, sweep, ...(input.cli ? [input.cli] : [])];
      try {
        const resolved = await resolveLayers({registry: input.registry, layers, env: input.env, redactor: input.redactor, subject: input.campaignFile.path, defaultName: input.defaultName});
        candidates.push({entry, point, resolved, ignored, settingsHash: hashSettings(resolved.sources)});
      } catch (error) {
        if (!isCodedError(error)) throw error;
        const reasons = (error.details ?? []).map((d) => `${d.path}: ${d.message}`);
        dropped.push({point: `${entry.entry ? `${entry.entry}: ` : ''}${describePoint(point)}`, reasons: reasons.length > 0 ? reasons : [error.message]});
      }
    }
  }
  return {candidates, dropped};
}

/** The `backend` the highest-precedence layer gives, if any (layers highest first). */
function backendOf(layersHighestFirst: ConfigLayer[]): string | undefined {
  for (const layer of layersHighestFirst) if (typeof layer.data.backend === 'string') return layer.data.backend;
  return undefined;
}

/** sha256 of the measurement-affecting settings, keys sorted: equal hashes are equal configurations. */
export function hashSettings(sources: readonly Setting[]): string {
  const values: Record<string, unknown> = {};
  for (const s of sources) if (isMeasured(s.key)) values[s.key] = s.value;
  return createHash('sha256').update(stableStringify(values)).digest('hex');
}

export interface Configuration {
  name: string;
  candidate: Candidate;
  mergedFrom: string[];
  varies: Record<string, unknown>;
}

/** Candidates with the same settings are one configuration (the first kept, the others listed). */
export function mergeIdentical(candidates: Candidate[]): Array<{candidate: Candidate; merged: Candidate[]}> {
  const byHash = new Map<string, {candidate: Candidate; merged: Candidate[]}>();
  for (const c of candidates) {
    const seen = byHash.get(c.settingsHash);
    if (seen) seen.merged.push(c);
    else byHash.set(c.settingsHash, {candidate: c, merged: []});
  }
  return [...byHash.values()];
}

/** The measured keys whose values are not the same in every configuration, in settings order. */
export function varyingKeys(resolved: ResolvedExperiment[]): string[] {
  if (resolved.length < 2) return [];
  const first = new Map<string, string>();
  const varying = new Set<string>();
  const order: string[] = [];
  resolved.forEach((r, i) => {
    const keys = new Set<string>();
    for (const s of r.sources) {
      if (!isMeasured(s.key)) continue;
      keys.add(s.key);
      const text = JSON.stringify(s.value);
      if (!first.has(s.key)) {
        first.set(s.key, text);
        order.push(s.key);
        if (i > 0) varying.add(s.key); // absent from an earlier configuration
      } else if (first.get(s.key) !== text) varying.add(s.key);
    }
    for (const key of first.keys()) if (!keys.has(key)) varying.add(key);
  });
  return order.filter((k) => varying.has(k));
}

const SHORT: Record<string, string> = {
  concurrency: 'conc',
  parallel: 'par',
  request_rate: 'rate',
  max_output_tokens: 'out',
  input_tokens: 'in',
  n_prompts: 'n',
  threads: 'thr',
  batch_size: 'bs',
  context_size: 'ctx',
  gpu_layers: 'ngl',
  temperature: 'temp',
  max_input_tokens: 'maxin',
  baseline_s: 'base',
  flash_attention: 'fa',
};

/** A name part for one varying key's value: `conc4`, `tiny-q8` (a path by its file name), `chat`. */
function namePart(key: string, value: unknown): string | null {
  if (value === undefined || value === null) return null;
  const last = key.split('.').at(-1)!;
  if (typeof value === 'string') {
    const text = value.includes('/') ? basename(value).replace(/\.[A-Za-z0-9]+$/, '') : value;
    return clean(text);
  }
  if (typeof value === 'boolean') return value ? clean(SHORT[last] ?? last) : `no-${clean(SHORT[last] ?? last)}`;
  if (typeof value === 'number') return `${SHORT[last] ?? clean(last)}${value}`;
  return `${SHORT[last] ?? clean(last)}-${clean(createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 6))}`;
}

function clean(text: string): string {
  return text.replace(/[^A-Za-z0-9.]+/g, '').replace(/^[^A-Za-z0-9]+/, '') || 'x';
}

/**
 * Names from what varies (`conc4-par1-tiny-q8`), prefixed by the entry's label when the campaign
 * has several entries; made unique by a `-2`, `-3` suffix in plan order, so a file always gives
 * the same names.
 */
export function nameConfigurations(groups: Array<{candidate: Candidate; merged: Candidate[]}>, varying: string[], fallback: string): Configuration[] {
  const entries = new Set(groups.map((g) => g.candidate.entry));
  // With several entries the label tells entries apart; the parts say what varies within one.
  const partKeys = entries.size > 1 ? withinEntries(groups.map((g) => g.candidate)) : varying;
  const taken = new Map<string, number>();
  return groups.map(({candidate, merged}) => {
    const values = new Map(candidate.resolved.sources.map((s) => [s.key, s.value]));
    const parts = partKeys.map((k) => namePart(k, values.get(k))).filter((p): p is string => p !== null);
    if (entries.size > 1) parts.unshift(clean(candidate.entry.label));
    let name = parts.join('-') || (candidate.entry.label !== '' ? candidate.entry.label : fallback);
    if (!/^[A-Za-z0-9]/.test(name)) name = `c${name}`;
    const count = (taken.get(name) ?? 0) + 1;
    taken.set(name, count);
    if (count > 1) name = `${name}-${count}`;
    const varies = Object.fromEntries(varying.map((k) => [k, values.get(k) ?? null]));
    return {name, candidate, mergedFrom: merged.map((m) => `${m.entry.entry ? `${m.entry.entry}: ` : ''}${describePoint(m.point)}`), varies};
  });
}

/** Keys that vary among the configurations of one entry (the sweep's), over every entry. */
function withinEntries(candidates: Candidate[]): string[] {
  const byEntry = new Map<EntryLayers, ResolvedExperiment[]>();
  for (const c of candidates) {
    const list = byEntry.get(c.entry);
    if (list) list.push(c.resolved);
    else byEntry.set(c.entry, [c.resolved]);
  }
  const keys: string[] = [];
  for (const list of byEntry.values()) for (const k of varyingKeys(list)) if (!keys.includes(k)) keys.push(k);
  return keys;
}

/** The resolved settings of a configuration as the plan shows them, its name put in. */
export function plannedSettings(resolved: ResolvedExperiment): PlannedSetting[] {
  return resolved.sources.map((s) => ({key: s.key, value: s.value, from: formatSource(s.source)}));
}

/** Gives a resolved experiment the configuration's name (the source says where it came from). */
export function renamed(resolved: ResolvedExperiment, name: string): ResolvedExperiment {
  const sources = resolved.sources.map((s) => (s.key === 'name' ? {key: 'name', value: name, source: {kind: 'derived' as const, by: 'campaign configuration'}} : s));
  if (!sources.some((s) => s.key === 'name')) sources.unshift({key: 'name', value: name, source: {kind: 'derived', by: 'campaign configuration'}});
  return {...resolved, settings: {...resolved.settings, name}, sources};
}

/** True when `value` is an `experiments` entry given by path. */
export function isPathEntry(value: unknown): value is {path: string} {
  return isPlainObject(value) && typeof value.path === 'string' && Object.keys(value).length === 1;
}
