import {spawn, spawnSync, type ChildProcess} from 'node:child_process';
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync} from 'node:fs';
import {hostname, tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';
import {isCodedError} from '../errors.js';
import {processStartTime} from '../runner/proc.js';
import type {WaitClock} from './cooldown.js';
import {acquireDeviceLocks, deviceLockPath, parseLockRecord, type DeviceLockRecord} from './device-lock.js';

const HOLDER = fileURLToPath(new URL('./__fixtures__/lock-holder.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

let root: string;
let lockDir: string;
const children: ChildProcess[] = [];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'lem-locks-'));
  lockDir = join(root, '.lem-state', 'locks');
});
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  rmSync(root, {recursive: true, force: true});
});

/** A lem stand-in in its own process, driven line by line. */
interface Holder {
  pid: number;
  child: ChildProcess;
  send(line: string): void;
  /** The next JSON line it prints. */
  next(): Promise<Record<string, unknown>>;
  exited: Promise<unknown>;
}

async function startHolder(devices: string[], waitS = 0): Promise<Holder> {
  const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, JSON.stringify({lockDir, devices, waitS})], {cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe']});
  children.push(child);
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<(v: Record<string, unknown>) => void> = [];
  let buffer = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buffer += d;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const value = JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>;
      buffer = buffer.slice(nl + 1);
      const waiter = waiters.shift();
      if (waiter) waiter(value);
      else lines.push(value);
    }
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const next = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const ready = lines.shift();
      if (ready) return resolve(ready);
      waiters.push(resolve);
      void exited.then(() => reject(new Error(`holder exited early: ${stderr}`)));
    });
  const hello = await next();
  expect(hello).toMatchObject({ready: true});
  return {pid: hello.pid as number, child, send: (line) => child.stdin!.write(`${line}\n`), next, exited};
}

