import {spawnSync} from 'node:child_process';
import {mkdtempSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';

export const LEM_BIN = fileURLToPath(new URL('../bin/run.js', import.meta.url));

export interface LemRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real `lem` binary in a child process, with oclif's data, config and cache folders in
 * `home` so linked plugins never leak between tests or into the user's own.
 */
export function lem(args: string[], options: {cwd?: string; home?: string; env?: NodeJS.ProcessEnv} = {}): LemRun {
  const home = options.home ?? freshHome();
  const result = spawnSync(process.execPath, [LEM_BIN, ...args], {
    cwd: options.cwd ?? home,
    encoding: 'utf8',
    timeout: 60_000,
    env: {
      ...process.env,
      LEM_DATA_DIR: join(home, 'data'),
      LEM_CONFIG_DIR: join(home, 'config'),
      LEM_CACHE_DIR: join(home, 'cache'),
      NO_COLOR: '1',
      ...options.env,
    },
  });
  return {status: result.status, stdout: result.stdout, stderr: result.stderr};
}

export function freshHome(): string {
  return mkdtempSync(join(tmpdir(), 'lem-cli-'));
}
