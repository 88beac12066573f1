/**
 * The server an experiment would start, as `--dry-run` shows it: the backend's own command line
 * and image for these settings, from its pure `server()`, before a port, a launch folder or the
 * GPUs' UUIDs exist (placeholders stand for them), so a user sees what will run before it costs
 * anything.
 */
import {availableParallelism} from 'node:os';
import {join} from 'node:path';
import type {ResolvedExperiment} from '../config/resolve.js';
import {resolveModelPath, servedModel} from './preflight.js';

/** Stands for the port lem picks free at launch. */
export const PLANNED_PORT = 0;

export interface PlannedServer {
  backend: string;
  runner: 'local' | 'docker';
  /** The image under the docker runner; null for a host process. */
  image: string | null;
  /** The command line; `<port>` and `<workdir>` are chosen at launch, `<gpu N>` resolved to UUIDs. */
  argv: string[];
  /** The files the backend generates in the launch folder (e.g. an engine's options YAML). */
  files: Array<{path: string; contents: string}>;
}

/** Null for an endpoint (`backend: openai`), which lem does not start. */
export function plannedServer(resolved: ResolvedExperiment, baseDir: string): PlannedServer | null {
  const {backend, settings} = resolved;
  if (!backend) return null;
  // A backend that runs only in its container is shown there (under `local` the run is refused, and says so).
  const runner = backend.contribution.local ? settings.runner : 'docker';
  const workdir = '<workdir>';
  const gpus = settings.gpus.map((g) => (typeof g === 'number' || /^\d+$/.test(String(g)) ? `<gpu ${g}>` : String(g)));
  const spec = backend.contribution.server(resolved.backendConfig, {
    model: resolveModelPath(servedModel(settings.model, resolved.backendConfig), baseDir),
    port: PLANNED_PORT,
    gpus,
    workdir,
    threads: Math.max(1, availableParallelism() - 1),
    runner,
  });
  const argv = spec.argv.map((arg, i) => (arg === String(PLANNED_PORT) && /port/i.test(spec.argv[i - 1] ?? '') ? '<port>' : arg));
  return {
    backend: backend.contribution.id,
    runner,
    image: runner === 'docker' ? (backend.contribution.image?.ref ?? null) : null,
    argv,
    files: (spec.files ?? []).map((f) => ({path: join(workdir, f.path), contents: f.contents})),
  };
}