/** The pid of a process that has already exited (so a lock naming it is stale). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {encoding: 'utf8'});
  return Number(r.stdout);
}

function writeLock(device: string, record: Partial<DeviceLockRecord>): void {
  mkdirSync(lockDir, {recursive: true});
  const full: DeviceLockRecord = {pid: 1, startTime: 0, acquiredAt: new Date().toISOString(), devices: [device], token: `t-${Math.random()}`, hostname: hostname(), ...record};
  writeFileSync(deviceLockPath(lockDir, device), JSON.stringify(full));
}

const readLockFile = (device: string) => parseLockRecord(readFileSync(deviceLockPath(lockDir, device), 'utf8'));

async function failure(promise: Promise<unknown>): Promise<Record<string, unknown> & Error> {
  try {
    await promise;
  } catch (error) {
    expect(isCodedError(error)).toBe(true);
    return error as Record<string, unknown> & Error;
  }
  throw new Error('expected a failure');
}

describe('device locks between real processes', () => {
  it('a second lem gets E_DEVICE_BUSY naming the holder; after kill -9 of the holder it takes the stale lock over', async () => {
    const holder = await startHolder(['cpu']);
    holder.send('acquire');
    expect(await holder.next()).toEqual({acquired: true, tookOver: []});
    expect(readLockFile('cpu')).toMatchObject({pid: holder.pid, startTime: processStartTime(holder.pid), devices: ['cpu']});

    // This test process is the second lem. It asks for a GPU too, which sorts first ('G' < 'c'):
    // that lock is taken, then given back when cpu turns out busy.
    const busy = await failure(acquireDeviceLocks(['cpu', 'GPU-1234'], {lockDir}));
    expect(busy).toMatchObject({code: 'E_DEVICE_BUSY', exitCode: 1, category: 'resource'});
    expect(busy.message).toContain(`device cpu is in use by another lem process (pid ${holder.pid}, since `);
    expect((busy.try as string[]).join('\n')).toMatch(/wait for pid \d+ to finish[\s\S]*--wait-for-devices <seconds>/);
    expect(existsSync(deviceLockPath(lockDir, 'GPU-1234'))).toBe(false);

    holder.child.kill('SIGKILL');
    await holder.exited;
    const locks = await acquireDeviceLocks(['cpu', 'GPU-1234'], {lockDir});
    expect(locks.devices).toEqual(['GPU-1234', 'cpu']);
    expect(locks.tookOver).toEqual([{device: 'cpu', from: expect.objectContaining({pid: holder.pid})}]);
    expect(readLockFile('cpu')).toMatchObject({pid: process.pid, devices: ['GPU-1234', 'cpu']});
    locks.release();
    expect(readdirSync(lockDir)).toEqual([]);
  });

  it('a live pid with another start time is stale (the pid was reused); with its own start time it is busy', async () => {
    const other = await startHolder(['unused']);
    writeLock('cpu', {pid: other.pid, startTime: processStartTime(other.pid)! + 1});
    const locks = await acquireDeviceLocks(['cpu'], {lockDir});
    expect(locks.tookOver.map((t) => t.from?.pid)).toEqual([other.pid]);
    locks.release();

    writeLock('cpu', {pid: other.pid, startTime: processStartTime(other.pid)});
    expect(await failure(acquireDeviceLocks(['cpu'], {lockDir}))).toMatchObject({code: 'E_DEVICE_BUSY'});
  });

  it('two processes racing to take over one stale lock: exactly one wins, every round', async () => {
    const a = await startHolder(['cpu']);
    const b = await startHolder(['cpu']);
    const dead = deadPid();
    for (let round = 0; round < 25; round++) {
      writeLock('cpu', {pid: dead, startTime: 12345});
      a.send('acquire');
      b.send('acquire');
      const [ra, rb] = await Promise.all([a.next(), b.next()]);
      const winners = [ra, rb].filter((r) => r.acquired === true);
      expect(winners, JSON.stringify([ra, rb])).toHaveLength(1);
      expect([ra, rb].filter((r) => r.error === 'E_DEVICE_BUSY')).toHaveLength(1);
      const winner = ra.acquired ? a : b;
      // The file on disk is the winner's, and only the winner's.
      expect(readLockFile('cpu')?.pid).toBe(winner.pid);
      winner.send('release');
      expect(await winner.next()).toEqual({released: true});
      expect(existsSync(deviceLockPath(lockDir, 'cpu'))).toBe(false);
    }
    // No grave or temp files are left behind.
    expect(readdirSync(lockDir)).toEqual([]);
  });

  it('waitS: the waiter gets the lock once the holder releases it', async () => {
    const holder = await startHolder(['cpu']);
    holder.send('acquire');
    expect(await holder.next()).toMatchObject({acquired: true});
    const waiting = acquireDeviceLocks(['cpu'], {lockDir, waitS: 30, pollMs: 20});
    let settled = false;
    void waiting.then(() => (settled = true), () => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(settled).toBe(false);
    holder.send('release');
    expect(await holder.next()).toEqual({released: true});
    const locks = await waiting;
    expect(locks.tookOver).toEqual([]);
    expect(locks.waitedS).toBeGreaterThan(0.2);
    expect(locks.waitedS).toBeLessThan(30);
    expect(readLockFile('cpu')?.pid).toBe(process.pid);
    locks.release();
  });
});

describe('device locks in one process (injected owners and clock)', () => {
  const alive = () => true;

  it('busy after waiting: the wait is bounded by waitS on the injected clock', async () => {
    writeLock('cpu', {pid: 4242, startTime: 1, acquiredAt: '2024-05-01T10:00:00.000Z'});
    let nowMs = 0;
    const sleeps: number[] = [];
    const clock: WaitClock = {now: () => nowMs, sleep: async (ms) => void (sleeps.push(ms), (nowMs += ms))};
    const error = await failure(acquireDeviceLocks(['cpu'], {lockDir, waitS: 1, pollMs: 300, isAlive: alive, clock}));
    expect(error).toMatchObject({code: 'E_DEVICE_BUSY'});
    expect(error.message).toContain('pid 4242, since 2024-05-01T10:00:00.000Z');
    expect(error.message).toContain('after waiting 1 s');
    expect(sleeps).toEqual([300, 300, 300, 100]);
  });

  it('an abort while waiting fails with E_INTERRUPTED and leaves nothing locked', async () => {
    writeLock('cpu', {pid: 4242, startTime: 1});
    const abort = new AbortController();
    const clock: WaitClock = {now: () => 0, sleep: async () => abort.abort()};
    const error = await failure(acquireDeviceLocks(['a-gpu', 'cpu'], {lockDir, waitS: 60, isAlive: alive, clock, signal: abort.signal}));
    expect(error).toMatchObject({code: 'E_INTERRUPTED', category: 'interrupted', exitCode: 130});
    expect(existsSync(deviceLockPath(lockDir, 'a-gpu'))).toBe(false);
  });

  it('two takers that both judged the same lock stale: the late one moves the fresh lock back and loses', async () => {
    writeLock('cpu', {pid: 999_999_001, startTime: 1});
    const isAlive = (pid: number) => pid !== 999_999_001;
    // Both stop right after judging the lock stale, until both have judged it.
    let arrived = 0;
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const barrier = async () => {
      if (++arrived === 2) open();
      await gate;
    };
    const results = await Promise.allSettled([
      acquireDeviceLocks(['cpu'], {lockDir, owner: {pid: 999_999_002, startTime: 1}, isAlive, beforeTakeover: barrier}),
      acquireDeviceLocks(['cpu'], {lockDir, owner: {pid: 999_999_003, startTime: 1}, isAlive, beforeTakeover: barrier}),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.reason).toMatchObject({code: 'E_DEVICE_BUSY'});
    const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireDeviceLocks>>>).value;
    expect([999_999_002, 999_999_003]).toContain(readLockFile('cpu')!.pid);
    // The file on disk is the winner's own (release removes only its token), and no grave is left.
    winner.release();
    expect(readdirSync(lockDir)).toEqual([]);
  });

  it('release removes only files that still carry its token', async () => {
    const locks = await acquireDeviceLocks(['cpu', 'gpu0'], {lockDir});
    writeLock('gpu0', {pid: 4242, startTime: 1, token: 'someone-else'});
    locks.release();
    locks.release();
    expect(existsSync(deviceLockPath(lockDir, 'cpu'))).toBe(false);
    expect(readLockFile('gpu0')?.token).toBe('someone-else');
  });

  it('this process: a lock it holds is busy; one left by an earlier run of it (no live handle) is taken over', async () => {
    const first = await acquireDeviceLocks(['cpu'], {lockDir});
    const again = await failure(acquireDeviceLocks(['cpu'], {lockDir}));
    expect(again).toMatchObject({code: 'E_DEVICE_BUSY'});
    expect(again.message).toContain(`in use by this lem process (pid ${process.pid}`);
    first.release();

    writeLock('cpu', {pid: process.pid, startTime: processStartTime(process.pid), token: 'left-over'});
    const second = await acquireDeviceLocks(['cpu'], {lockDir});
    expect(second.tookOver).toHaveLength(1);
    second.release();
  });

  it('an unparsable lock file is busy while fresh (it may be being written) and stale once old', async () => {
    mkdirSync(lockDir, {recursive: true});
    const path = deviceLockPath(lockDir, 'cpu');
    writeFileSync(path, '{"pid": 12');
    expect(await failure(acquireDeviceLocks(['cpu'], {lockDir}))).toMatchObject({code: 'E_DEVICE_BUSY'});
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    const locks = await acquireDeviceLocks(['cpu'], {lockDir});
    expect(locks.tookOver).toEqual([{device: 'cpu', from: null}]);
    locks.release();
  });

  it('device names become safe file names; duplicates are locked once', async () => {
    const locks = await acquireDeviceLocks(['GPU-ab/../x', 'cpu', 'cpu'], {lockDir});
    expect(locks.devices).toEqual(['GPU-ab/../x', 'cpu']);
    expect(readdirSync(lockDir).sort()).toEqual(['GPU-ab_.._x.lock', 'cpu.lock']);
    locks.release();
  });

  it('an unwritable lock folder is E_DEVICE_LOCK_IO', async () => {
    writeFileSync(join(root, 'file'), '');
    expect(await failure(acquireDeviceLocks(['cpu'], {lockDir: join(root, 'file', 'locks')}))).toMatchObject({code: 'E_DEVICE_LOCK_IO'});
  });
});
