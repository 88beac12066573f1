/**
 * The contract between lem and its plugins.
 *
 * A plugin contributes data and pure functions through the custom oclif hook `lem:register`.
 * Only plain objects, functions and Standard Schema validators cross this boundary: an installed
 * plugin carries its own copy of every library (zod included), so lem never uses `instanceof` on
 * anything a plugin returns.
 */
import type {StandardSchemaV1} from '@standard-schema/spec';
import type {ServerContext, ServerSpec} from './server.js';

export type {StandardSchemaV1} from '@standard-schema/spec';

/**
 * The version of this contract. lem passes it to `lem:register`; a plugin built for another
 * version should return nothing (or throw, which lem reports as a named warning).
 * Bump only on a breaking change to the types below.
 */
export const API_VERSION = 1 as const;
export type ApiVersion = typeof API_VERSION;

/** A JSON Schema document (draft 2020-12), as plain data. */
export type JsonSchema = {[key: string]: unknown};

/** Whether a backend needs an NVIDIA GPU, can use one, or never does. */
export type GpuRequirement = 'required' | 'optional' | 'none';

/** A container image a backend's server runs in. */
export interface ImageSpec {
  /** Image reference used when running, e.g. `lem/backend-vllm:0.1.0`. */
  ref: string;
  /** Absolute path of the Dockerfile that builds `ref` (`lem images build <id>`). */
  dockerfile: string;
  /** Build arguments passed to the Dockerfile. */
  buildArgs?: Record<string, string>;
}

export * from './server.js';

/** The OpenAI-compatible APIs lem can drive. */
export type WorkloadApi = 'completions' | 'chat';

/** What a backend's cross-field check is told about the experiment. */
export interface CheckContext {
  /** Number of GPUs the experiment gives the server. */
  gpus: number;
  /** The runner the experiment asks for (`local` or `docker`). */
  runner: 'local' | 'docker';
  workload: {api: WorkloadApi; concurrency: number; fixedOutputLength: boolean};
  /** The model, exactly as configured. */
  model: string;
}

/** One problem a backend's check found: a key path inside its section and what is wrong. */
export interface ConfigIssue {
  /** Key path inside the backend's section, e.g. `['tensor_parallel_size']`. */
  path: Array<string | number>;
  message: string;
  /** A suggested fix, printed after "Try:". */
  try?: string;
}

/** A backend: how to start one kind of inference server. */
export interface BackendContribution<Config = unknown> {
  kind: 'backend';
  /** Stable id, also the key of this backend's section in experiment files (`vllm:`). */
  id: string;
  /** Human name, e.g. `vLLM`. */
  displayName: string;
  /** Validates this backend's section; its output (defaults applied) is what `server` receives. */
  configSchema: StandardSchemaV1<unknown, Config>;
  /** The same schema as JSON Schema, for `lem config schema` and editors. */
  jsonSchema: JsonSchema;
  gpu: GpuRequirement;
  /** Whether the server can run as a host process (the `local` runner). */
  local: boolean;
  image?: ImageSpec;
  /** The APIs the server offers (default both); lem refuses a `workload.api` outside them before anything starts. */
  apis?: WorkloadApi[];
  /** Whether `requestExtras` can hold every output at `max_tokens` (default true); lem refuses `workload.fixed_output_length` otherwise. */
  fixedOutputLength?: boolean;
  /**
   * Pure cross-field rules of the validated section against the experiment (parallel size ≤ the
   * GPUs given, conflicting options): each issue becomes a located config error naming the key.
   */
  check?(cfg: Config, ctx: CheckContext): ConfigIssue[];
  /** Pure: build the launch description from this backend's validated section. */
  server(cfg: Config, ctx: ServerContext): ServerSpec;
}

/** Kinds of events a notifier can render. */
/** Every event lem announces, in the order a campaign meets them. */
export const LEM_EVENT_TYPES = [
  'campaign:start',
  'campaign:cycle-done',
  'campaign:run-failed',
  'campaign:threshold',
  'campaign:done',
  'campaign:interrupted',
  'experiment:done',
  'experiment:failed',
] as const;
/** An event a notifier's `events` setting can choose. */
export type NotifyEventType = (typeof LEM_EVENT_TYPES)[number];
/** The events above, and `notify:test`: what `lem notify test` sends (to every notifier, whatever its `events`). */
export type LemEventType = NotifyEventType | 'notify:test';

