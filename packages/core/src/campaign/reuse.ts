/**
 * Which runs reuse a server (`reuse_server`), decided once, when the plan is made (DESIGN §4): a
 * configuration's runs reuse the server their predecessor left running only if, in every cycle,
 * that predecessor is an identical launch — so every run of a configuration is served the same
 * way and its confidence interval never mixes fresh and reused servers. A run keeps its server
 * for the next one exactly when the next one will take it.
 */
import {createHash} from 'node:crypto';
import stableStringify from 'fast-json-stable-stringify';
import type {ResolvedExperiment} from '../config/resolve.js';
import type {PlannedRun} from './types.js';

/** What makes two launches the same server: the backend and its settings, the model, the GPUs, where it runs. Not the workload. */
export function launchKey(r: ResolvedExperiment): string {
  const s = r.settings;
  // Hashed: a backend's settings may hold secrets, and the key is written to plan.json.
  const identity = stableStringify({backend: s.backend, model: s.model, config: r.backendConfig ?? null, gpus: s.gpus, runner: s.runner, docker: s.docker});
  return createHash('sha256').update(identity).digest('hex').slice(0, 16);
}

export interface ReusePlan {
  /** Each configuration's launch key, by name. */
  keys: Map<string, string>;
  /** Configurations whose every run takes its predecessor's server. */
  reusing: Set<string>;
  /** Run keys that leave their server running for the next run. */
  keeping: Set<string>;
}

export function planReuse(runs: Array<Pick<PlannedRun, 'key' | 'configuration'>>, resolved: Map<string, ResolvedExperiment>): ReusePlan {
  const keys = new Map([...resolved].map(([name, r]) => [name, launchKey(r)]));
  const candidates = new Set([...resolved].filter(([, r]) => r.settings.reuse_server && r.backend).map(([name]) => name));
  for (let i = 0; i < runs.length; i++) {
    const run = runs[i]!;
    if (!candidates.has(run.configuration)) continue;
    const before = i > 0 ? runs[i - 1]! : null;
    if (!before || keys.get(before.configuration) !== keys.get(run.configuration)) candidates.delete(run.configuration);
  }
  const keeping = new Set<string>();
  for (let i = 0; i + 1 < runs.length; i++) if (candidates.has(runs[i + 1]!.configuration)) keeping.add(runs[i]!.key);
  return {keys, reusing: candidates, keeping};
}
