/**
 * Linux process facts from /proc, and the pid-file records that let a later `lem` find servers
 * an earlier one left behind. A pid alone is not an identity (pids are reused), so every record
 * pairs it with the process start time (field 22 of /proc/<pid>/stat, clock ticks since boot).
 */
import {readdirSync, rmSync} from 'node:fs';
import {join} from 'node:path';
import {writeFileAtomic} from '../fs-atomic.js';
import {readProcStat} from '../measure/proc-stat.js';

export {readProcStat, type ProcStat} from '../measure/proc-stat.js';

/** The start time of a live (non-zombie) process, or null. */
export function processStartTime(pid: number): number | null {
  const stat = readProcStat(pid);
  return stat && stat.state !== 'Z' ? stat.startTime : null;
}

/** True when `pid` runs and, if given, started at `startTime` (so it is the same process). */
export function isProcessAlive(pid: number, startTime?: number): boolean {
  const actual = processStartTime(pid);
  return actual !== null && (startTime === undefined || actual === startTime);
}

/** Pids of the live (non-zombie) members of process group `pgid`. */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return members;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (stat && stat.pgid === pgid && stat.state !== 'Z') members.push(stat.pid);
  }
  return members;
}

/** True while process group `pgid` has a live member. */
export function groupAlive(pgid: number): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) return false;
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  // kill(0) also succeeds for zombies (exited, not yet reaped): only /proc tells them apart.
  return groupMembers(pgid).length > 0;
}

/** lem's own process group, which no signal of the runner may ever reach. */
let ownGroup: number | undefined;

/**
 * Sends `signal` to every process of group `pgid`; false when the group is gone. Refuses groups
 * 0 and 1 (kill(-1) would reach every process of the user) and lem's own group.
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  ownGroup ??= readProcStat(process.pid)?.pgid ?? -1;
  if (!Number.isInteger(pgid) || pgid <= 1 || pgid === ownGroup) return false;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

export const sleepMs = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `done` every `intervalMs` until it holds or `timeoutMs` passes; says whether it held. */
export async function waitFor(done: () => boolean, timeoutMs: number, intervalMs = 25): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (done()) return true;
    if (Date.now() >= deadline) return false;
    await sleepMs(Math.min(intervalMs, Math.max(1, deadline - Date.now())));
  }
}

/** What `<stateDir>/servers/<pid>.json` holds about one local server. */
export interface ServerPidRecord {
  pid: number;
  /** Process group of the server and everything it starts (equals `pid`: the server leads it). */
  pgid: number;
  /** Field 22 of /proc/<pid>/stat for the server. */
  startTime: number;
  /** The `lem` process that launched it, and that process's start time. */
  lemPid: number;
  lemStartTime: number;
  argv: string[];
  /** ISO 8601 wall-clock time of the launch. */
  startedAt: string;
}

export const serversDir = (stateDir: string): string => join(stateDir, 'servers');
export const pidFilePath = (stateDir: string, pid: number): string => join(serversDir(stateDir), `${pid}.json`);

/** Writes the record atomically (temp + fsync + rename): a reader never sees half a file. */
export function writePidRecord(stateDir: string, record: ServerPidRecord): string {
  const path = pidFilePath(stateDir, record.pid);
  writeFileAtomic(path, `${JSON.stringify(record, null, 2)}\n`);
  return path;
}

export function removeFileQuietly(path: string): void {
  try {
    rmSync(path, {force: true});
  } catch {
    // a file we cannot remove is reaped by the next lem
  }
}

/** Parses a pid file; null when it is not a complete record (then it names nothing to trust). */
export function parsePidRecord(text: string): ServerPidRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const r = value as Partial<ServerPidRecord>;
  const whole = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n > 0;
  if (!whole(r.pid) || !whole(r.pgid) || r.pgid <= 1 || !whole(r.lemPid) || typeof r.startTime !== 'number' || typeof r.lemStartTime !== 'number') return null;
  return {
    pid: r.pid,
    pgid: r.pgid,
    startTime: r.startTime,
    lemPid: r.lemPid,
    lemStartTime: r.lemStartTime,
    argv: Array.isArray(r.argv) ? r.argv.map(String) : [],
    startedAt: typeof r.startedAt === 'string' ? r.startedAt : '',
  };
}
