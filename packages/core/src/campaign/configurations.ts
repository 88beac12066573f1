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
import type {ErrorDetail} from '@lem/plugin-kit';
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

const measured = new Map<string, boolean>();

export function isMeasured(key: string): boolean {
  let answer = measured.get(key);
  if (answer === undefined) {
    const dot = key.indexOf('.');
    answer = !NOT_MEASURED.has(dot === -1 ? key : key.slice(0, dot));
    measured.set(key, answer);
  }
  return answer;
}

/**
 * Every entry × point resolved; those that fail are dropped with the errors' messages. An entry
 * that fails with the empty point (no sweep, or a group's `{}` baseline) is itself invalid: its
 * located error stops the plan instead.
 */
export async function expandCandidates(input: ExpandInput): Promise<{candidates: Candidate[]; dropped: Dropped[]}> {
  const candidates: Candidate[] = [];
  const dropped: Dropped[] = [];
  for (const entry of input.entries) {
    for (const point of input.points) {
      try {
        candidates.push(await resolvePoint(input, entry, point));
      } catch (error) {
        if (!isCodedError(error) || point.assignments.length === 0) throw error;
        const details = error.details ?? [];
        const reasons = details.length > 0 ? details.map((d) => `${d.path}: ${d.message}`) : [error.message];
        dropped.push({entry, point: `${entry.entry ? `${entry.entry}: ` : ''}${describePoint(point)}`, reasons, details: details.length > 0 ? details : [{path: '', message: error.message}]});
      }
    }
  }
  return {candidates, dropped};
}

/** A grid point that does not resolve: as the plan lists it, with its entry and its errors' located details. */
export interface Dropped extends DroppedPoint {
  entry: EntryLayers;
  details: ErrorDetail[];
}

/** One entry with one point applied; a key of another backend's section is left out of the point. */
async function resolvePoint(input: ExpandInput, entry: EntryLayers, point: SweepPoint): Promise<Candidate> {
  const backendIds = new Set(input.registry.backends.keys());
  const cli = input.cli ? [input.cli] : [];
  const pointBackend = point.assignments.find((a) => a.key === 'backend')?.value;
  const backend = String(backendOf(cli) ?? pointBackend ?? backendOf([...entry.layers].reverse()) ?? 'llamacpp');
  const {data, ignored} = pointData(point, backend, backendIds);
  // The empty point adds no layer, so that an entry's own errors point at the entry.
  const sweep = point.assignments.length === 0 ? [] : [dataLayer('sweep', absolutePaths(data, input.campaignDir, backendIds), pointFile(point, input.campaignFile, data))];
  const subject = entry.entry ? `${input.campaignFile.path} (${entry.entry})` : input.campaignFile.path;
  const resolved = await resolveLayers({registry: input.registry, layers: [...entry.layers, ...sweep, ...cli], env: input.env, redactor: input.redactor, subject, defaultName: input.defaultName});
  return {entry, point, resolved, ignored, settingsHash: hashSettings(resolved.sources)};
}

/** The `backend` the highest-precedence layer gives, if any (layers highest first). */
function backendOf(layersHighestFirst: ConfigLayer[]): string | undefined {
  for (const layer of layersHighestFirst) if (typeof layer.data.backend === 'string') return layer.data.backend;
  return undefined;
}

/** sha256 of the measurement-affecting settings, keys sorted: equal hashes are equal configurations. */
export function hashSettings(sources: readonly Setting[]): string {
  const measured = new Map<string, Setting>();
  for (const s of sources) if (isMeasured(s.key)) measured.set(s.key, s);
  // The text of stableStringify({key: value, …}), built from each setting's cached part: grids hash every point.
  const parts: string[] = [];
  for (const key of [...measured.keys()].sort()) {
    const part = partOf(measured.get(key)!);
    if (part !== null) parts.push(part);
  }
  return createHash('sha256').update(`{${parts.join(',')}}`).digest('hex');
}

