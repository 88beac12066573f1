/**
 * The shell scripts, run by this machine's shells (dash as `sh`, and busybox's when installed):
 * no engine needed, since what they do to processes is the same inside a container.
 */
import {execFileSync, spawn, spawnSync} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import {existsSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {describe, expect, it} from 'vitest';
import {readProcStat} from '../proc.js';
import {LIST_SERVERS_SCRIPT, serverPidFile, SERVER_WRAPPER, stopServersScript, wrapperArgs} from './wrapper.js';

const shells: string[][] = [['sh']];
if (spawnSync('busybox', ['sh', '-c', 'true']).status === 0) shells.push(['busybox', 'sh']);

/** A node server that prints `up`, answers its stop signal by printing it and exiting 0, or ignores it. */
const serverCode = (behaviour: 'exit' | 'ignore') =>
  `for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => { console.log('got ' + s); ${behaviour === 'exit' ? 'process.exit(0)' : ''} }); console.log('up'); setInterval(() => {}, 1000)`;

function wrapped(shell: string[], behaviour: 'exit' | 'ignore', stop: {signal: string; graceS: number}) {
  const pidFile = `/tmp/lem-wrapper-test-${randomBytes(4).toString('hex')}.pid`;
  const child = spawn(shell[0]!, [...shell.slice(1), '-c', SERVER_WRAPPER, ...wrapperArgs([process.execPath, '-e', serverCode(behaviour)], {...stop, pidFile})], {stdio: ['pipe', 'pipe', 'inherit']});
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += String(chunk)));
  const up = new Promise<void>((resolve) => child.stdout!.on('data', () => out.includes('up') && resolve()));
  const exit = new Promise<{code: number | null; signal: string | null; atMs: number}>((resolve) => child.once('exit', (code, signal) => resolve({code, signal, atMs: Date.now()})));
  return {child, pidFile, up, exit, output: () => out};
}

describe.each(shells)('the server wrapper under %s', (...shell) => {
  it('becomes the server: its pid and start time in the pid file; stdin ends → the stop signal, the server’s own exit, the file removed', async () => {
    const w = wrapped(shell, 'exit', {signal: 'SIGTERM', graceS: 5});
    await w.up;
    const [pid, start] = readFileSync(w.pidFile, 'utf8').trim().split(' ').map(Number);
    expect(pid).toBe(w.child.pid);
    expect(start).toBe(readProcStat(w.child.pid!)!.startTime);
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toContain(process.execPath); // exec'd: no shell left in between
    w.child.stdin!.end();
    expect(await w.exit).toMatchObject({code: 0, signal: null});
    expect(w.output()).toContain('got SIGTERM');
    expect(await until(() => !existsSync(w.pidFile), 2_000)).toBe(true);
  });

  it('delivers SIGINT too: the server is not an asynchronous list, whose SIGINT would be ignored', async () => {
    const w = wrapped(shell, 'exit', {signal: 'SIGINT', graceS: 5});
    await w.up;
    w.child.stdin!.end();
    expect(await w.exit).toMatchObject({code: 0});
    expect(w.output()).toContain('got SIGINT');
  });

  it('kills a server that ignores the stop signal once the grace has run out, not before', async () => {
    const w = wrapped(shell, 'ignore', {signal: 'SIGTERM', graceS: 1});
    await w.up;
    const endedAt = Date.now();
    w.child.stdin!.end();
    const exit = await w.exit;
    expect(exit).toMatchObject({code: null, signal: 'SIGKILL'});
    expect(exit.atMs - endedAt).toBeGreaterThanOrEqual(950);
    expect(w.output()).toContain('got SIGTERM');
    rmSync(w.pidFile, {force: true});
  });

  it('a signal sent to the recorded pid (docker-init passing on `docker stop`, or an exec’d kill) reaches the server itself', async () => {
    const w = wrapped(shell, 'exit', {signal: 'SIGTERM', graceS: 5});
    await w.up;
    process.kill(w.child.pid!, 'SIGTERM');
    expect(await w.exit).toMatchObject({code: 0});
    w.child.stdin!.end();
    expect(await until(() => !existsSync(w.pidFile), 2_000)).toBe(true);
  });
});

describe('stopping recorded servers (the reaper’s script)', () => {
  it('lists pid files with their recorded and actual start times; stops a matching process, never one whose start time differs', async () => {
    const victim = spawn('sleep', ['60']);
    const bystander = spawn('sleep', ['60']);
    const [v, b] = [victim.pid!, bystander.pid!];
    const start = (pid: number) => readProcStat(pid)!.startTime;
    const tag = {pid: 1, startTime: Number.parseInt(randomBytes(3).toString('hex'), 16)};
    const files = [serverPidFile(tag, 1), serverPidFile(tag, 2)];
    writeFileSync(files[0]!, `${v} ${start(v)}\n`);
    writeFileSync(files[1]!, `${b} ${start(b) + 1}\n`); // a reused pid: another start time
    const listing = execFileSync('sh', ['-c', LIST_SERVERS_SCRIPT], {encoding: 'utf8'});
    expect(listing).toContain(`${files[0]} ${v} ${start(v)} ${start(v)}`);
    expect(listing).toContain(`${files[1]} ${b} ${start(b) + 1} ${start(b)}`);
    const victimExit = new Promise((resolve) => victim.once('exit', (_code, signal) => resolve(signal)));
    execFileSync('sh', ['-c', stopServersScript([{pidFile: files[0]!, pid: v, startTime: start(v)}, {pidFile: files[1]!, pid: b, startTime: start(b) + 1}], 1)]);
    expect(await victimExit).toBe('SIGTERM');
    expect(bystander.exitCode).toBeNull();
    expect(files.map((f) => existsSync(f))).toEqual([false, false]);
    bystander.kill('SIGKILL');
  });
});

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) if (condition()) return true;
  return condition();
}
