/**
 * The reaper against real processes: detached sleepers stand in for servers, pid files are
 * written as the launcher writes them, and a pid that has exited stands in for a dead lem.
 */
import {spawn} from 'node:child_process';
import {existsSync, mkdirSync, writeFileSync} from 'node:fs';
import {afterEach, describe, expect, it} from 'vitest';
import {sandbox, type Sandbox} from './__fixtures__/helpers.js';
import {isProcessAlive, pidFilePath, readProcStat, serversDir, writePidRecord, type ServerPidRecord} from './proc.js';
import {reapStaleServers} from './reaper.js';

let sb: Sandbox;
afterEach(() => sb?.cleanup());

/** A detached process group leader that sleeps, as a server would. */
function sleeper(): number {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {detached: true, stdio: 'ignore'});
  child.on('error', () => {});
  sb.track(child.pid);
  return child.pid!;
}

/** A sleeper that ignores SIGTERM, once it says its handler is in place (an event, not a guess at Node's start-up time). */
async function stubbornSleeper(): Promise<number> {
  const child = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); process.stdout.write('ready\\n'); setInterval(() => {}, 1000)"], {detached: true, stdio: ['ignore', 'pipe', 'ignore']});
  child.on('error', () => {});
  sb.track(child.pid);
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  child.stdout!.destroy();
  return child.pid!;
}

/** The pid of a process that has exited: a lem that is not running any more. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], {stdio: 'ignore'});
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

function record(pid: number, overrides: Partial<ServerPidRecord>): ServerPidRecord {
  return {
    pid,
    pgid: pid,
    startTime: readProcStat(pid)!.startTime,
    lemPid: process.pid,
    lemStartTime: readProcStat(process.pid)!.startTime,
    argv: ['sleeper'],
    startedAt: new Date().toISOString(),
    ...overrides,
  };
}

describe('reapStaleServers', () => {
  it('reaps a server whose lem is dead, and one whose lem pid now names another process', async () => {
    sb = sandbox();
    const orphan = sleeper();
    const reused = sleeper();
    mkdirSync(serversDir(sb.stateDir), {recursive: true});
    writePidRecord(sb.stateDir, record(orphan, {lemPid: await deadPid(), lemStartTime: 1}));
    // lemPid is alive (this process) but started at another time: the pid was reused.
    writePidRecord(sb.stateDir, record(reused, {lemStartTime: readProcStat(process.pid)!.startTime - 1}));
    expect(isProcessAlive(orphan) && isProcessAlive(reused)).toBe(true);

    expect(await reapStaleServers(sb.stateDir)).toEqual({reaped: [orphan, reused].sort((a, b) => a - b), removed: 2});
    expect(isProcessAlive(orphan)).toBe(false);
    expect(isProcessAlive(reused)).toBe(false);
    expect(existsSync(pidFilePath(sb.stateDir, orphan))).toBe(false);
  });

  it('SIGKILLs a stale server that ignores SIGTERM after the grace', async () => {
    sb = sandbox();
    const stubborn = await stubbornSleeper();
    mkdirSync(serversDir(sb.stateDir), {recursive: true});
    writePidRecord(sb.stateDir, record(stubborn, {lemPid: await deadPid()}));
    const started = Date.now();
    expect(await reapStaleServers(sb.stateDir, {graceMs: 300})).toEqual({reaped: [stubborn], removed: 1});
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(isProcessAlive(stubborn)).toBe(false);
  });

  it('never signals a process whose start time does not match; removes the file', async () => {
    sb = sandbox();
    const bystander = sleeper();
    mkdirSync(serversDir(sb.stateDir), {recursive: true});
    writePidRecord(sb.stateDir, record(bystander, {lemPid: await deadPid(), startTime: readProcStat(bystander)!.startTime - 1}));
    expect(await reapStaleServers(sb.stateDir)).toEqual({reaped: [], removed: 1});
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(isProcessAlive(bystander)).toBe(true);
    expect(existsSync(pidFilePath(sb.stateDir, bystander))).toBe(false);
  });

  it('leaves the servers of a running lem alone, and drops unreadable records', async () => {
    sb = sandbox();
    const ours = sleeper();
    mkdirSync(serversDir(sb.stateDir), {recursive: true});
    writePidRecord(sb.stateDir, record(ours, {}));
    writeFileSync(pidFilePath(sb.stateDir, 1), '{"pid": 1, "pgid": 1'); // torn or hand-edited: names nothing
    writeFileSync(`${serversDir(sb.stateDir)}/notes.txt`, 'not a pid file');
    expect(await reapStaleServers(sb.stateDir)).toEqual({reaped: [], removed: 1});
    expect(isProcessAlive(ours)).toBe(true);
    expect(existsSync(pidFilePath(sb.stateDir, ours))).toBe(true);
    expect(existsSync(`${serversDir(sb.stateDir)}/notes.txt`)).toBe(true);
  });

  it('does nothing when there is no state yet', async () => {
    sb = sandbox();
    expect(await reapStaleServers(sb.stateDir)).toEqual({reaped: [], removed: 0});
  });
});