/** `"key":value` per setting object (configurations share the settings of their common layers), null for undefined. */
const parts = new WeakMap<Setting, string | null>();

function partOf(setting: Setting): string | null {
  let part = parts.get(setting);
  if (part === undefined) {
    const text = stableText(setting.value);
    parts.set(setting, (part = text === undefined ? null : `${JSON.stringify(setting.key)}:${text}`));
  }
  return part;
}

function stableText(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  if (typeof value === 'string' || typeof value === 'boolean' || value === null) return JSON.stringify(value);
  return value === undefined ? undefined : stableStringify(value);
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

/**
 * The measured keys whose values are not the same in every configuration, in settings order. A key
 * of a backend's own section (`vllm.dtype`) is compared among that backend's configurations only:
 * that other backends have no such key is said by `backend`, not by every key of the section.
 */
export function varyingKeys(resolved: ResolvedExperiment[]): string[] {
  if (resolved.length < 2) return [];
  const sectionOf = (r: ResolvedExperiment, key: string) => r.backend !== null && r.backend !== undefined && key.startsWith(`${r.backend.contribution.id}.`);
  const varying = new Set(varyingAmong(resolved, (r, key) => !sectionOf(r, key)));
  const byBackend = new Map<string, ResolvedExperiment[]>();
  for (const r of resolved) {
    const id = r.backend?.contribution.id;
    if (id === undefined) continue;
    const group = byBackend.get(id);
    if (group) group.push(r);
    else byBackend.set(id, [r]);
  }
  for (const group of byBackend.values()) for (const key of varyingAmong(group, sectionOf)) varying.add(key);
  const order: string[] = [];
  for (const r of resolved) for (const s of r.sources) if (varying.has(s.key) && !order.includes(s.key)) order.push(s.key);
  return order;
}

/** The measured keys `counts` selects whose values differ among `resolved`, or that some of them lack. */
function varyingAmong(resolved: ResolvedExperiment[], counts: (r: ResolvedExperiment, key: string) => boolean): string[] {
  if (resolved.length < 2) return [];
  // Per key: the first configuration's setting and its text (a shared setting object is the same value).
  const first = new Map<string, {setting: Setting; text: string}>();
  const seenIn = new Map<string, number>();
  const varying = new Set<string>();
  resolved.forEach((r, i) => {
    for (const s of r.sources) {
      if (!isMeasured(s.key) || !counts(r, s.key)) continue;
      seenIn.set(s.key, i);
      const known = first.get(s.key);
      if (!known) {
        first.set(s.key, {setting: s, text: JSON.stringify(s.value)});
        if (i > 0) varying.add(s.key); // absent from an earlier configuration
      } else if (known.setting !== s && !varying.has(s.key) && known.text !== JSON.stringify(s.value)) varying.add(s.key);
    }
    for (const key of first.keys()) if (seenIn.get(key) !== i) varying.add(key);
  });
  return [...first.keys()].filter((k) => varying.has(k));
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
  const wanted = new Set([...partKeys, ...varying]);
  return groups.map(({candidate, merged}) => {
    const values = valuesOf(candidate.resolved, wanted);
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

/** The values of the `wanted` keys of a configuration (a few of its many settings). */
function valuesOf(resolved: ResolvedExperiment, wanted: ReadonlySet<string>): Map<string, unknown> {
  const values = new Map<string, unknown>();
  for (const s of resolved.sources) if (wanted.has(s.key)) values.set(s.key, s.value);
  return values;
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
  return resolved.sources.map(planned);
}

/** Per setting object: the configurations of one campaign share the settings of their common layers (never mutated). */
const plannedOf = new WeakMap<Setting, PlannedSetting>();

function planned(setting: Setting): PlannedSetting {
  let out = plannedOf.get(setting);
  if (!out) plannedOf.set(setting, (out = {key: setting.key, value: setting.value, from: formatSource(setting.source)}));
  return out;
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
