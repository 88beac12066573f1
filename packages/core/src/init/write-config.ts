/**
 * Writing `.lem-config.yaml` for `lem init`: every preference a user sets once, each at the value
 * given, else the file's current one (`--reconfigure`), else lem's built-in default. The file is
 * edited as a YAML document, so keys it does not ask about and comments are kept; it is validated
 * as lem will read it (located errors, the notifiers' own schemas) before anything is written,
 * then written atomically under a `yaml-language-server` line that points at a JSON Schema of
 * this installation (its plugins' sections included), written beside it.
 */
import {existsSync, mkdirSync, readFileSync, statSync} from 'node:fs';
import {join, resolve} from 'node:path';
import {isMap, parseDocument, type Document} from 'yaml';
import {jsonSchemaFor} from '../config/json-schema.js';
import {resolveProject} from '../config/resolve.js';
import {projectConfigSchema} from '../config/schemas.js';
import {parseYamlText} from '../config/yaml-file.js';
import {configError, isCodedError} from '../errors.js';
import {writeFileAtomic} from '../fs-atomic.js';
import type {Registry} from '../registry.js';
import {answerText, DEFAULT_EVENTS_TEXT, isEnvReference, PREFERENCES, typed, type Answers, type Preference} from './preferences.js';

export const CONFIG_FILE = '.lem-config.yaml';
/** The JSON Schema `lem init` writes for editors, relative to the project root. */
export const SCHEMA_FILE = join('.lem', 'lem-config.schema.json');

export interface InitInput {
  registry: Registry;
  projectRoot: string;
  /** The values given (by flag or answer), by preference key; strings as typed. */
  values: Answers;
  /** Edit an existing file instead of refusing it. */
  reconfigure: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface InitResult {
  path: string;
  schemaPath: string;
  /** Every preference as written, with where its value came from; secrets redacted. */
  written: Array<{key: string; value: unknown; from: 'given' | 'file' | 'default'}>;
  created: boolean;
  /** `${ENV}` references whose variable is not set now: lem needs them set when it runs. */
  unsetEnv: string[];
}

/** What the wizard offers for each preference: the file's value (reconfigure), else the default. */
export interface CurrentAnswers {
  answers: Answers;
  from: Record<string, 'file' | 'default' | 'none'>;
  /** Secrets in the file given literally: not shown; an empty answer keeps them. */
  hidden: string[];
}

const configPath = (root: string) => join(root, CONFIG_FILE);
const pathOf = (p: Preference) => p.key.split('.');

/** The built-in default of a key, from the project schema itself. */
function builtInDefault(defaults: Record<string, unknown>, key: string): unknown {
  return key.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], defaults);
}

function existingDocument(path: string, reconfigure: boolean): Document | null {
  if (!existsSync(path)) return null;
  if (!reconfigure) throw configError('E_CONFIG_EXISTS', `${CONFIG_FILE} exists already in this project; lem init does not overwrite it`, ['lem init --reconfigure   # asks again, with the file\'s values as defaults, and keeps the rest']);
  return parseDocument(readFileSync(path, 'utf8'));
}

/** The answers the wizard starts from; refuses an existing file without `reconfigure`. */
export function currentAnswers(projectRoot: string, reconfigure: boolean): CurrentAnswers {
  const doc = existingDocument(configPath(projectRoot), reconfigure);
  const defaults = projectConfigSchema.parse({}) as Record<string, unknown>;
  const out: CurrentAnswers = {answers: {}, from: {}, hidden: []};
  for (const p of PREFERENCES) {
    const inFile = doc?.hasIn(pathOf(p)) ?? false;
    const value = inFile ? doc!.getIn(pathOf(p)) : p.kind === 'list' ? DEFAULT_EVENTS_TEXT : p.optional ? undefined : builtInDefault(defaults, p.key);
    out.from[p.key] = inFile ? 'file' : value === undefined ? 'none' : 'default';
    if (p.secret && inFile && !isEnvReference(answerText(value))) out.hidden.push(p.key);
    else out.answers[p.key] = answerText(value);
  }
  return out;
}

/** A given webhook that is empty removes that notifier's section; events follow their webhook. */
function notifierOf(p: Preference): string | null {
  return /^notifications\.([^.]+)\.webhook_url$/.exec(p.key)?.[1] ?? null;
}

/** Builds the document: each preference given, else kept from the file, else its default. */
function preferenceValues(doc: Document, fromFile: boolean, values: Answers): InitResult['written'] {
  const written: InitResult['written'] = [];
  const defaults = projectConfigSchema.parse({}) as Record<string, unknown>;
  const removed = new Set<string>();
  for (const p of PREFERENCES) {
    const path = pathOf(p);
    const notifier = notifierOf(p);
    if (notifier && values[p.key]?.trim() === '') {
      if (doc.hasIn(['notifications', notifier])) doc.deleteIn(['notifications', notifier]);
      removed.add(`notifications.${notifier}.`);
    } else if (removed.has(p.key.slice(0, p.key.lastIndexOf('.') + 1))) {
      continue;
    } else if (values[p.key] !== undefined) {
      doc.setIn(path, typed(p, values[p.key]!));
      written.push({key: p.key, value: doc.getIn(path), from: 'given'});
    } else if (fromFile && doc.hasIn(path)) {
      written.push({key: p.key, value: doc.getIn(path), from: 'file'});
    } else if (p.kind === 'list' && doc.hasIn([...path.slice(0, -1), 'webhook_url'])) {
      doc.setIn(path, typed(p, DEFAULT_EVENTS_TEXT));
      written.push({key: p.key, value: doc.getIn(path), from: 'default'});
    } else if (!p.optional) {
      const value = builtInDefault(defaults, p.key);
      doc.setIn(path, value);
      written.push({key: p.key, value, from: 'default'});
    }
  }
  return written;
}

