/**
 * What a campaign's measurements depend on outside its settings — the model files' bytes, the
 * prompts, lem's and the plugins' versions, the GPUs and their driver — recorded in plan.json so
 * that `lem resume` can refuse to pair cycles measured on different things.
 */
import {createHash} from 'node:crypto';
import stableStringify from 'fast-json-stable-stringify';
import type {ResolvedExperiment} from '../config/resolve.js';
import {loadPromptSets, type DatasetLocations} from '../datasets/index.js';
import {probeNvml, resolveGpus} from '../meters/index.js';
import {hashModel} from '../provenance/index.js';
import {resolveModelPath} from '../experiment/preflight.js';
import {isPlainObject} from '../config/paths.js';
import type {PlanEnvironment} from './types.js';

export interface EnvironmentOptions {
  lemVersion: string;
  plugins: Array<{name: string; version: string}>;
  /** Where model hashes are cached (a 10 GB model is read once). */
  hashCacheDir: string | null;
  datasets: DatasetLocations;
  nvmlLibrary?: string;
}

/** The model files a configuration serves: `model`, and a backend's `*model_path` override. */
export function modelRefs(resolved: ResolvedExperiment, baseDir: string): string[] {
  if (!resolved.backend) return [];
  const refs = [resolveModelPath(resolved.settings.model, baseDir)];
  if (isPlainObject(resolved.backendConfig)) {
    for (const [key, value] of Object.entries(resolved.backendConfig)) if (key.endsWith('model_path') && typeof value === 'string') refs.push(resolveModelPath(value, baseDir));
  }
  return refs;
}

export async function planEnvironment(configurations: ResolvedExperiment[], options: EnvironmentOptions): Promise<PlanEnvironment> {
  const models: Record<string, string | null> = {};
  for (const ref of new Set(configurations.flatMap((r) => modelRefs(r, options.datasets.baseDir)))) {
    const hash = await hashModel(ref, {cacheDir: options.hashCacheDir});
    models[ref] = hash.kind === 'file' || hash.kind === 'folder' ? hash.sha256 : null;
  }
  const datasets: Record<string, string | null> = {};
  for (const r of configurations) {
    const key = stableStringify(r.settings.dataset);
    if (key in datasets) continue;
    const sets = await loadPromptSets(r.settings.dataset, options.datasets);
    const hash = createHash('sha256');
    for (const p of [...sets.measure, ...sets.heldBack]) hash.update(p.text).update('\u0000');
    datasets[key] = hash.digest('hex');
  }
  return {lemVersion: options.lemVersion, plugins: [...options.plugins].sort((a, b) => a.name.localeCompare(b.name)), models, datasets, gpus: gpusOf(configurations, options.nvmlLibrary)};
}

function gpusOf(configurations: ResolvedExperiment[], nvmlLibrary: string | undefined): PlanEnvironment['gpus'] {
  const wanted = [...new Set(configurations.flatMap((r) => r.settings.gpus))];
  if (wanted.length === 0) return {uuids: [], driverVersion: null};
  const probe = probeNvml({libraryPath: nvmlLibrary});
  if (!probe.available) return {uuids: wanted.map(String), driverVersion: null};
  return {uuids: resolveGpus(wanted, probe).sort(), driverVersion: probe.driverVersion};
}

const short = (hash: string | null) => (hash === null ? 'unknown' : hash.slice(0, 12));

/** What changed between two environments, one line each; empty when nothing did. */
export function diffEnvironment(before: PlanEnvironment, after: PlanEnvironment): string[] {
  const changes: string[] = [];
  if (before.lemVersion !== after.lemVersion) changes.push(`lem version ${before.lemVersion} → ${after.lemVersion}`);
  const versions = (list: PlanEnvironment['plugins']) => new Map(list.map((p) => [p.name, p.version]));
  const [was, now] = [versions(before.plugins), versions(after.plugins)];
  for (const name of new Set([...was.keys(), ...now.keys()])) {
    if (was.get(name) !== now.get(name)) changes.push(`plugin ${name} ${was.get(name) ?? '(absent)'} → ${now.get(name) ?? '(absent)'}`);
  }
  for (const ref of Object.keys(before.models)) {
    if (ref in after.models && before.models[ref] !== after.models[ref]) changes.push(`model file ${ref}: sha256 ${short(before.models[ref]!)} → ${short(after.models[ref]!)}`);
  }
  for (const key of Object.keys(before.datasets)) {
    if (key in after.datasets && before.datasets[key] !== after.datasets[key]) changes.push(`dataset ${key}: content hash ${short(before.datasets[key]!)} → ${short(after.datasets[key]!)}`);
  }
  if (before.gpus.uuids.join(',') !== after.gpus.uuids.join(',')) changes.push(`GPUs ${before.gpus.uuids.join(', ') || '(none)'} → ${after.gpus.uuids.join(', ') || '(none)'}`);
  if (before.gpus.driverVersion !== after.gpus.driverVersion) changes.push(`NVIDIA driver ${before.gpus.driverVersion ?? '(none)'} → ${after.gpus.driverVersion ?? '(none)'}`);
  return changes;
}
