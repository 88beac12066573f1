/**
 * The settings resolver (DESIGN §8): every effective setting with its value and its source.
 * Precedence: CLI flag > experiment or campaign file > `.lem-config.yaml` > built-in default.
 *
 * Each file is first validated on its own, so that an error points at the file, line and column
 * that holds it; then the layers are merged and validated together, which applies the defaults
 * and catches what only the whole shows (a required key given nowhere).
 */
import type {ConfigIssue, ErrorDetail, SourceLocation, StandardSchemaV1} from '@lem/plugin-kit';
import type {z} from 'zod';
import {dirname, isAbsolute, resolve} from 'node:path';
import {parse as parseYamlScalar} from 'yaml';
import {configError, ErrorCodes} from '../errors.js';
import {assertCanTruncate} from '../datasets/select.js';
import {requireBackend, type RegisteredBackend, type Registry} from '../registry.js';
import {closest, formatPath, getPath, isModelPath, isPlainObject, type KeyPath} from './paths.js';
import {
  experimentFileSchema,
  experimentSettingsSchema,
  projectConfigSchema,
  REPETITION_KEYS,
  type ExperimentSettings,
  type ProjectSettings,
  type SuggestedValue,
} from './schemas.js';
import {Redactor, substituteEnv} from './secrets.js';
import type {LoadedFile} from './yaml-file.js';

/**
 * Where a layer of settings comes from. A campaign run adds layers between the command line and
 * the project: its sweep point, its `experiments` entry, its `base` file (role `experiment`) and
 * the campaign file's own experiment keys.
 */
export type LayerRole = 'cli' | 'sweep' | 'entry' | 'experiment' | 'campaign' | 'project';

/** Where an effective setting came from. */
export type SettingSource =
  | {kind: 'cli'; flag: string}
  | {kind: 'file'; role: Exclude<LayerRole, 'cli'>; location: SourceLocation}
  | {kind: 'default'}
  /** Set by lem itself from other settings, e.g. a campaign's configuration name. */
  | {kind: 'derived'; by: string};

export interface Setting {
  /** Dotted key, e.g. `workload.concurrency` or `llamacpp.threads`. */
  key: string;
  /** The value, secrets redacted. */
  value: unknown;
  source: SettingSource;
}

/** A value given on the command line for a dotted key. */
export interface CliSetting {
  key: string;
  value: unknown;
  /** The flag as the user typed it, for messages and sources (`--runner`, `--set workload.concurrency`). */
  flag: string;
}

/** One layer of settings: data, and where each of its keys is written (to locate errors and sources). */
export interface ConfigLayer {
  role: LayerRole;
  data: Record<string, unknown>;
  file?: LoadedFile;
  flags?: Map<string, string>;
}

const PRECEDENCE: LayerRole[] = ['cli', 'sweep', 'entry', 'experiment', 'campaign', 'project'];

/** Keys that belong in another file, with where they go. */
const MISPLACED_IN_EXPERIMENT: Record<string, string> = {
  gaps: 'gaps belong in a campaign file or .lem-config.yaml',
  retry: 'retry belongs in a campaign file or .lem-config.yaml',
  failure_threshold: 'failure_threshold belongs in a campaign file or .lem-config.yaml',
  notifications: 'notifications belong in .lem-config.yaml',
  verbosity: 'verbosity belongs in .lem-config.yaml (or use --quiet / --verbose)',
  order: 'order belongs in a campaign file',
  run_timeout_s: 'run_timeout_s belongs in a campaign file',
  executor: 'executor belongs in a campaign file',
  slurm: 'slurm belongs in a campaign file',
  sweep: 'sweep belongs in a campaign file',
  experiments: 'experiments belong in a campaign file',
  base: 'base belongs in a campaign file',
};

/** Keys only a campaign has; in an experiment file each is a located error saying where it goes. */
export const CAMPAIGN_ONLY_KEYS = ['cycles', 'order', 'seed', 'gaps', 'retry', 'failure_threshold', 'run_timeout_s', 'executor', 'slurm'] as const;

