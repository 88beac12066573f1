/**
 * `/proc/<pid>/stat`, parsed in one place for every reader (the CPU estimate, the NVML meter's
 * foreign-process check, the runner's pid records, the endpoint lookup).
 */
import {readFileSync} from 'node:fs';
import {join} from 'node:path';

export const DEFAULT_PROC_ROOT = '/proc';

/** The fields lem uses; CPU times and the start time in clock ticks (USER_HZ). */
export interface ProcStat {
  pid: number;
  /** One letter: R, S, D, Z (zombie), T, … */
  state: string;
  ppid: number;
  /** Process group id. */
  pgid: number;
  session: number;
  /** utime + stime: the process's own CPU time, every thread included. */
  ownTicks: number;
  /** cutime + cstime: the CPU time of children it has waited for. */
  childTicks: number;
  /** Clock ticks since boot at which the process started. */
  startTime: number;
}

/**
 * Parses one `/proc/<pid>/stat` line, or null when it is not one. The command name (field 2) is
 * in parentheses and may itself hold spaces and parentheses, so fields are counted from the last `)`.
 */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const rest = text.slice(close + 2).trim().split(/\s+/);
  // rest[0] is field 3 (state): field n is rest[n - 3].
  const field = (n: number): number => Number(rest[n - 3]);
  const numbers = {pid, ppid: field(4), pgid: field(5), session: field(6), ownTicks: field(14) + field(15), childTicks: field(16) + field(17), startTime: field(22)};
  if (!Object.values(numbers).every(Number.isFinite) || !rest[0]) return null;
  return {...numbers, state: rest[0]};
}

/** Reads and parses `<procRoot>/<pid>/stat`; null when there is no such process (or it is unreadable). */
export function readProcStat(pid: number, procRoot = DEFAULT_PROC_ROOT): ProcStat | null {
  try {
    return parseProcStat(readFileSync(join(procRoot, String(pid), 'stat'), 'utf8'));
  } catch {
    return null;
  }
}
