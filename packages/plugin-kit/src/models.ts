/**
 * Where a containerised engine finds the model lem serves. Pure helpers shared by the engine
 * plugins: none of them touches the file system (a plan is made on machines without the model).
 */
import {posix} from 'node:path';
import type {Mount, ServerContext} from './server.js';

/** Whether a model reference names a single GGUF file (the one format several engines read as one file), by name only. */
export function isGgufFile(ref: string): boolean {
  return /\.gguf$/i.test(ref);
}

/** A model as the engine's command line gives it, and the mount that makes it visible when it is a host path. */
export interface ModelPlacement {
  arg: string;
  mount?: Mount;
}

/**
 * A hub id (`org/name`) is passed as is; an absolute host path is mounted read-only at
 * `<dir>/<name>`: a folder itself, a single file (one `isFile` says is a file, e.g. a `.gguf`)
 * through its folder, with the argument naming the file in it.
 */
export function placeModel(ref: string, dir: string, isFile: (path: string) => boolean = () => false): ModelPlacement {
  if (!posix.isAbsolute(ref)) return {arg: ref};
  const path = posix.normalize(ref).replace(/(.)\/+$/, '$1');
  const file = isFile(path);
  const folder = file ? posix.dirname(path) : path;
  const mounted = posix.join(dir, posix.basename(folder) || 'model');
  return {arg: file ? posix.join(mounted, posix.basename(path)) : mounted, mount: {hostPath: folder, containerPath: mounted, readOnly: true}};
}

/**
 * The model to serve. lem hands it resolved in `ctx.model` (a section's `model_path` when it gives
 * one, relative paths made absolute); the section's own value is used only when it is a hub id or
 * an absolute path, so a relative path is never passed unresolved.
 */
export function servedModelRef(modelPath: string | undefined, ctx: Pick<ServerContext, 'model'>): string {
  if (modelPath === undefined || modelPath.startsWith('.')) return ctx.model;
  return modelPath;
}
