/**
 * Per-device advisory locks, so two lem processes never measure the same device at once (device
 * energy is device-wide: a second workload on the same GPU or CPU corrupts both measurements).
 *
 * One file per device in `lockDir`, named after the device (`cpu.lock`, `GPU-<uuid>.lock`), holding
 * {@link DeviceLockRecord}. The file appears with its whole content at once (written to a temp
 * file, then `link(2)`ed into place, which fails with EEXIST like `open(O_CREAT|O_EXCL)`), so a
 * reader never sees an empty lock.
 *
 * A lock whose owner is dead — its pid gone, or reused by a process with another start time — is
 * stale and is taken over: rename it to a name unique to the taker (only one rename of a name can
 * succeed), check by inode and content that what was moved is the stale file that was judged (not a fresh lock
 * another taker created meanwhile — that one is linked back), delete it, then create as usual.
 * Creation is exclusive, so of two takers at most one wins. Known limit: the link-back needs the
 * name to still be free; a third process creating in that microsecond window would leave two
 * holders (three-way races on a stale lock only).
 *
 * Devices are locked in sorted order, so two lem processes wanting overlapping sets cannot
 * deadlock while waiting.
 */
import {randomBytes} from 'node:crypto';
import {closeSync, existsSync, fstatSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync} from 'node:fs';
import {hostname} from 'node:os';
import {join} from 'node:path';
import {runError, type RunError} from '../errors.js';
import {isProcessAlive, processStartTime} from '../runner/proc.js';
import {realWaitClock, type WaitClock} from './cooldown.js';

export const DeviceLockErrorCodes = {
  /** Another live lem holds a requested device (after waiting `waitS`, if asked to wait). */
  busy: 'E_DEVICE_BUSY',
  /** The lock folder cannot be written (permissions, read-only file system). */
  io: 'E_DEVICE_LOCK_IO',
  interrupted: 'E_INTERRUPTED',
} as const;

/** Who holds a lock: a pid and that process's start time (pids are reused; the pair is not). */
export interface DeviceLockOwner {
  pid: number;
  /** Field 22 of /proc/<pid>/stat; null where unknown (then liveness is by pid alone). */
  startTime: number | null;
}

/** The content of a lock file. */
export interface DeviceLockRecord extends DeviceLockOwner {
  /** ISO 8601 wall-clock time the lock was taken. */
  acquiredAt: string;
  /** Every device this acquisition locked (the whole set, in each of its files). */
  devices: string[];
  /** Unique per acquisition: release removes only a file carrying its own token. */
  token: string;
  hostname: string;
}

export interface AcquireDeviceLocksOptions {
  /** Usually `<stateDir>/locks`; created when missing. */
  lockDir: string;
  /** Default: this process. */
  owner?: DeviceLockOwner;
  /** Seconds to wait for busy devices; 0 (default) fails at once with E_DEVICE_BUSY. */
  waitS?: number;
  /** Between attempts while waiting; default 250. */
  pollMs?: number;
  /** Aborting while waiting fails with E_INTERRUPTED (category `interrupted`). */
  signal?: AbortSignal;
  /** Default: /proc start-time check (see {@link isLockOwnerAlive}). */
  isAlive?: (pid: number, startTime: number | null) => boolean;
  clock?: WaitClock;
  /** Test seam: called after a lock was judged stale, before taking it over. */
  beforeTakeover?: (device: string, stale: DeviceLockRecord | null) => void | Promise<void>;
}

export interface DeviceLocks {
  /** The devices held, sorted and de-duplicated. */
  devices: string[];
  /** The lock files, in the order of `devices`. */
  files: string[];
  /** Stale locks this acquisition took over (for a warning: "took over the lock of dead pid N"). */
  tookOver: Array<{device: string; from: DeviceLockRecord | null}>;
  waitedS: number;
  /** Removes this acquisition's lock files (only files still carrying its token). Idempotent. */
  release(): void;
}

/** Lock files older than this whose content cannot be parsed are stale (a crash mid-write, junk). */
const UNPARSABLE_GRACE_MS = 5_000;

/** Tokens of the locks this process holds now: a lock of this very process that is not among them is a leftover. */
const liveTokens = new Set<string>();

/** The lock file of a device; characters unsafe in a file name become `_` (a collision only over-locks). */
export function deviceLockPath(lockDir: string, device: string): string {
  return join(lockDir, `${device.replace(/[^A-Za-z0-9._-]/g, '_')}.lock`);
}

