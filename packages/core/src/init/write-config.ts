/**
 * Writing `.lem-config.yaml` for `lem init`: every preference a user sets once, each at the value
 * given, else the file's current one (`--reconfigure`), else lem's built-in default. The file is
 * edited as a YAML document, so keys it does not ask about and comments are kept; it is validated
 * as lem will read it (located errors, the notifiers' own schemas) before anything is written,
 * then written atomically under a `yaml-language-server` line that points at a JSON Schema of
 * this installation (its plugins' sections included), written beside it.
 */
import {existsSync, mkdirSync, readFileSync} from 'node:fs';
import {join} from 'node:path';
import {isMap, parseDocument, type Document} from 'yaml';
import {jsonSchemaFor} from '../config/json-schema.js';
import {resolveProject} from '../config/resolve.js';
import {projectConfigSchema} from '../config/schemas.js';
import {parseYamlText} from '../config/yaml-file.js';
import {configError, isCodedError} from '../errors.js';
import {writeFileAtomic} from '../fs-atomic.js';
import type {Registry} from '../registry.js';

export const CONFIG_FILE = '.lem-config.yaml';
/** The JSON Schema `lem init` writes for editors, relative to the project root. */
export const SCHEMA_FILE = join('.lem', 'lem-config.schema.json');

/** A preference `lem init` sets: its key in the file, its flag, and a one-line help. */
export interface Preference {
  key: string;
  flag: string;
  help: string;
  kind: 'enum' | 'number' | 'integer' | 'boolean' | 'string' | 'url';
  choices?: readonly string[];
}

export const PREFERENCES: readonly Preference[] = [
  {key: 'runner', flag: 'runner', help: 'Where servers run: host processes (local) or containers (docker)', kind: 'enum', choices: ['local', 'docker']},
  {key: 'backend', flag: 'backend', help: 'The backend an experiment file that names none uses', kind: 'string'},
  {key: 'gaps.between_experiments_s', flag: 'gap-between-experiments', help: 'Seconds of cool-down between two runs of a campaign', kind: 'number'},
  {key: 'gaps.between_cycles_s', flag: 'gap-between-cycles', help: 'Seconds of cool-down before each new cycle', kind: 'number'},
  {key: 'results_dir', flag: 'results-dir', help: 'Where results are written, relative to the project root', kind: 'string'},
  {key: 'dataset.kind', flag: 'dataset', help: "The default prompts: lem's built-in set, or the AI Energy Score set (fetched once)", kind: 'enum', choices: ['builtin', 'aienergyscore']},
  {key: 'verbosity', flag: 'verbosity', help: 'How much lem prints', kind: 'enum', choices: ['quiet', 'normal', 'verbose']},
  {key: 'docker.strategy', flag: 'container-strategy', help: 'A container per experiment (ephemeral) or one kept per backend (persistent)', kind: 'enum', choices: ['ephemeral', 'persistent']},
  {key: 'docker.startup', flag: 'container-startup', help: 'Persistent containers: start all at once (eager) or on first use (lazy)', kind: 'enum', choices: ['eager', 'lazy']},
  {key: 'docker.warmup_delay_s', flag: 'container-warmup-delay', help: 'Seconds to wait after a container starts, before its server is asked', kind: 'number'},
  {key: 'docker.auto_teardown', flag: 'container-teardown', help: 'Remove persistent containers when a campaign ends', kind: 'boolean'},
  {key: 'retry.max_attempts', flag: 'retry-attempts', help: 'Attempts per run of a campaign, the first included', kind: 'integer'},
  {key: 'failure_threshold.ratio', flag: 'failure-threshold', help: 'Pause a campaign when this share of finished runs has failed (0–1)', kind: 'number'},
  {key: 'notifications.slack.webhook_url', flag: 'slack-webhook', help: 'Slack incoming webhook, best as ${ENV_VAR} (a secret)', kind: 'url'},
  {key: 'notifications.discord.webhook_url', flag: 'discord-webhook', help: 'Discord channel webhook, best as ${ENV_VAR} (a secret)', kind: 'url'},
];

/** Notification preferences are written only when given: a default webhook does not exist. */
const OPTIONAL = new Set(['notifications.slack.webhook_url', 'notifications.discord.webhook_url']);

export interface InitInput {
  registry: Registry;
  projectRoot: string;
  /** The values given (by flag or answer), by preference key; strings as typed. */
  values: Record<string, string>;
  /** Edit an existing file instead of refusing it. */
  reconfigure: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface InitResult {
  path: string;
  schemaPath: string;
  /** Every preference as written, with where its value came from. */
  written: Array<{key: string; value: unknown; from: 'given' | 'file' | 'default'}>;
  created: boolean;
  /** `${ENV}` references whose variable is not set now: lem needs them set when it runs. */
  unsetEnv: string[];
}

/** A typed answer as the file holds it; a `${ENV}` reference stays text. */
function typed(p: Preference, text: string): unknown {
  if (/^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(text)) return text;
  if (p.kind === 'number' || p.kind === 'integer') return text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
  if (p.kind === 'boolean') return /^(true|yes|on|1)$/i.test(text) ? true : /^(false|no|off|0)$/i.test(text) ? false : text;
  return text;
}

/** The built-in default of a key, from the project schema itself. */
function builtInDefault(defaults: Record<string, unknown>, key: string): unknown {
  return key.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], defaults);
}

