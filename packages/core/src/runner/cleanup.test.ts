/**
 * Nothing outlives lem: a real parent process (a stand-in for lem, __fixtures__/parent.ts)
 * launches a server through the real launcher and then dies in each way lem can die.
 */
import {spawn, type ChildProcess} from 'node:child_process';
import {existsSync} from 'node:fs';
import {afterEach, describe, expect, it} from 'vitest';
import {fakePids, PARENT, REPO_ROOT, sandbox, type Sandbox} from './__fixtures__/helpers.js';
import {findFreePort} from './ports.js';
import {isProcessAlive, pidFilePath, waitFor} from './proc.js';
import {reapStaleServers} from './reaper.js';

let sb: Sandbox;
afterEach(() => sb?.cleanup());

interface Parent {
  child: ChildProcess;
  serverPid: number;
  exited: Promise<{code: number | null; signal: NodeJS.Signals | null}>;
}

async function startParent(serverArgs: string[], options: {register: boolean; then: 'wait' | 'exit'}): Promise<Parent> {
  const port = await findFreePort();
  const config = {stateDir: sb.stateDir, workdir: sb.workdir, port, pidDir: sb.pidDir, serverArgs: ['--mode', 'ready', ...serverArgs], ...options};
  const child = spawn(process.execPath, ['--import', 'tsx', PARENT, JSON.stringify(config)], {cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe']});
  sb.track(child.pid);
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) => child.on('exit', (code, signal) => resolve({code, signal})));
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const serverPid = await new Promise<number>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const match = /\{"pid":(\d+)\}/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    void exited.then((exit) => reject(new Error(`parent exited (${JSON.stringify(exit)}) before its server was ready\n${out}\n${err}`)));
  });
  sb.track(serverPid);
  return {child, serverPid, exited};
}

describe('servers do not outlive lem', () => {
  it('kill -9 of lem: the server dies by pdeathsig; its pid file is left for the reaper', async () => {
    sb = sandbox();
    const parent = await startParent([], {register: false, then: 'wait'});
    expect(isProcessAlive(parent.serverPid)).toBe(true);
    parent.child.kill('SIGKILL');
    expect(await parent.exited).toEqual({code: null, signal: 'SIGKILL'});
    expect(await waitFor(() => !isProcessAlive(parent.serverPid), 5_000)).toBe(true);
    // lem could not remove the record; the next lem finds the server already gone.
    expect(existsSync(pidFilePath(sb.stateDir, parent.serverPid))).toBe(true);
    expect(await reapStaleServers(sb.stateDir)).toEqual({reaped: [], removed: 1});
    expect(existsSync(pidFilePath(sb.stateDir, parent.serverPid))).toBe(false);
  });

  it('kill -9 of lem with a server that ignores SIGTERM: the next lem reaps it', async () => {
    sb = sandbox();
    const parent = await startParent(['--ignore-term'], {register: false, then: 'wait'});
    parent.child.kill('SIGKILL');
    await parent.exited;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(isProcessAlive(parent.serverPid)).toBe(true); // pdeathsig's SIGTERM was ignored
    expect(await reapStaleServers(sb.stateDir, {graceMs: 500})).toEqual({reaped: [parent.serverPid], removed: 1});
    expect(isProcessAlive(parent.serverPid)).toBe(false);
  });

  it('SIGTERM to lem with registerCleanup: servers are stopped, then lem dies of the signal', async () => {
    sb = sandbox();
    const parent = await startParent(['--grandchild'], {register: true, then: 'wait'});
    parent.child.kill('SIGTERM');
    expect(await parent.exited).toEqual({code: null, signal: 'SIGTERM'});
    expect(fakePids(sb)).toHaveLength(2);
    expect(fakePids(sb).filter((pid) => isProcessAlive(pid))).toEqual([]); // the grandchild too (group SIGKILL after the grace)
    expect(existsSync(pidFilePath(sb.stateDir, parent.serverPid))).toBe(false);
  });

  it('process.exit with registerCleanup: the exit handler kills even a server that ignores SIGTERM', async () => {
    sb = sandbox();
    const parent = await startParent(['--ignore-term'], {register: true, then: 'exit'});
    expect(await parent.exited).toEqual({code: 0, signal: null});
    expect(await waitFor(() => !isProcessAlive(parent.serverPid), 2_000)).toBe(true);
    expect(existsSync(pidFilePath(sb.stateDir, parent.serverPid))).toBe(false);
  });
});