/**
 * The events a notifier gets when its settings do not choose: a campaign's start, its pause at the
 * failure threshold, its end and its interruption. A notifier's settings choose with an `events`
 * list (the convention core reads; every notifier's schema should offer it).
 */
export const DEFAULT_NOTIFY_EVENTS: readonly NotifyEventType[] = ['campaign:start', 'campaign:threshold', 'campaign:done', 'campaign:interrupted'];

/** An event lem announces to notifiers. Plain data; every text is already formatted for people. */
export interface LemEvent {
  type: LemEventType;
  /** ISO 8601 time the event happened. */
  at: string;
  /** One-line human summary, e.g. `Campaign sweep-8b completed: 72 of 72 runs`. */
  title: string;
  /** How it went, for a colour or an icon. */
  level: 'info' | 'success' | 'warning' | 'error';
  /** Labelled figures in display order, e.g. `{name: 'Energy', value: '1.92 MJ'}`. */
  fields: Array<{name: string; value: string}>;
  /** A list to show below the fields (the failed runs): the first items, and how many there are in all. */
  list?: {title: string; items: string[]; total: number};
  /** What to run next, e.g. `lem resume 20261203-…`. */
  hint?: string;
  /** Campaign id and name, and the figures behind the fields, for notifiers that want them. */
  data: Record<string, unknown>;
}

/** An HTTP request a notifier wants sent. lem does the sending, retries and redaction. */
export interface NotificationRequest {
  url: string;
  body: unknown;
  headers?: Record<string, string>;
}

/** A notification target (Slack, Discord, …). */
export interface NotifierContribution<Settings = unknown> {
  kind: 'notifier';
  /** Stable id, also the key under `notifications:` in `.lem-config.yaml`. */
  id: string;
  displayName: string;
  configSchema: StandardSchemaV1<unknown, Settings>;
  jsonSchema: JsonSchema;
  /** Pure: turn an event into one HTTP request. */
  render(event: LemEvent, settings: Settings): NotificationRequest;
  /** Seconds to wait before retrying a failed delivery, or undefined for the default backoff. */
  retryAfterS?(status: number, headers: Record<string, string>, body: string): number | undefined;
}

export type Contribution = BackendContribution<any> | NotifierContribution<any>;

/** Options lem passes to `lem:register`. */
export interface RegisterOptions {
  apiVersion: ApiVersion;
  /** The running lem's version. */
  lemVersion: string;
}

/** Options lem passes to `lem:notify` (for plugins that deliver by themselves). */
export interface NotifyOptions {
  event: LemEvent;
  /** `notifications.<id>` sections, validated, keyed by notifier id. */
  settings: Record<string, unknown>;
}

/** Typings of lem's custom hooks, in the shape oclif's `Hooks` interface expects. */
export interface LemHooks {
  'lem:register': {options: RegisterOptions; return: Contribution[]};
  'lem:notify': {options: NotifyOptions; return: void};
}

/** A `lem:register` hook implementation (`this` is oclif's hook context, unused by the contract). */
export type RegisterHook = (this: unknown, options: RegisterOptions & {config?: unknown; context?: unknown}) => Promise<Contribution[]> | Contribution[];

/**
 * A section's JSON Schema as lem embeds it in its files' schemas: the validator's own export
 * (e.g. `z.toJSONSchema(schema, {io: 'input', target: 'draft-2020-12'})`) without its
 * top-level `$schema`, which only the document that embeds it carries.
 */
export function sectionJsonSchema(exported: object): JsonSchema {
  const {$schema: _ignored, ...schema} = exported as JsonSchema;
  return schema;
}

/** Identity helper that checks a backend against the contract and infers its config type. */
export function defineBackend<Config>(backend: Omit<BackendContribution<Config>, 'kind'> & {kind?: 'backend'}): BackendContribution<Config> {
  return {...backend, kind: 'backend'};
}

/** Identity helper that checks a notifier against the contract and infers its settings type. */
export function defineNotifier<Settings>(
  notifier: Omit<NotifierContribution<Settings>, 'kind'> & {kind?: 'notifier'},
): NotifierContribution<Settings> {
  return {...notifier, kind: 'notifier'};
}

/** Wraps a register function so a plugin's hook file is a one-liner: `export default defineRegisterHook(() => [backend])`. */
export function defineRegisterHook(register: (options: RegisterOptions) => Contribution[] | Promise<Contribution[]>): RegisterHook {
  return async function (options) {
    return register({apiVersion: options.apiVersion, lemVersion: options.lemVersion});
  };
}

export * from './errors.js';
export * from './models.js';
export * from './reported.js';
