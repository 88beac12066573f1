/**
 * Reaps local servers an earlier `lem` left behind (DESIGN §1.4, §4): after a `kill -9` of lem
 * that pdeathsig missed (a server that ignores SIGTERM, no setpriv), or a crash of the machine's
 * session manager. Pid files are the only evidence, and a pid is trusted only together with its
 * start time: a process whose start time differs is someone else's and is never signalled.
 */
import {readdirSync, readFileSync} from 'node:fs';
import {join} from 'node:path';
import {groupAlive, isProcessAlive, parsePidRecord, removeFileQuietly, serversDir, signalGroup, waitFor, type ServerPidRecord} from './proc.js';

/** How long a reaped server gets between SIGTERM and SIGKILL, ms. */
export const REAP_GRACE_MS = 5_000;

export interface ReapOptions {
  /** Between SIGTERM and SIGKILL, ms. Default {@link REAP_GRACE_MS}. */
  graceMs?: number;
}

export interface ReapResult {
  /** Pids of the servers that were still running and were stopped. */
  reaped: number[];
  /** Pid files deleted (reaped servers, servers already gone, unreadable records). */
  removed: number;
}

/** True when the lem that wrote `record` still runs (same pid and same start time). */
const ownerAlive = (record: ServerPidRecord): boolean => isProcessAlive(record.lemPid, record.lemStartTime);

/**
 * For every pid file in `<stateDir>/servers/` whose lem is gone (dead, or its pid now belongs to
 * another process): if the server still runs with the recorded start time, SIGTERM its process
 * group, wait up to `graceMs` (default {@link REAP_GRACE_MS}), then SIGKILL the group; then delete the file. Files of
 * live lem processes are left alone. Servers are reaped in parallel.
 * Also removes unreadable records: they name nothing that may be signalled.
 */
export async function reapStaleServers(stateDir: string, options: ReapOptions = {}): Promise<ReapResult> {
  const graceMs = options.graceMs ?? REAP_GRACE_MS;
  const dir = serversDir(stateDir);
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => /^\d+\.json$/.test(name));
  } catch {
    return {reaped: [], removed: 0};
  }
  const reaped: number[] = [];
  let removed = 0;
  await Promise.all(
    names.map(async (name) => {
      const path = join(dir, name);
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        return; // removed meanwhile (its lem stopped the server, or another lem reaped it)
      }
      const record = parsePidRecord(text);
      if (record && ownerAlive(record)) return;
      if (record && isProcessAlive(record.pid, record.startTime)) {
        const leaderGone = () => !isProcessAlive(record.pid, record.startTime);
        const allGone = () => leaderGone() && !groupAlive(record.pgid);
        signalGroup(record.pgid, 'SIGTERM');
        if (!(await waitFor(allGone, graceMs, 50))) {
          // The group was verified through its leader when SIGTERM went out; while any member
          // lives it holds the group id, so the kernel cannot have handed that id to anyone else.
          signalGroup(record.pgid, 'SIGKILL');
          await waitFor(allGone, REAP_GRACE_MS, 50); // SIGKILL needs no grace; this bounds a stuck process
        }
        reaped.push(record.pid);
      }
      removeFileQuietly(path);
      removed += 1;
    }),
  );
  return {reaped: reaped.sort((a, b) => a - b), removed};
}