export function formatSource(source: SettingSource): string {
  switch (source.kind) {
    case 'cli':
      return source.flag;
    case 'default':
      return 'default';
    case 'derived':
      return source.by;
    case 'file': {
      const {file, line, col} = source.location;
      return `${file}${line === undefined ? '' : `:${line}${col === undefined ? '' : `:${col}`}`}`;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing CLI values

/** Parses `key=value` of `--set`, the value as a YAML scalar (`4` → 4, `true` → true, `a` → "a"). */
export function parseSetFlag(text: string): CliSetting {
  const eq = text.indexOf('=');
  if (eq <= 0) {
    throw configError(ErrorCodes.usage, `--set expects key=value, got "${text}"`, ['--set workload.concurrency=4']);
  }
  const key = text.slice(0, eq).trim();
  if (!/^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*$/.test(key)) {
    throw configError(ErrorCodes.usage, `--set key "${key}" is not a dotted key`, ['--set llamacpp.threads=2']);
  }
  const raw = text.slice(eq + 1);
  let value: unknown = raw;
  try {
    value = parseYamlScalar(raw);
  } catch {
    value = raw;
  }
  return {key, value: value ?? raw, flag: `--set ${key}`};
}

function cliLayer(settings: CliSetting[]): ConfigLayer {
  const data: Record<string, unknown> = {};
  const flags = new Map<string, string>();
  for (const s of settings) {
    const parts = s.key.split('.');
    let target = data;
    for (const part of parts.slice(0, -1)) {
      if (!isPlainObject(target[part])) target[part] = {};
      target = target[part] as Record<string, unknown>;
    }
    target[parts.at(-1)!] = s.value;
    flags.set(s.key, s.flag);
  }
  return {role: 'cli', data, flags};
}

// ---------------------------------------------------------------------------------------------
// Merging and attribution

/** Deep merge, `over` winning. Objects whose `kind` differs replace each other whole (a dataset of another kind is another dataset). */
function merge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  if ('kind' in base && 'kind' in over && base.kind !== over.kind) return over;
  const out: Record<string, unknown> = {...base};
  for (const [key, value] of Object.entries(over)) out[key] = key in out ? merge(out[key], value) : value;
  return out;
}

function mergeLayers(layers: ConfigLayer[], pick: (data: Record<string, unknown>) => Record<string, unknown>): Record<string, unknown> {
  let out: unknown = {};
  for (const role of [...PRECEDENCE].reverse()) {
    for (const layer of layers) if (layer.role === role) out = merge(out, pick(layer.data));
  }
  return out as Record<string, unknown>;
}

/** The layers highest precedence first (by role; the given order within a role). */
function byPrecedence(layers: ConfigLayer[]): ConfigLayer[] {
  return PRECEDENCE.flatMap((role) => layers.filter((layer) => layer.role === role));
}

/** The highest-precedence layer holding `path`. */
function owner(layers: ConfigLayer[], path: KeyPath): ConfigLayer | undefined {
  return byPrecedence(layers).find((layer) => getPath(layer.data, path).found);
}

function sourceOf(layer: ConfigLayer | undefined, path: KeyPath): SettingSource {
  if (!layer) return {kind: 'default'};
  if (layer.role === 'cli') {
    const dotted = path.join('.');
    let flag = layer.flags?.get(dotted);
    for (let i = path.length - 1; !flag && i > 0; i--) flag = layer.flags?.get(path.slice(0, i).join('.'));
    // A mapping the command line created holds only what some `--set` below it gave.
    flag ??= [...(layer.flags ?? [])].find(([key]) => key.startsWith(`${dotted}.`))?.[1];
    return {kind: 'cli', flag: flag ?? '--set'};
  }
  return {kind: 'file', role: layer.role, location: layer.file?.locate(path) ?? {file: layer.role}};
}

/** Where an error about `path` should point: the layer that set it (or its nearest ancestor), else the most specific file. */
function locateIssue(layers: ConfigLayer[], path: KeyPath, key = false): {location?: SourceLocation; flag?: string} {
  for (let n = path.length; n >= 0; n--) {
    const prefix = path.slice(0, n);
    const layer = n === 0 ? undefined : owner(layers, prefix);
    if (layer?.role === 'cli') return {flag: (sourceOf(layer, prefix) as {flag: string}).flag};
    if (layer?.file) return {location: layer.file.locate(path, {key})};
  }
  // A sweep point's layer is no place to add a key: the most specific file is the entry's (or base's).
  const file = [...PRECEDENCE.filter((r) => r !== 'sweep'), 'sweep'].flatMap((r) => layers.filter((l) => l.role === r && l.file))[0]?.file;
  return file ? {location: file.locate([])} : {};
}

// ---------------------------------------------------------------------------------------------
// Validation

function knownKeys(schema: z.ZodType, path: KeyPath): string[] {
  let current: unknown = schema;
  for (const part of path) {
    const shape = shapeOf(current);
    if (!shape || typeof part !== 'string') return [];
    current = shape[part];
  }
  return Object.keys(shapeOf(current) ?? {});
}

function shapeOf(schema: unknown): Record<string, unknown> | undefined {
  // Unwrap default/optional/prefault wrappers to reach an object's shape.
  let s = schema as {shape?: Record<string, unknown>; def?: {innerType?: unknown}} | undefined;
  for (let i = 0; i < 5 && s && !s.shape && s.def?.innerType; i++) s = s.def.innerType as typeof s;
  return s?.shape;
}

type Issue = {
  path: KeyPath;
  message: string;
  key?: boolean;
  /** A required key that is absent: what to write for it (`<number>`, `builtin | file`) and its description. */
  missing?: {hint: string; description?: string};
  /** Values that would fix the key at `path` (a schema's `params.suggest`). */
  suggest?: SuggestedValue[];
};

/** The schema of the key at `path`, choosing a discriminated union's variant by the kind `data` gives. */
function schemaAt(schema: unknown, path: KeyPath, data: unknown): unknown {
  let current = schema;
  for (let i = 0; i < path.length; i++) {
    const part = path[i];
    const shape = shapeOf(variantOf(current, getPath(data, path.slice(0, i)).value));
    if (!shape || typeof part !== 'string') return undefined;
    current = shape[part];
  }
  return current;
}

type SchemaLike = {shape?: Record<string, unknown>; description?: string; def?: {innerType?: unknown; options?: unknown[]; discriminator?: string; values?: unknown[]}};

function variantOf(schema: unknown, value: unknown): unknown {
  let s = schema as SchemaLike | undefined;
  for (let i = 0; i < 5 && s && !s.shape && !s.def?.options && s.def?.innerType; i++) s = s.def.innerType as SchemaLike;
  const discriminator = s?.def?.discriminator;
  if (!discriminator || !s?.def?.options) return schema;
  const kind = isPlainObject(value) ? value[discriminator] : undefined;
  return s.def.options.find((o) => ((shapeOf(o)?.[discriminator] as SchemaLike | undefined)?.def?.values ?? []).includes(kind)) ?? schema;
}

function descriptionOf(schema: unknown): string | undefined {
  let s = schema as SchemaLike | undefined;
  for (let i = 0; i < 5 && s; i++) {
    if (s.description) return s.description;
    s = s.def?.innerType as SchemaLike | undefined;
  }
  return undefined;
}

/** Zod's issues in lem's terms; `data` is what was validated, to tell a missing key from a wrong one. */
function zodIssues(error: z.ZodError, schema: z.ZodType, data: unknown): Issue[] {
  const out: Issue[] = [];
  for (const issue of error.issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    const discriminator = issue.code === 'invalid_union' ? (issue as {discriminator?: string}).discriminator : undefined;
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(schema, path);
      for (const key of issue.keys) {
        const suggestion = closest(key, known);
        out.push({path: [...path, key], key: true, message: `unknown key "${key}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`});
      }
    } else if (discriminator) {
      const at = path.at(-1) === discriminator ? path : [...path, discriminator];
      const options = (issue as {options?: unknown[]}).options ?? [];
      if (getPath(data, at).found) out.push({path: at, message: issue.message});
      else out.push({path: at, message: `missing required key "${discriminator}"`, missing: {hint: options.join(' | ') || '<value>'}});
    } else if (issue.code === 'invalid_type' && path.length > 0 && !getPath(data, path).found) {
      out.push({
        path,
        message: `missing required key "${String(path.at(-1))}"`,
        missing: {hint: `<${issue.expected}>`, description: descriptionOf(schemaAt(schema, path, data))},
      });
    } else {
      const suggest = issue.code === 'custom' ? (issue.params as {suggest?: SuggestedValue[]} | undefined)?.suggest : undefined;
      out.push({path, message: issue.message, ...(suggest ? {suggest} : {})});
    }
  }
  return out;
}

async function standardIssues(schema: StandardSchemaV1, value: unknown): Promise<{value?: unknown; issues: Issue[]}> {
  const result = await schema['~standard'].validate(value);
  if (!result.issues) return {value: result.value, issues: []};
  return {
    issues: result.issues.map((i) => ({
      path: (i.path ?? []).map((p) => (typeof p === 'object' ? p.key : p)).filter((p): p is string | number => typeof p !== 'symbol'),
      message: i.message,
    })),
  };
}

/** An error detail with the Try lines that fix it, when it has its own. */
export type Found = ErrorDetail & {try?: string[]};

/** A word as a POSIX shell reads it back: bare when safe, else single-quoted. */
export function shellWord(word: string): string {
  return /^[\w.,=:/@+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

function flowValue(value: unknown, separator: string): string {
  if (Array.isArray(value)) return `[${value.map((v) => flowValue(v, separator)).join(separator)}]`;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function toDetail(issue: Issue, layers: ConfigLayer[], prefix: KeyPath = []): Found {
  const path = [...prefix, ...issue.path];
  const dotted = formatPath(path);
  // A missing key has no position of its own: point at the key of the mapping that should hold it.
  const where = issue.missing ? locateIssue(layers, path.slice(0, -1), true) : locateIssue(layers, path, issue.key);
  const file = where.location?.file;
  const tryLines: string[] = [];
  if (issue.missing) {
    const {hint, description} = issue.missing;
    const key = String(path.at(-1));
    const parent = formatPath(path.slice(0, -1));
    const note = description ? `   # ${description}` : '';
    if (where.flag) tryLines.push(`--set ${shellWord(`${dotted}=${hint}`)}${note}`);
    else if (file) tryLines.push(`${parent ? `add under ${parent}: in ${file}` : `add to ${file}`}:  ${key}: ${hint}${note}`);
  }
  for (const {value, why} of issue.suggest ?? []) {
    if (where.flag) tryLines.push(`--set ${shellWord(`${dotted}=${flowValue(value, ',')}`)}   # ${why}`);
    else tryLines.push(`${file ? `in ${file}, ` : ''}${dotted}: ${flowValue(value, ', ')}   # ${why}`);
  }
  return {
    path: dotted || '(top level)',
    message: where.flag ? `${issue.message} (from ${where.flag})` : issue.message,
    ...(where.location ? {location: where.location} : {}),
    ...(tryLines.length > 0 ? {try: tryLines} : {}),
  };
}

/** Throws the details found, if any, with their own Try lines and `fallbackTry` for those that have none. */
function throwIfAny(found: Found[], subject: string, fallbackTry: string[]): void {
  if (found.length === 0) return;
  // Top to bottom, file by file, as a person reads them.
  found.sort((a, b) => (a.location?.file ?? '').localeCompare(b.location?.file ?? '') || (a.location?.line ?? 0) - (b.location?.line ?? 0) || (a.location?.col ?? 0) - (b.location?.col ?? 0));
  const own = found.flatMap((f) => f.try ?? []);
  const tryLines = [...new Set(found.every((f) => f.try) ? own : [...own, ...fallbackTry])];
  const details = found.map(({try: _try, ...detail}) => detail);
  throw configError(ErrorCodes.configInvalid, `${subject} ${details.length === 1 ? 'has an error' : `has ${details.length} errors`}`, tryLines, details);
}

function fileLayer(role: Exclude<LayerRole, 'cli'>, file: LoadedFile, env: NodeJS.ProcessEnv, redactor: Redactor): ConfigLayer {
  const data = substituteEnv(file, env, redactor);
  if (!isPlainObject(data)) {
    throw configError(ErrorCodes.configInvalid, `${file.path} must be a mapping of keys to values`, ['see `lem config schema` for the expected shape'], [
      {path: '(top level)', message: `expected a mapping, got ${Array.isArray(data) ? 'a list' : typeof data}`, location: file.locate([])},
    ]);
  }
  return {role, data, file};
}

function splitSections(data: Record<string, unknown>, registry: Registry): {core: Record<string, unknown>; sections: Record<string, unknown>} {
  const core: Record<string, unknown> = {};
  const sections: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    if (registry.backends.has(key) || registry.duplicates.has(`backend:${key}`)) sections[key] = value;
    else core[key] = value;
  }
  return {core, sections};
}

/**
 * A plugin section of one file, checked by the plugin's schema. Keys the file does not give may
 * come from another layer, so only problems with what it gives are reported here.
 */
async function givenSectionDetails(schema: StandardSchemaV1, section: unknown, layers: ConfigLayer[], prefix: KeyPath): Promise<Found[]> {
  const {issues} = await standardIssues(schema, section ?? {});
  return issues.filter((i) => i.path.length === 0 || getPath(section, i.path).found).map((i) => toDetail(i, layers, prefix));
}

/** Validates one file on its own: core keys by `schema`, backend sections by their plugin. */
async function validateFileLayer(layer: ConfigLayer, schema: z.ZodType, registry: Registry): Promise<Found[]> {
  const {core, sections} = splitSections(layer.data, registry);
  const details: Found[] = [];
  const layers = [layer];
  if (layer.role === 'experiment' || layer.role === 'entry') {
    for (const key of Object.keys(core)) {
      if ((REPETITION_KEYS as readonly string[]).includes(key)) {
        details.push({
          path: key,
          message: `an experiment is one run; repetition (\`${key}\`) belongs to campaigns (E_CONFIG_REPETITION)`,
          location: layer.file!.locate([key], {key: true}),
        });
        delete core[key];
      } else if (MISPLACED_IN_EXPERIMENT[key] || key === 'seed') {
        const why = MISPLACED_IN_EXPERIMENT[key] ?? 'a top-level seed orders a campaign\'s runs and belongs in a campaign file (workload.seed and dataset.seed seed one run)';
        details.push({path: key, message: `${why}, not in an experiment file`, location: layer.file!.locate([key], {key: true})});
        delete core[key];
      }
    }
  }
  const parsed = schema.safeParse(core);
  if (!parsed.success) {
    for (const issue of zodIssues(parsed.error, schema, core)) {
      // A key this file does not give may come from another layer: the merged check reports it.
      if (!issue.key && !getPath(layer.data, issue.path).found) continue;
      const detail = toDetail(issue, layers);
      const top = issue.path[0];
      if (issue.key && issue.path.length === 1 && typeof top === 'string' && !detail.message.includes('did you mean')) {
        detail.message += ` (if it is a backend's section, that backend is not installed: lem plugins install @lem/backend-${top})`;
      }
      details.push(detail);
    }
  }
  if (isPlainObject(core.notifications)) {
    for (const [id, section] of Object.entries(core.notifications)) {
      const notifier = registry.notifiers.get(id);
      if (!notifier) {
        const known = [...registry.notifiers.keys()];
        details.push({
          path: `notifications.${id}`,
          message: `notifier "${id}" is not installed${known.length ? ` (installed: ${known.join(', ')})` : ''}; lem plugins install @lem/notify-${id}`,
          location: layer.file!.locate(['notifications', id], {key: true}),
        });
        continue;
      }
      details.push(...(await givenSectionDetails(notifier.contribution.configSchema, section, layers, ['notifications', id])));
    }
  }
  for (const [id, section] of Object.entries(sections)) {
    const backend = registry.backends.get(id);
    if (!backend) continue; // duplicate id: reported when selected
    details.push(...(await givenSectionDetails(backend.contribution.configSchema, section, layers, [id])));
  }
  return details;
}

/**
 * Every leaf of `output` as a setting with its source. A campaign resolves the same file layers
 * for each of thousands of grid points, so sources are located once per layer and key, and a
 * setting whose scalar value and source repeat is one shared object (settings are never mutated).
 */
function settingsFrom(output: Record<string, unknown>, layers: ConfigLayer[], redactor: Redactor, prefix: string[] = []): Setting[] {
  const ordered = byPrecedence(layers);
  const out: Setting[] = [];
  const path = [...prefix];
  // `leaves(output, prefix)`, walked in place: `path` is the current key path, `key` it dotted.
  const walk = (value: unknown, key: string, dotted: boolean) => {
    if (isPlainObject(value) && (path.length === 0 || hasKeys(value))) {
      for (const k in value) {
        if (!Object.hasOwn(value, k)) continue;
        path.push(k);
        walk(value[k], childKey(key, k), dotted || k.includes('.'));
        path.pop();
      }
    } else if (path.length > 0) {
      out.push(settingOf(slotOf(ownerOf(ordered, path, key, dotted), redactor, path, key), key, value, redactor));
    }
  };
  walk(output, prefix.reduce(childKey, ''), prefix.some((p) => p.includes('.')));
  return out;
}

/** The first of `ordered` layers holding `path` (`key` dotted; `dotted` when one of its keys holds a dot). */
function ownerOf(ordered: ConfigLayer[], path: string[], key: string, dotted: boolean): ConfigLayer | undefined {
  for (const layer of ordered) if (dotted ? getPath(layer.data, path).found : holds(layer, path, key)) return layer;
  return undefined;
}

function hasKeys(value: Record<string, unknown>): boolean {
  for (const key in value) if (Object.hasOwn(value, key)) return true;
  return false;
}

/** Per layer: the dotted path of every node of its data, or null when a key holds a dot (then paths are looked up). */
const nodePaths = new WeakMap<ConfigLayer, Set<string> | null>();

/** `getPath(layer.data, path).found` for a path without dots in its keys: a set lookup once the layer's paths are listed. */
function holds(layer: ConfigLayer, path: string[], dotted: string): boolean {
  let paths = nodePaths.get(layer);
  if (paths === undefined) nodePaths.set(layer, (paths = pathsOf(layer.data)));
  return paths ? paths.has(dotted) : getPath(layer.data, path).found;
}

function pathsOf(data: Record<string, unknown>): Set<string> | null {
  const paths = new Set<string>();
  const visit = (node: unknown, prefix: string): boolean => {
    if (!isPlainObject(node)) return true;
    for (const key in node) {
      if (!Object.hasOwn(node, key)) continue;
      if (key.includes('.')) return false;
      const dotted = prefix === '' ? key : `${prefix}.${key}`;
      paths.add(dotted);
      if (!visit(node[key], dotted)) return false;
    }
    return true;
  };
  return visit(data, '') ? paths : null;
}

/** Dotted keys by parent key and child: one string per key however many settings name it, and no new string per lookup. */
const childKeys = new Map<string, Map<string, string>>();

function childKey(parent: string, child: string): string {
  let byChild = childKeys.get(parent);
  if (!byChild) childKeys.set(parent, (byChild = new Map()));
  let key = byChild.get(child);
  if (key === undefined) byChild.set(child, (key = parent === '' ? child : `${parent}.${child}`));
  return key;
}

/** A key's source in one layer, and the settings already made from it by value. */
interface Slot {
  source: SettingSource;
  settings: Map<unknown, Setting>;
}

/** Per layer (per redactor, i.e. per resolution or campaign plan, for defaults): key → slot. */
const slots = new WeakMap<object, Map<string, Slot>>();

function slotOf(layer: ConfigLayer | undefined, redactor: Redactor, path: string[], key: string): Slot {
  const holder: object = layer ?? redactor;
  let byKey = slots.get(holder);
  if (!byKey) slots.set(holder, (byKey = new Map()));
  let slot = byKey.get(key);
  if (!slot) byKey.set(key, (slot = {source: layer ? sourceOf(layer, [...path]) : DEFAULT_SOURCE, settings: new Map()}));
  return slot;
}

function settingOf(slot: Slot, key: string, value: unknown, redactor: Redactor): Setting {
  // Without secrets a scalar is its own redaction; -0 is kept apart from 0 (a Map does not).
  const shareable = redactor.size === 0 && (typeof value !== 'object' || value === null) && !Object.is(value, -0);
  if (!shareable) return {key, value: redactor.deep(value), source: slot.source};
  let setting = slot.settings.get(value);
  if (!setting) slot.settings.set(value, (setting = {key, value, source: slot.source}));
  return setting;
}

const DEFAULT_SOURCE: SettingSource = Object.freeze({kind: 'default'});

// ---------------------------------------------------------------------------------------------
// Public API

export interface ResolveInput {
  registry: Registry;
  /** `.lem-config.yaml`, when the project has one. */
  projectFile?: LoadedFile;
  cli?: CliSetting[];
  env?: NodeJS.ProcessEnv;
}

export interface ResolvedProject {
  settings: ProjectSettings;
  /** Backend sections given in `.lem-config.yaml`, validated, by backend id. */
  backendSections: Record<string, unknown>;
  /** Every effective setting with its source, in schema order. */
  sources: Setting[];
  redactor: Redactor;
}

/** The built-in backend that measures an endpoint already running at `base_url`. */
export const OPENAI_BACKEND = 'openai';

function openaiIssues(settings: ExperimentSettings, env: NodeJS.ProcessEnv): Issue[] {
  const issues: Issue[] = [];
  if (settings.backend === OPENAI_BACKEND) {
    if (!settings.base_url) issues.push({path: ['base_url'], message: '`backend: openai` needs base_url, the endpoint to measure (e.g. http://127.0.0.1:8000/v1)'});
    if (settings.api_key_env && !env[settings.api_key_env]) issues.push({path: ['api_key_env'], message: `the environment variable ${settings.api_key_env} is not set`});
  } else {
    if (settings.base_url) issues.push({path: ['base_url'], message: `base_url is for \`backend: openai\`; ${settings.backend} is started by lem`});
    if (settings.api_key_env) issues.push({path: ['api_key_env'], message: `api_key_env is for \`backend: openai\``});
  }
  return issues;
}

export interface ResolvedExperiment {
  settings: ExperimentSettings & {name: string};
  /** The backend plugin, or null for `backend: openai` (an endpoint lem does not start). */
  backend: RegisteredBackend | null;
  /** The selected backend's section after its plugin's validation (defaults applied). */
  backendConfig: unknown;
  sources: Setting[];
  redactor: Redactor;
}

/** Each notifier's settings as its plugin outputs them (defaults applied); presence was checked per file. */
async function validatedNotifications(registry: Registry, notifications: Record<string, unknown>, layers: ConfigLayer[]): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {...notifications};
  for (const [id, section] of Object.entries(notifications)) {
    const notifier = registry.notifiers.get(id);
    if (!notifier) continue;
    const {value, issues} = await standardIssues(notifier.contribution.configSchema, section);
    throwIfAny(issues.map((i) => toDetail(i, layers, ['notifications', id])), `the ${id} notifier settings`, ['fix the values shown']);
    out[id] = value;
  }
  return out;
}

/** Resolves the project's settings: `.lem-config.yaml` (if any) over defaults, CLI over both. */
export async function resolveProject(input: ResolveInput): Promise<ResolvedProject> {
  const env = input.env ?? process.env;
  const redactor = new Redactor();
  const layers: ConfigLayer[] = [];
  if (input.projectFile) layers.push(fileLayer('project', input.projectFile, env, redactor));
  if (input.cli?.length) layers.push(cliLayer(input.cli));

  const details: Found[] = [];
  for (const layer of layers) if (layer.file) details.push(...(await validateFileLayer(layer, projectConfigSchema, input.registry)));
  throwIfAny(details, input.projectFile?.path ?? 'the project settings', ['fix the keys shown; `lem config schema --kind project` prints every key']);

  const merged = mergeLayers(layers, (d) => splitSections(d, input.registry).core);
  const parsed = projectConfigSchema.safeParse(merged);
  if (!parsed.success) {
    throwIfAny(
      zodIssues(parsed.error, projectConfigSchema, merged).map((i) => toDetail(i, layers)),
      'the project settings',
      ['fix the values shown'],
    );
  }
  const settings = parsed.data!;
  settings.notifications = await validatedNotifications(input.registry, settings.notifications, layers);
  const sources = settingsFrom(settings, layers, redactor);
  const backendSections: Record<string, unknown> = {};
  for (const [id, backend] of input.registry.backends) {
    const section = mergeLayers(layers, (d) => (isPlainObject(d[id]) ? {[id]: d[id]} : {}))[id];
    if (section === undefined) continue;
    const {value, issues} = await standardIssues(backend.contribution.configSchema, section);
    throwIfAny(issues.map((i) => toDetail(i, layers, [id])), `the ${id} section`, ['fix the values shown']);
    backendSections[id] = value;
    sources.push(...settingsFrom(value as Record<string, unknown>, layers, redactor, [id]));
  }
  return {settings, backendSections, sources, redactor};
}

/** Resolves one experiment: CLI > experiment file > `.lem-config.yaml` > defaults. */
export async function resolveExperiment(input: ResolveInput & {experimentFile: LoadedFile}): Promise<ResolvedExperiment> {
  const env = input.env ?? process.env;
  const redactor = new Redactor();
  const prepared = await prepareLayers(input, [{role: 'experiment', file: input.experimentFile}], redactor);
  const repetition = prepared.details.find((d) => d.message.includes('E_CONFIG_REPETITION'));
  if (repetition && prepared.details.length === 1) {
    throw configError(ErrorCodes.repetition, `${input.experimentFile.path} asks for repetition, which belongs to campaigns`, [
      `write a campaign file that repeats it (name: …, base: ${input.experimentFile.path}, cycles: N; base is relative to the campaign file) and run \`lem campaign run <campaign.yaml>\``,
    ], [{path: repetition.path, message: repetition.message.replace(' (E_CONFIG_REPETITION)', ''), location: repetition.location}]);
  }
  throwIfAny(prepared.details, input.experimentFile.path, ['fix the keys shown; `lem config schema` prints every key with its description']);
  const layers = input.cli?.length ? [...prepared.layers, cliLayer(input.cli)] : prepared.layers;
  const name = input.experimentFile.path.replace(/^.*[\\/]/, '').replace(/\.ya?ml$/i, '');
  return resolveLayers({registry: input.registry, layers, env, redactor, subject: input.experimentFile.path, defaultName: name});
}

/** A file to read as a layer: the whole file, or the mapping at `at` inside it (a campaign's inline experiment). */
export interface LayerFile {
  role: Exclude<LayerRole, 'cli'>;
  file: LoadedFile;
  /** Which schema checks it on its own: experiment keys (default) or `.lem-config.yaml`'s. */
  schema?: 'experiment' | 'project' | 'campaign';
}

/**
 * Reads each file as a layer (environment substituted) and validates it on its own, collecting
 * the errors of every file so that one run shows all of them. `.lem-config.yaml` is added first
 * when the input has one.
 */
export async function prepareLayers(input: ResolveInput, files: LayerFile[], redactor: Redactor): Promise<{layers: ConfigLayer[]; details: Found[]}> {
  const env = input.env ?? process.env;
  const layers: ConfigLayer[] = [];
  const details: Found[] = [];
  const all: LayerFile[] = input.projectFile ? [{role: 'project', file: input.projectFile, schema: 'project'}, ...files] : files;
  for (const {role, file, schema} of all) {
    try {
      const layer = fileLayer(role, file, env, redactor);
      layer.data = absoluteBackendPaths(layer.data, dirname(file.absolutePath ?? resolve(file.path)), input.registry.backends.keys());
      layers.push(layer);
      details.push(...(await validateFileLayer(layer, FILE_SCHEMAS[schema ?? 'experiment'], input.registry)));
    } catch (error) {
      const {details: d, try: tryLines} = error as {details?: ErrorDetail[]; try?: string[]};
      if (!d) throw error;
      details.push(...d.map((detail) => ({...detail, ...(tryLines?.length ? {try: tryLines} : {})})));
    }
  }
  return {layers, details};
}

/**
 * A backend's file settings are relative to the file that wrote them, like `model` and
 * `dataset.path`; once layers of several files merge (and a server starts in another folder)
 * that is lost, so each file's are made absolute as it is read. The plugins' convention: a key
 * of a backend section ending in `_path` is a file (`llamacpp.model_path`), except a
 * `model_path` that is a hub id (`nvidia/Llama-3.1-8B-Instruct-FP8`, see {@link isModelPath}).
 */
export function absoluteBackendPaths(data: Record<string, unknown>, dir: string, backendIds: Iterable<string>): Record<string, unknown> {
  let out = data;
  for (const id of backendIds) {
    const section = data[id];
    if (!isPlainObject(section)) continue;
    const isFile = (k: string, v: string) => k.endsWith('_path') && !isAbsolute(v) && (!k.endsWith('model_path') || isModelPath(v));
    const fixed = Object.fromEntries(Object.entries(section).map(([k, v]) => [k, typeof v === 'string' && isFile(k, v) ? resolve(dir, v) : v]));
    out = {...out, [id]: fixed};
  }
  return out;
}

const FILE_SCHEMAS: Record<NonNullable<LayerFile['schema']>, z.ZodType> = {
  experiment: experimentFileSchema,
  project: projectConfigSchema,
  campaign: experimentFileSchema.omit({name: true}),
};

/**
 * Why dotted `key` names no setting of an experiment (`unknown key "concurency" (did you mean
 * "concurrency"?)`), or null when it names one or cannot be told: below a union, a record or a
 * scalar, or in a backend section whose JSON Schema does not close its properties.
 */
export function unknownSettingKey(registry: Registry, key: string): string | null {
  const [first, ...rest] = key.split('.');
  const backend = registry.backends.get(first!);
  if (backend) return unknownAlong(backend.contribution.jsonSchema, rest, jsonShape);
  return unknownAlong(experimentSettingsSchema, [first!, ...rest], shapeOf);
}

function unknownAlong(root: unknown, parts: string[], shapeAt: (node: unknown) => Record<string, unknown> | undefined): string | null {
  let node = root;
  for (const part of parts) {
    const shape = shapeAt(node);
    if (!shape) return null;
    if (!Object.hasOwn(shape, part)) {
      const near = closest(part, Object.keys(shape));
      return `unknown key "${part}"${near ? ` (did you mean "${near}"?)` : ''}`;
    }
    node = shape[part];
  }
  return null;
}

/** The properties of a JSON Schema object that allows no others. */
function jsonShape(node: unknown): Record<string, unknown> | undefined {
  if (!isPlainObject(node) || node.additionalProperties !== false || !isPlainObject(node.properties)) return undefined;
  return node.properties;
}

/** A layer of settings that no file holds as such (a sweep point), located through `file`. */
export function dataLayer(role: Exclude<LayerRole, 'cli'>, data: Record<string, unknown>, file: LoadedFile): ConfigLayer {
  return {role, data, file};
}

/** The command line as a layer (`--set`, `--runner`, …). */
export function commandLineLayer(settings: CliSetting[]): ConfigLayer {
  return cliLayer(settings);
}

/** Validates `data` (a part of `file`, or all of it) by `schema`: the parsed value, or located errors. */
export function parseLocated<S extends z.ZodType>(schema: S, data: unknown, file: LoadedFile): {value?: z.output<S>; details: Found[]} {
  const parsed = schema.safeParse(data);
  if (parsed.success) return {value: parsed.data, details: []};
  const layers: ConfigLayer[] = [{role: 'campaign', data: isPlainObject(data) ? data : {}, file}];
  return {details: zodIssues(parsed.error, schema, data).map((i) => toDetail(i, layers))};
}

/** Throws the errors the layers' own validation found (E_CONFIG_INVALID, each located), if any. */
export function throwLayerErrors(details: ErrorDetail[], subject: string): void {
  throwIfAny(details as Found[], subject, ['fix the keys shown; `lem config schema` prints every key with its description']);
}

/**
 * Merges validated layers (highest precedence first by role) and resolves the experiment they
 * make: defaults applied, cross-key checks, every setting with its source, the backend's section
 * validated by its plugin.
 */
export async function resolveLayers(input: {
  registry: Registry;
  layers: ConfigLayer[];
  env: NodeJS.ProcessEnv;
  redactor: Redactor;
  subject: string;
  /** The name when no layer gives one. */
  defaultName: string;
}): Promise<ResolvedExperiment> {
  const {layers, redactor, env, subject} = input;
  const merged = mergeLayers(layers, (d) => splitSections(d, input.registry).core);
  const parsed = experimentSettingsSchema.safeParse(merged);
  if (!parsed.success) {
    throwIfAny(zodIssues(parsed.error, experimentSettingsSchema, merged).map((i) => toDetail(i, layers)), subject, [
      'add or fix the keys shown; `lem config schema` prints every key with its description',
    ]);
  }
  const data = parsed.data!;
  const settings = {...data, name: data.name ?? input.defaultName, notifications: await validatedNotifications(input.registry, data.notifications, layers)};
  throwIfAny(openaiIssues(settings, env).map((i) => toDetail(i, layers)), subject, ['fix the keys shown']);
  const sources = settingsFrom(settings, layers, redactor);
  if (settings.backend === OPENAI_BACKEND) {
    // An endpoint that is already running: measured the same way, with no runner and no plugin.
    const key = settings.api_key_env ? env[settings.api_key_env] : undefined;
    if (key) redactor.add(key, `\${${settings.api_key_env}}`);
    return {settings, backend: null, backendConfig: null, sources, redactor};
  }
  const backend = requireBackend(input.registry, settings.backend);
  const id = backend.contribution.id;
  const section = mergeLayers(layers, (d) => (isPlainObject(d[id]) ? {[id]: d[id]} : {}))[id] ?? {};
  const {value: backendConfig, issues} = await standardIssues(backend.contribution.configSchema, section);
  throwIfAny(issues.map((i) => toDetail(i, layers, [id])), `the ${id} section`, ['fix the values shown']);
  throwIfAny(backendRuleIssues(backend, backendConfig, settings, layers), `the ${id} section`, ['fix the values shown']);
  assertTokenizer(backend, backendConfig, settings, layers);
  if (isPlainObject(backendConfig)) sources.push(...settingsFrom(backendConfig, layers, redactor, [id]));
  return {settings, backend, backendConfig, sources, redactor};
}

/**
 * What the backend says its server cannot do with these settings, before anything starts: a
 * `workload.api` outside its APIs, a fixed output length it cannot hold, and its own cross-field
 * rules (`check`, e.g. a parallel size above the GPUs given), each located at the key to change.
 */
function backendRuleIssues(backend: RegisteredBackend, backendConfig: unknown, settings: ExperimentSettings, layers: ConfigLayer[]): Found[] {
  const c = backend.contribution;
  const {api, fixed_output_length: fixed, concurrency} = settings.workload;
  const found: Found[] = [];
  const apis = c.apis ?? ['completions', 'chat'];
  if (!apis.includes(api)) {
    found.push({...toDetail({path: ['workload', 'api'], message: `${c.displayName} serves ${apis.map((a) => `\`${a}\``).join(' and ')} only, not \`${api}\``}, layers), try: [`workload.api: ${apis[0]}`]});
  }
  if (fixed && c.fixedOutputLength === false) {
    found.push({
      ...toDetail({path: ['workload', 'fixed_output_length'], message: `${c.displayName} has no request field that holds the output at max_output_tokens`}, layers),
      try: ['workload.fixed_output_length: false   # outputs may end early; lem reports the tokens each produced'],
    });
  }
  if (c.gpu === 'required' && settings.gpus.length === 0) {
    // Said once, at the key to set; the plugin's own rules would count GPUs against none.
    found.push({...toDetail({path: ['gpus'], message: `${c.displayName} needs a GPU and the experiment gives it none`}, layers), try: ['gpus: [0]   # or a GPU UUID']});
    return found;
  }
  if (!c.check) return found;
  let issues: ConfigIssue[];
  try {
    issues = c.check(backendConfig, {gpus: settings.gpus.length, runner: settings.runner, workload: {api, concurrency, fixedOutputLength: fixed}, model: settings.model});
  } catch (error) {
    issues = [{path: [], message: `the plugin's check failed: ${error instanceof Error ? error.message : String(error)}`}];
  }
  for (const issue of issues) found.push({...toDetail({path: issue.path, message: issue.message}, layers, [c.id]), ...(issue.try ? {try: [issue.try]} : {})});
  return found;
}

/**
 * `dataset.max_input_tokens` cuts prompts with the server's own tokenizer, which a backend offers
 * as `tokenizePath`; its pure `server()` says so with a provisional context, so a dry run or a
 * campaign plan refuses what preflight would (E_DATASET_NO_TOKENIZER, at the key). A `server()`
 * that throws here is left to preflight, which asks again with the real context.
 */
function assertTokenizer(backend: RegisteredBackend, backendConfig: unknown, settings: ExperimentSettings, layers: ConfigLayer[]): void {
  if (!('max_input_tokens' in settings.dataset) || settings.dataset.max_input_tokens === undefined) return;
  const c = backend.contribution;
  let tokenizePath: string | undefined;
  try {
    const gpus = settings.gpus.map((_, i) => `<gpu ${i}>`);
    tokenizePath = c.server(backendConfig, {model: settings.model, port: 0, gpus, workdir: '/', threads: 1, runner: settings.runner === 'docker' ? 'docker' : 'local'}).tokenizePath;
  } catch {
    return;
  }
  assertCanTruncate(tokenizePath !== undefined, c.id, toDetail({path: ['dataset', 'max_input_tokens'], message: ''}, layers).location);
}

export type {ExperimentSettings, ProjectSettings};
