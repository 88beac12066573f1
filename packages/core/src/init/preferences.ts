/**
 * The preferences `lem init` sets, once for all of them: the wizard asks them in this order, and
 * `--non-interactive` has a flag for each. Each answer is text as typed (`typed` makes it the
 * file's value); whether it is valid is decided by the project schema and the notifiers' own
 * schemas, when the file is checked as lem will read it (write-config.ts).
 */
import {DEFAULT_NOTIFY_EVENTS, LEM_EVENT_TYPES} from '@lem/plugin-kit';

/** Answers given so far, by preference key, as typed. */
export type Answers = Record<string, string>;

/** A preference `lem init` sets: its key in the file, its flag, and a one-line help. */
export interface Preference {
  key: string;
  flag: string;
  help: string;
  kind: 'enum' | 'number' | 'integer' | 'boolean' | 'string' | 'url' | 'list';
  choices?: readonly string[];
  /** Written only when given or already in the file: a webhook has no default. */
  optional?: boolean;
  /** A secret whose literal value is never shown (a webhook URL not given as `${ENV}`). */
  secret?: boolean;
  /** The wizard asks it only when this holds of the answers so far (it is kept otherwise). */
  askedIf?: (answers: Answers) => boolean;
}

const docker = (a: Answers) => a.runner === 'docker';
const persistent = (a: Answers) => docker(a) && a['docker.strategy'] === 'persistent';
const hasWebhook = (id: string) => (a: Answers) => Boolean(a[`notifications.${id}.webhook_url`]);

function notifier(id: string, name: string, where: string): Preference[] {
  return [
    {key: `notifications.${id}.webhook_url`, flag: `${id}-webhook`, help: `${name} ${where}, best as \${ENV_VAR} (a secret); empty for none`, kind: 'url', optional: true, secret: true},
    {key: `notifications.${id}.events`, flag: `${id}-events`, help: `Which events go to ${name}, comma-separated (${LEM_EVENT_TYPES.join(', ')})`, kind: 'list', choices: LEM_EVENT_TYPES, optional: true, askedIf: hasWebhook(id)},
  ];
}

export const PREFERENCES: readonly Preference[] = [
  {key: 'runner', flag: 'runner', help: 'Where servers run: host processes (local) or containers (docker)', kind: 'enum', choices: ['local', 'docker']},
  {key: 'backend', flag: 'backend', help: 'The backend an experiment file that names none uses', kind: 'string'},
  {key: 'gaps.between_experiments_s', flag: 'gap-between-experiments', help: 'Seconds of cool-down between two runs of a campaign', kind: 'number'},
  {key: 'gaps.between_cycles_s', flag: 'gap-between-cycles', help: 'Seconds of cool-down before each new cycle', kind: 'number'},
  {key: 'results_dir', flag: 'results-dir', help: 'Where results are written, relative to the project root', kind: 'string'},
  {key: 'dataset.kind', flag: 'dataset', help: "The default prompts: lem's built-in set, or the AI Energy Score set (fetched once)", kind: 'enum', choices: ['builtin', 'aienergyscore']},
  {key: 'verbosity', flag: 'verbosity', help: 'How much lem prints', kind: 'enum', choices: ['quiet', 'normal', 'verbose']},
  {key: 'docker.strategy', flag: 'container-strategy', help: 'A container per experiment (ephemeral) or one kept per backend (persistent)', kind: 'enum', choices: ['ephemeral', 'persistent'], askedIf: docker},
  {key: 'docker.startup', flag: 'container-startup', help: 'Persistent containers: start all at once (eager) or on first use (lazy)', kind: 'enum', choices: ['eager', 'lazy'], askedIf: persistent},
  {key: 'docker.warmup_delay_s', flag: 'container-warmup-delay', help: 'Seconds to wait after a container starts, before its server is asked', kind: 'number', askedIf: docker},
  {key: 'docker.auto_teardown', flag: 'container-teardown', help: 'Remove persistent containers when a campaign ends', kind: 'boolean', askedIf: persistent},
  {key: 'retry.max_attempts', flag: 'retry-attempts', help: 'Attempts per run of a campaign, the first included', kind: 'integer'},
  {key: 'failure_threshold.ratio', flag: 'failure-threshold', help: 'Pause a campaign when this share of finished runs has failed (0–1)', kind: 'number'},
  ...notifier('slack', 'Slack', 'incoming webhook'),
  ...notifier('discord', 'Discord', 'channel webhook'),
];

/** The events written with a webhook when none are given: the notifiers' own default. */
export const DEFAULT_EVENTS_TEXT = DEFAULT_NOTIFY_EVENTS.join(',');

export const isEnvReference = (text: string): boolean => /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(text.trim());

/** A typed answer as the file holds it; a `${ENV}` reference stays text. */
export function typed(p: Preference, text: string): unknown {
  if (isEnvReference(text)) return text.trim();
  if (p.kind === 'number' || p.kind === 'integer') return text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
  if (p.kind === 'boolean') return /^(true|yes|on|1)$/i.test(text) ? true : /^(false|no|off|0)$/i.test(text) ? false : text;
  if (p.kind === 'list') return text.split(',').map((s) => s.trim()).filter(Boolean);
  return text.trim();
}

/** A file value as an answer's text (the inverse of `typed`). */
export function answerText(value: unknown): string {
  if (Array.isArray(value)) return value.map(String).join(',');
  return value === undefined || value === null ? '' : String(value);
}