/** Liveness by pid and start time from /proc; without /proc (not Linux) by `kill(pid, 0)`. */
export function isLockOwnerAlive(pid: number, startTime: number | null): boolean {
  if (startTime !== null && existsSync('/proc/self/stat')) return isProcessAlive(pid, startTime);
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Locks every device of `devices` (GPU UUIDs, or `cpu`) for this lem run.
 *
 * Errors: `E_DEVICE_BUSY` when a device stays held by a live lem — a {@link RunError} of category
 * `resource`, so exit code 1: nothing is wrong with the input (exit 2 would say so); the machine
 * is busy, and the same command succeeds later. `E_INTERRUPTED` when `signal` aborts a wait;
 * `E_DEVICE_LOCK_IO` when the lock folder cannot be written. On any error nothing stays locked.
 */
export async function acquireDeviceLocks(devices: string[], options: AcquireDeviceLocksOptions): Promise<DeviceLocks> {
  const list = [...new Set(devices)].sort();
  const owner = options.owner ?? {pid: process.pid, startTime: processStartTime(process.pid)};
  const isAlive = options.isAlive ?? isLockOwnerAlive;
  const clock = options.clock ?? realWaitClock;
  const waitMs = Math.max(0, options.waitS ?? 0) * 1_000;
  const pollMs = Math.max(1, options.pollMs ?? 250);
  const started = clock.now();
  const record: DeviceLockRecord = {
    pid: owner.pid,
    startTime: owner.startTime,
    acquiredAt: new Date().toISOString(),
    devices: list,
    token: `${owner.pid}-${randomBytes(8).toString('hex')}`,
    hostname: hostname(),
  };
  const content = `${JSON.stringify(record, null, 2)}\n`;
  const held: Array<{device: string; path: string; ino: number}> = [];
  const tookOver: DeviceLocks['tookOver'] = [];

  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    liveTokens.delete(record.token);
    for (const lock of [...held].reverse()) removeIfOurs(lock.path, lock.ino, record.token);
  };

  try {
    mkdirSync(options.lockDir, {recursive: true});
  } catch (error) {
    throw ioError(options.lockDir, error);
  }
  liveTokens.add(record.token);
  try {
    for (const device of list) {
      const path = deviceLockPath(options.lockDir, device);
      let pendingTakeover: DeviceLockRecord | null | undefined;
      for (let attempt = 0; ; attempt++) {
        const ino = createExclusive(path, content, options.lockDir);
        if (ino !== null) {
          held.push({device, path, ino});
          if (pendingTakeover !== undefined) tookOver.push({device, from: pendingTakeover});
          break;
        }
        const current = readLock(path);
        if (current === null) continue; // removed meanwhile: create again
        const stale = isStale(current, owner, isAlive);
        if (stale && attempt < 50) {
          await options.beforeTakeover?.(device, current.record);
          if (removeStale(path, current) === 'removed') pendingTakeover = current.record;
          continue;
        }
        if (options.signal?.aborted) throw interrupted(device);
        const elapsed = clock.now() - started;
        if (elapsed >= waitMs) throw busyError(device, current.record, options.waitS ?? 0);
        await clock.sleep(Math.min(pollMs, waitMs - elapsed), options.signal);
        if (options.signal?.aborted) throw interrupted(device);
        attempt = 0;
      }
    }
  } catch (error) {
    release();
    throw error;
  }
  return {devices: list, files: held.map((h) => h.path), tookOver, waitedS: (clock.now() - started) / 1_000, release};
}

/**
 * Creates `path` holding `content`, complete from its first instant; the new inode, or null when it exists.
 * Exported for the campaign lock (campaign/store.ts), which takes and takes over locks the same way.
 */
export function createExclusive(path: string, content: string, lockDir: string): number | null {
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(temp, content, {flag: 'wx', mode: 0o644});
    try {
      linkSync(temp, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return null;
      throw error;
    }
    return statSync(temp).ino;
  } catch (error) {
    throw ioError(lockDir, error);
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      // already gone
    }
  }
}

export interface CurrentLock {
  record: DeviceLockRecord | null;
  text: string;
  ino: number;
  dev: number;
  mtimeMs: number;
}

/** Reads a lock file's content and identity from one open file (so both describe the same file); null when absent. */
export function readLock(path: string): CurrentLock | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw ioError(path, error);
  }
  try {
    const st = fstatSync(fd);
    const text = readFileSync(fd, 'utf8');
    return {record: parseLockRecord(text), text, ino: st.ino, dev: st.dev, mtimeMs: st.mtimeMs};
  } finally {
    closeSync(fd);
  }
}

