/**
 * Test helpers for the runner: temp project folders, specs for the fake server, and a register of
 * every process a test may have started, so afterEach can kill them even when a test failed.
 * (Under __fixtures__ so the build skips it.)
 */
import {mkdirSync, mkdtempSync, readdirSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import type {ServerSpec} from '@lem/plugin-kit';

export const FAKE_SERVER = fileURLToPath(new URL('./fake-server.mjs', import.meta.url));
export const PARENT = fileURLToPath(new URL('./parent.ts', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../../../../../', import.meta.url));

export interface Sandbox {
  root: string;
  stateDir: string;
  workdir: string;
  /** Every fake server (and grandchild) writes its pid here. */
  pidDir: string;
  /** Extra pids to kill at the end (real servers, parents). */
  track(pid: number | undefined): void;
  /** SIGKILL to every tracked process and its group, then remove the folder. */
  cleanup(): void;
}

export function sandbox(): Sandbox {
  const root = mkdtempSync(join(tmpdir(), 'lem-runner-'));
  const stateDir = join(root, '.lem-state');
  const workdir = join(root, 'work');
  const pidDir = join(root, 'pids');
  mkdirSync(pidDir);
  const tracked = new Set<number>();
  return {
    root,
    stateDir,
    workdir,
    pidDir,
    track: (pid) => {
      if (pid) tracked.add(pid);
    },
    cleanup() {
      let fromFiles: number[] = [];
      try {
        fromFiles = readdirSync(pidDir).map(Number);
      } catch {
        // folder already gone
      }
      for (const pid of [...tracked, ...fromFiles]) killHard(pid);
      rmSync(root, {recursive: true, force: true});
    },
  };
}

export function killHard(pid: number): void {
  if (!Number.isInteger(pid) || pid <= 1) return;
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** A spec that runs the fake server with `args` on `port` (short readiness timeout and grace). */
export function fakeSpec(sb: Sandbox, port: number, args: string[], overrides: Partial<ServerSpec> = {}): ServerSpec {
  return {
    argv: [process.execPath, FAKE_SERVER, '--port', String(port), ...args],
    env: {FAKE_PID_DIR: sb.pidDir},
    port,
    readiness: {healthPath: '/health', probe: 'completion', timeoutS: 3},
    stop: {signal: 'SIGTERM', graceS: 1},
    ...overrides,
  };
}

/** Pids the fake servers of this sandbox wrote. */
export function fakePids(sb: Sandbox): number[] {
  return readdirSync(sb.pidDir).map(Number);
}
