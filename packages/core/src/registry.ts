import type {BackendContribution, NotifierContribution} from '@lem/plugin-kit';
import {configError, ErrorCodes} from './errors.js';

/** Which plugin a contribution came from. */
export interface PluginRef {
  name: string;
  version: string;
}

export interface RegisteredBackend {
  contribution: BackendContribution;
  plugin: PluginRef;
}

export interface RegisteredNotifier {
  contribution: NotifierContribution;
  plugin: PluginRef;
}

/** A plugin problem found while registering: reported as a warning naming the plugin. */
export interface RegistryProblem {
  plugin: string;
  code: 'E_PLUGIN_HOOK_FAILED' | 'E_PLUGIN_INVALID_CONTRIBUTION' | 'E_PLUGIN_DUPLICATE_ID';
  message: string;
}

/** The outcome of one plugin's `lem:register` hook, as the CLI received it. */
export type HookOutcome = {plugin: PluginRef; result: unknown} | {plugin: PluginRef; error: unknown};

export interface Registry {
  backends: ReadonlyMap<string, RegisteredBackend>;
  notifiers: ReadonlyMap<string, RegisteredNotifier>;
  /** Ids registered by more than one plugin, with every plugin that claimed them. */
  duplicates: ReadonlyMap<string, PluginRef[]>;
  problems: RegistryProblem[];
}

const ID = /^[a-z][a-z0-9-]*$/;

/** Ids core reserves: top-level experiment keys a backend section must not shadow. */
const RESERVED_IDS = new Set([
  'name', 'description', 'model', 'base_url', 'api_key_env', 'gpus', 'workload', 'warmup', 'measure', 'runner', 'backend',
  'dataset', 'results_dir', 'verbosity', 'docker', 'reuse_server', 'gaps', 'retry', 'failure_threshold', 'notifications', 'openai',
]);

function hasStandardSchema(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const std = (value as {'~standard'?: {version?: unknown; validate?: unknown}})['~standard'];
  return typeof std === 'object' && std !== null && std.version === 1 && typeof std.validate === 'function';
}

/** Checks a contribution's shape by duck typing (a plugin has its own copy of every class). */
function contributionProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'a contribution is not an object';
  const c = value as Record<string, unknown>;
  if (c.kind !== 'backend' && c.kind !== 'notifier') return `unknown kind ${JSON.stringify(c.kind)} (expected "backend" or "notifier")`;
  if (typeof c.id !== 'string' || !ID.test(c.id)) return `${c.kind} id ${JSON.stringify(c.id)} is not lowercase letters, digits and dashes`;
  if (RESERVED_IDS.has(c.id)) return `${c.kind} id "${c.id}" is reserved by lem`;
  if (typeof c.displayName !== 'string' || c.displayName === '') return `${c.kind} "${c.id}" has no displayName`;
  if (!hasStandardSchema(c.configSchema)) return `${c.kind} "${c.id}" has no Standard Schema in configSchema (e.g. a zod 4 schema)`;
  if (typeof c.jsonSchema !== 'object' || c.jsonSchema === null) return `${c.kind} "${c.id}" has no jsonSchema object`;
  if (c.kind === 'backend') {
    if (!['required', 'optional', 'none'].includes(c.gpu as string)) return `backend "${c.id}" has gpu ${JSON.stringify(c.gpu)} (expected required, optional or none)`;
    if (typeof c.local !== 'boolean') return `backend "${c.id}" does not say whether it runs locally (local: boolean)`;
    if (typeof c.server !== 'function') return `backend "${c.id}" has no server() function`;
    if (c.check !== undefined && typeof c.check !== 'function') return `backend "${c.id}" has a check that is not a function`;
    if (c.apis !== undefined && !(Array.isArray(c.apis) && c.apis.length > 0 && c.apis.every((a) => a === 'completions' || a === 'chat'))) {
      return `backend "${c.id}" has apis ${JSON.stringify(c.apis)} (expected a non-empty list of "completions" and "chat")`;
    }
  } else if (typeof c.render !== 'function') {
    return `notifier "${c.id}" has no render() function`;
  }
  return undefined;
}

