/**
 * "lem init sets preferences" is said once per project, on a terminal, while the project has no
 * `.lem-config.yaml`. The projects already told are kept in a small JSON list in lem's data folder.
 */
import {existsSync, mkdirSync, readFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {writeFileAtomic} from '../fs-atomic.js';
import {CONFIG_FILE} from './write-config.js';

export const INIT_HINT = "note: this project has no .lem-config.yaml, so lem runs on its defaults; `lem init` sets your preferences once (runner, gaps, results folder, notifications, …)";

function told(stateFile: string): string[] {
  try {
    const parsed: unknown = JSON.parse(readFileSync(stateFile, 'utf8'));
    return Array.isArray(parsed) ? parsed.filter((p): p is string => typeof p === 'string') : [];
  } catch {
    return []; // none yet, or unreadable: at worst the hint is said again
  }
}

/** True the first time it is asked about a project without a config file; that time is recorded. */
export function initHintDue(dataDir: string, projectRoot: string): boolean {
  if (existsSync(join(projectRoot, CONFIG_FILE))) return false;
  const stateFile = join(dataDir, 'init-hint.json');
  const projects = told(stateFile);
  if (projects.includes(projectRoot)) return false;
  try {
    mkdirSync(dirname(stateFile), {recursive: true});
    writeFileAtomic(stateFile, `${JSON.stringify([...projects, projectRoot], null, 2)}\n`);
  } catch {
    // A read-only data folder: the hint is said each time rather than never.
  }
  return true;
}