function existingDocument(path: string, reconfigure: boolean): Document | null {
  if (!existsSync(path)) return null;
  if (!reconfigure) throw configError('E_CONFIG_EXISTS', `${CONFIG_FILE} exists already in this project; lem init does not overwrite it`, ['lem init --reconfigure   # asks again, with the file\'s values as defaults, and keeps the rest']);
  return parseDocument(readFileSync(path, 'utf8'));
}

/** Builds the document: each preference given, else kept from the file, else its default. */
function preferenceValues(doc: Document, fromFile: boolean, values: Record<string, string>): InitResult['written'] {
  const written: InitResult['written'] = [];
  const defaults = projectConfigSchema.parse({}) as Record<string, unknown>;
  for (const p of PREFERENCES) {
    const path = p.key.split('.');
    if (values[p.key] !== undefined) {
      doc.setIn(path, typed(p, values[p.key]!));
      written.push({key: p.key, value: doc.getIn(path), from: 'given'});
    } else if (fromFile && doc.hasIn(path)) {
      written.push({key: p.key, value: doc.getIn(path), from: 'file'});
    } else if (!OPTIONAL.has(p.key)) {
      const value = builtInDefault(defaults, p.key);
      doc.setIn(path, value);
      written.push({key: p.key, value, from: 'default'});
    }
  }
  return written;
}

/**
 * Runs the read-back check; an error about a value that was given names its flag (the file is
 * not written, so its lines would point nowhere). Errors about keys kept from the file stand.
 */
async function checked(check: () => Promise<unknown>, values: Record<string, string>): Promise<void> {
  try {
    await check();
  } catch (error) {
    if (!isCodedError(error) || error.code !== 'E_CONFIG_INVALID') throw error;
    const given = (path: string) => PREFERENCES.find((p) => values[p.key] !== undefined && (path === p.key || path.startsWith(`${p.key}.`) || p.key.startsWith(`${path}.`)));
    const details = (error.details ?? []).map((d) => {
      const p = given(d.path ?? '');
      return p ? {path: `--${p.flag}`, message: `${values[p.key]}: ${d.message}`} : d;
    });
    const flags = details.filter((d) => d.path?.startsWith('--')).map((d) => d.path!);
    throw configError('E_INIT_INVALID', `lem init cannot write these preferences`, [...flags.map((f) => `lem init … ${f} <value>   # ${PREFERENCES.find((p) => `--${p.flag}` === f)!.help}`), ...error.try.filter(() => flags.length < details.length)], details);
  }
}

const HEADER = (schema: string) => `# yaml-language-server: $schema=${schema}\n# lem's project preferences, written by \`lem init\` (\`lem init --reconfigure\` to change them).\n`;

export async function writeProjectConfig(input: InitInput): Promise<InitResult> {
  const path = join(input.projectRoot, CONFIG_FILE);
  const existing = existingDocument(path, input.reconfigure);
  const doc = existing ?? parseDocument('');
  if (!isMap(doc.contents)) doc.contents = doc.createNode({});
  const written = preferenceValues(doc, existing !== null, input.values);
  const schemaRef = `./${SCHEMA_FILE.replace(/\\/g, '/')}`;
  let text = doc.toString({lineWidth: 0});
  text = text.replace(/^# yaml-language-server: .*\n(# lem's project preferences.*\n)?/, '');
  text = HEADER(schemaRef) + (text.trim() === '{}' ? '' : text);
  // Read back as lem will read it: located errors, secrets resolved, notifiers' schemas applied. A
  // variable that is not set yet is checked with a stand-in URL (it is set before a campaign).
  const env = input.env ?? process.env;
  const unsetEnv = [...new Set([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!))].filter((name) => !env[name]);
  const standIns = Object.fromEntries(unsetEnv.map((name) => [name, 'https://unset.invalid/webhook']));
  await checked(() => resolveProject({registry: input.registry, projectFile: parseYamlText(text, path), env: {...env, ...standIns}}), input.values);
  const schemaPath = join(input.projectRoot, SCHEMA_FILE);
  mkdirSync(join(input.projectRoot, '.lem'), {recursive: true});
  writeFileAtomic(schemaPath, `${JSON.stringify(jsonSchemaFor('project', input.registry), null, 2)}\n`);
  writeFileAtomic(path, text);
  return {path, schemaPath, written, created: existing === null, unsetEnv};
}