function describeError(error: unknown): string {
  if (error instanceof Error) return error.message.split('\n')[0] ?? error.name;
  return String(error);
}

/**
 * Builds the registry from every plugin's `lem:register` outcome. Never throws: a hook that threw
 * or returned something malformed becomes a problem naming its plugin; an id claimed twice keeps
 * both claims so that selecting it is an error rather than a silent pick.
 */
export function buildRegistry(outcomes: HookOutcome[]): Registry {
  const backends = new Map<string, RegisteredBackend>();
  const notifiers = new Map<string, RegisteredNotifier>();
  const claims = new Map<string, PluginRef[]>();
  const problems: RegistryProblem[] = [];

  for (const outcome of outcomes) {
    const {plugin} = outcome;
    if ('error' in outcome) {
      problems.push({plugin: plugin.name, code: 'E_PLUGIN_HOOK_FAILED', message: `plugin ${plugin.name}@${plugin.version} failed to register: ${describeError(outcome.error)}`});
      continue;
    }
    if (outcome.result === undefined || outcome.result === null) continue;
    if (!Array.isArray(outcome.result)) {
      problems.push({plugin: plugin.name, code: 'E_PLUGIN_INVALID_CONTRIBUTION', message: `plugin ${plugin.name}@${plugin.version} returned ${typeof outcome.result} from lem:register, not an array`});
      continue;
    }
    for (const item of outcome.result) {
      const problem = contributionProblem(item);
      if (problem) {
        problems.push({plugin: plugin.name, code: 'E_PLUGIN_INVALID_CONTRIBUTION', message: `plugin ${plugin.name}@${plugin.version}: ${problem}`});
        continue;
      }
      const c = item as BackendContribution | NotifierContribution;
      const key = `${c.kind}:${c.id}`;
      const claimants = claims.get(key) ?? [];
      claimants.push(plugin);
      claims.set(key, claimants);
      if (claimants.length > 1) {
        problems.push({
          plugin: plugin.name,
          code: 'E_PLUGIN_DUPLICATE_ID',
          message: `${c.kind} id "${c.id}" is registered by ${claimants.map((p) => p.name).join(' and ')}; selecting it is an error until one is uninstalled`,
        });
        continue;
      }
      if (c.kind === 'backend') backends.set(c.id, {contribution: c, plugin});
      else notifiers.set(c.id, {contribution: c, plugin});
    }
  }
  const duplicates = new Map<string, PluginRef[]>();
  for (const [key, refs] of claims) if (refs.length > 1) duplicates.set(key, refs);
  return {backends, notifiers, duplicates, problems};
}

/** The backend with this id, or a coded error that says how to get it. */
export function requireBackend(registry: Registry, id: string): RegisteredBackend {
  const dup = registry.duplicates.get(`backend:${id}`);
  if (dup) {
    throw configError(
      ErrorCodes.backendAmbiguous,
      `backend "${id}" is registered by more than one plugin: ${dup.map((p) => `${p.name}@${p.version}`).join(', ')}`,
      dup.slice(1).map((p) => `lem plugins uninstall ${p.name}`),
    );
  }
  const found = registry.backends.get(id);
  if (!found) {
    const known = [...registry.backends.keys()].sort();
    throw configError(ErrorCodes.backendNotFound, `backend "${id}" is not installed${known.length ? ` (installed: ${known.join(', ')})` : ''}`, [
      `lem plugins install @lem/backend-${id}`,
      'lem backends   # lists the installed backends',
    ]);
  }
  return found;
}

export function requireNotifier(registry: Registry, id: string): RegisteredNotifier {
  const found = registry.notifiers.get(id);
  if (!found) {
    const known = [...registry.notifiers.keys()].sort();
    throw configError(ErrorCodes.notifierNotFound, `notifier "${id}" is not installed${known.length ? ` (installed: ${known.join(', ')})` : ''}`, [
      `lem plugins install @lem/notify-${id}`,
    ]);
  }
  return found;
}
