/**
 * The real Docker engine, as the CLI's container tests reach it: the `docker` client on the
 * engine of DOCKER_HOST (docker/engine.sh starts one), whether it answers, and the results a run wrote. Under CI=true an
 * engine that does not answer fails the file; elsewhere the file is skipped with the reason.
 */
import {execFileSync} from 'node:child_process';
import {existsSync, readdirSync, readFileSync} from 'node:fs';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';

/** This checkout's root. */
export const REPO = fileURLToPath(new URL('../../../../', import.meta.url)).replace(/\/$/, '');

/** Runs the docker client and gives its trimmed output; throws on a non-zero exit. */
export const docker = (...args: string[]): string => execFileSync('docker', args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']}).trim();

/** Null when the engine answers, else why not (thrown under CI=true). */
export function engineMissing(): string | null {
  try {
    docker('info', '--format', '{{.ServerVersion}}');
    return null;
  } catch (error) {
    const missing = `no Docker engine at ${process.env.DOCKER_HOST ?? 'the default socket'}: ${(error as Error).message.split('\n')[0]}`;
    if (process.env.CI === 'true') throw new Error(`CI: ${missing}`);
    return missing;
  }
}

/** Every result.json under `<cwd>/results`, parsed (none when the folder is absent). */
export function resultsOf<T>(cwd: string): T[] {
  const out: T[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, {withFileTypes: true})) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name === 'result.json') out.push(JSON.parse(readFileSync(join(d, e.name), 'utf8')) as T);
    }
  };
  if (existsSync(join(cwd, 'results'))) walk(join(cwd, 'results'));
  return out;
}