/** Checks lem's schemas cannot make: a results folder that is a file. */
function pathIssues(projectRoot: string, doc: Document): Array<{path: string; message: string}> {
  const dir = doc.getIn(['results_dir']);
  if (typeof dir !== 'string' || dir === '') return [];
  const full = resolve(projectRoot, dir);
  return existsSync(full) && !statSync(full).isDirectory() ? [{path: 'results_dir', message: `${full} is a file, not a folder`}] : [];
}

/** The answer as an error message starts with it: a secret is not repeated. */
const answerShown = (p: Preference, values: Answers) => (p.secret ? '' : `${values[p.key]}: `);

/**
 * Runs the read-back check; an error about a value that was given names its flag (the file is
 * not written, so its lines would point nowhere). Errors about keys kept from the file stand.
 */
async function checked(check: () => Promise<unknown>, values: Answers, extra: Array<{path: string; message: string}>): Promise<void> {
  let error: unknown = null;
  try {
    await check();
  } catch (caught) {
    error = caught;
  }
  if (error !== null && (!isCodedError(error) || error.code !== 'E_CONFIG_INVALID')) throw error;
  const found = [...(error === null ? [] : (error.details ?? [])), ...extra];
  if (found.length === 0) return;
  const within = (path: string, key: string) => path === key || path.startsWith(`${key}.`) || path.startsWith(`${key}[`) || key.startsWith(`${path}.`);
  const given = (path: string) => PREFERENCES.find((p) => values[p.key] !== undefined && within(path, p.key));
  const details = found.map((d) => {
    const p = given(d.path ?? '');
    return p ? {path: `--${p.flag}`, message: `${answerShown(p, values)}${d.message}`} : d;
  });
  const flags = details.filter((d) => d.path?.startsWith('--')).map((d) => d.path!);
  const fileTry = error === null ? [] : error.try;
  throw configError('E_INIT_INVALID', `lem init cannot write these preferences`, [...flags.map((f) => `lem init … ${f} <value>   # ${PREFERENCES.find((p) => `--${p.flag}` === f)!.help}`), ...fileTry.filter(() => flags.length < details.length)], details);
}

const HEADER = (schema: string) => `# yaml-language-server: $schema=${schema}\n# lem's project preferences, written by \`lem init\` (\`lem init --reconfigure\` to change them).\n`;

interface Prepared {
  text: string;
  written: InitResult['written'];
  created: boolean;
  unsetEnv: string[];
}

/** The file's new text, checked as lem will read it; nothing is written. */
async function prepare(input: InitInput): Promise<Prepared> {
  const path = configPath(input.projectRoot);
  const existing = existingDocument(path, input.reconfigure);
  const doc = existing ?? parseDocument('');
  if (!isMap(doc.contents)) doc.contents = doc.createNode({});
  const written = preferenceValues(doc, existing !== null, input.values);
  let text = doc.toString({lineWidth: 0});
  text = text.replace(/^# yaml-language-server: .*\n(# lem's project preferences.*\n)?/, '');
  text = HEADER(`./${SCHEMA_FILE.replace(/\\/g, '/')}`) + (text.trim() === '{}' ? '' : text);
  // Read back as lem will read it: located errors, secrets resolved, notifiers' schemas applied. A
  // variable that is not set yet is checked with a stand-in URL (it is set before a campaign).
  const env = input.env ?? process.env;
  const unsetEnv = [...new Set([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!))].filter((name) => !env[name]);
  const standIns = Object.fromEntries(unsetEnv.map((name) => [name, 'https://unset.invalid/webhook']));
  let redact = (value: unknown) => value;
  await checked(async () => {
    const {redactor} = await resolveProject({registry: input.registry, projectFile: parseYamlText(text, path), env: {...env, ...standIns}});
    redact = (value) => redactor.deep(value);
  }, input.values, pathIssues(input.projectRoot, doc));
  return {text, written: written.map((w) => ({...w, value: redact(w.value)})), created: existing === null, unsetEnv};
}

/**
 * Checks one answer in the context of those given before it (a webhook's events with its URL):
 * the problems lem would report at its flag, or none.
 */
export async function checkAnswer(input: InitInput, key: string): Promise<string[]> {
  const p = PREFERENCES.find((q) => q.key === key)!;
  try {
    await prepare(input);
    return [];
  } catch (error) {
    if (!isCodedError(error) || error.code !== 'E_INIT_INVALID') throw error;
    const prefix = answerShown(p, input.values);
    return (error.details ?? []).filter((d) => d.path === `--${p.flag}`).map((d) => (d.message.startsWith(prefix) ? d.message.slice(prefix.length) : d.message));
  }
}

export async function writeProjectConfig(input: InitInput): Promise<InitResult> {
  const prepared = await prepare(input);
  const schemaPath = join(input.projectRoot, SCHEMA_FILE);
  mkdirSync(join(input.projectRoot, '.lem'), {recursive: true});
  writeFileAtomic(schemaPath, `${JSON.stringify(jsonSchemaFor('project', input.registry), null, 2)}\n`);
  writeFileAtomic(configPath(input.projectRoot), prepared.text);
  return {path: configPath(input.projectRoot), schemaPath, written: prepared.written, created: prepared.created, unsetEnv: prepared.unsetEnv};
}