/** Parses a lock file; null when it is not a complete record. */
export function parseLockRecord(text: string): DeviceLockRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const r = value as Partial<DeviceLockRecord>;
  if (typeof r.pid !== 'number' || !Number.isInteger(r.pid) || r.pid <= 0) return null;
  if (r.startTime !== null && typeof r.startTime !== 'number') return null;
  if (typeof r.token !== 'string') return null;
  return {
    pid: r.pid,
    startTime: r.startTime,
    acquiredAt: typeof r.acquiredAt === 'string' ? r.acquiredAt : '',
    devices: Array.isArray(r.devices) ? r.devices.map(String) : [],
    token: r.token,
    hostname: typeof r.hostname === 'string' ? r.hostname : '',
  };
}

function isStale(current: CurrentLock, owner: DeviceLockOwner, isAlive: (pid: number, startTime: number | null) => boolean): boolean {
  const r = current.record;
  if (r === null) return Date.now() - current.mtimeMs > UNPARSABLE_GRACE_MS;
  // A lock of this very process that no live handle owns was left by an earlier run of it.
  if (r.pid === owner.pid && r.startTime === owner.startTime && owner.pid === process.pid) return !liveTokens.has(r.token);
  return !isAlive(r.pid, r.startTime);
}

/**
 * Removes the stale lock that was judged (`judged`): rename it to a unique name, then keep it
 * removed only if the moved file is that one — same inode *and* same content (an inode number
 * alone can be reused at once by the next lock created; content carries a unique token). A
 * different file (a fresh lock created after another taker removed the stale one) is linked back.
 */
export function removeStale(path: string, judged: CurrentLock): 'removed' | 'gone' | 'restored' {
  const grave = `${path}.stale.${process.pid}.${randomBytes(6).toString('hex')}`;
  try {
    renameSync(path, grave);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw ioError(path, error);
  }
  try {
    const moved = readLock(grave);
    if (moved && moved.ino === judged.ino && moved.dev === judged.dev && moved.text === judged.text) return 'removed';
    try {
      linkSync(grave, path);
    } catch {
      // a third process created the lock in the meantime: see the module comment
    }
    return 'restored';
  } finally {
    try {
      unlinkSync(grave);
    } catch {
      // nothing to clean
    }
  }
}

/** Removes the lock at `path` only while it is still the file this acquisition created (same inode, same token). */
export function removeIfOurs(path: string, ino: number, token: string): void {
  try {
    const current = readLock(path);
    if (current && current.ino === ino && current.record?.token === token) unlinkSync(path);
  } catch {
    // a lock we cannot remove is stale once this process ends
  }
}

function busyError(device: string, holder: DeviceLockRecord | null, waitS: number): RunError {
  const who = holder
    ? `${holder.pid === process.pid ? 'this lem process' : 'another lem process'} (pid ${holder.pid}${holder.hostname && holder.hostname !== hostname() ? ` on ${holder.hostname}` : ''}, since ${holder.acquiredAt || 'an unknown time'}${ago(holder.acquiredAt)})`
    : 'another lem process (its lock file is being written or is unreadable)';
  const waited = waitS > 0 ? ` after waiting ${waitS} s` : '';
  return runError(
    DeviceLockErrorCodes.busy,
    `device ${device} is in use by ${who}${waited}: two measurements on one device would corrupt both`,
    [
      holder ? `wait for pid ${holder.pid} to finish, then run again` : 'run again in a few seconds',
      `or add --wait-for-devices <seconds> to wait for the device (e.g. --wait-for-devices ${Math.max(600, waitS * 2)})`,
    ],
    'resource',
    holder ? [{path: device, message: `held by pid ${holder.pid} (start time ${holder.startTime ?? 'unknown'}) since ${holder.acquiredAt}, devices ${holder.devices.join(', ')}`}] : undefined,
  );
}

function ago(iso: string): string {
  const ms = Date.now() - Date.parse(iso);
  if (!Number.isFinite(ms) || ms < 0) return '';
  const s = Math.round(ms / 1_000);
  return s < 120 ? `, ${s} s ago` : s < 7_200 ? `, ${Math.round(s / 60)} min ago` : `, ${Math.round(s / 3_600)} h ago`;
}

function interrupted(device: string): RunError {
  return runError(DeviceLockErrorCodes.interrupted, `interrupted while waiting for device ${device}`, ['run it again (a campaign continues with `lem resume`)'], 'interrupted');
}

function ioError(where: string, error: unknown): RunError {
  if ((error as {code?: unknown} | null)?.code === DeviceLockErrorCodes.io) return error as RunError;
  const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  return runError(DeviceLockErrorCodes.io, `cannot write device locks in ${where}: ${reason}`, [`check that ${where} is writable by this user`], 'runtime', undefined, error);
}
