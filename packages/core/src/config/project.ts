import {existsSync, statSync} from 'node:fs';
import {dirname, join, resolve} from 'node:path';
import {loadYamlFile, type LoadedFile} from './yaml-file.js';

export const PROJECT_CONFIG_FILE = '.lem-config.yaml';
export const STATE_DIR = '.lem-state';

export interface ProjectRoot {
  /** Absolute path of the project root. */
  root: string;
  /** How it was found. */
  reason: 'flag' | 'env' | 'config-file' | 'state-dir' | 'cwd';
  /** Absolute path of `.lem-config.yaml`, when it exists. */
  configFile?: string;
}

/**
 * The project root: `--project-root`, else `LEM_PROJECT_ROOT`, else the nearest ancestor of the
 * working directory holding `.lem-config.yaml` or `.lem-state/`, else the working directory.
 * `.lem-state/` and `results/` hang from it.
 */
export function findProjectRoot(options: {cwd?: string; flag?: string; env?: NodeJS.ProcessEnv} = {}): ProjectRoot {
  const cwd = resolve(options.cwd ?? process.cwd());
  const env = options.env ?? process.env;
  const withConfig = (root: string, reason: ProjectRoot['reason']): ProjectRoot => {
    const file = join(root, PROJECT_CONFIG_FILE);
    return existsSync(file) ? {root, reason, configFile: file} : {root, reason};
  };
  if (options.flag) return withConfig(resolve(cwd, options.flag), 'flag');
  if (env.LEM_PROJECT_ROOT) return withConfig(resolve(cwd, env.LEM_PROJECT_ROOT), 'env');
  for (let dir = cwd; ; dir = dirname(dir)) {
    if (existsSync(join(dir, PROJECT_CONFIG_FILE))) return {root: dir, reason: 'config-file', configFile: join(dir, PROJECT_CONFIG_FILE)};
    const state = join(dir, STATE_DIR);
    if (existsSync(state) && statSync(state).isDirectory()) return {root: dir, reason: 'state-dir'};
    if (dirname(dir) === dir) break;
  }
  return {root: cwd, reason: 'cwd'};
}

/** Loads `.lem-config.yaml` of the project, if it has one. */
export function loadProjectConfig(project: ProjectRoot): LoadedFile | undefined {
  return project.configFile ? loadYamlFile(project.configFile, {kind: 'project'}) : undefined;
}
