import type {Config} from '@oclif/core';
import {buildRegistry, type HookOutcome, type Registry} from '@lem/core';
import {API_VERSION, type Contribution, type RegisterOptions} from '@lem/plugin-kit';

/** A plugin's registration taking longer than this is reported as broken rather than waited on. */
export const REGISTER_TIMEOUT_MS = 5000;

/**
 * Collects every plugin's contributions through the `lem:register` hook, with a timeout and
 * captured errors, so that a broken plugin becomes a named warning instead of a crash.
 */
export async function loadRegistry(config: Config): Promise<Registry> {
  const options: RegisterOptions = {apiVersion: API_VERSION, lemVersion: config.version};
  // oclif's Hooks interface is augmented in ./hooks.d.ts; the cast keeps this call independent of it.
  // oclif's hook timer does not hold the event loop open: a hook awaiting a promise that nothing
  // settles would otherwise end the process (unsettled top-level await) before the timeout fires.
  const keepAlive = setTimeout(() => {}, REGISTER_TIMEOUT_MS + 1000);
  const result = await (config.runHook as (e: string, o: unknown, t: number, c: boolean) => Promise<{
    successes: Array<{plugin: {name: string; version: string}; result: Contribution[]}>;
    failures: Array<{plugin: {name: string; version: string}; error: Error}>;
  }>)('lem:register', options, REGISTER_TIMEOUT_MS, true).finally(() => clearTimeout(keepAlive));
  const outcomes: HookOutcome[] = [
    ...result.successes.map((s) => ({plugin: {name: s.plugin.name, version: s.plugin.version}, result: s.result})),
    ...result.failures.map((f) => ({plugin: {name: f.plugin.name, version: f.plugin.version}, error: f.error})),
  ];
  return buildRegistry(outcomes);
}
