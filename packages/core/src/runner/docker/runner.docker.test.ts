/**
 * The docker runner against a real engine: real containers from an image imported from a local
 * root filesystem, the host's Node mounted read-only, a tiny HTTP server in them.
 */
import {spawn} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {CgroupCpu} from '../../meters/cpu-estimate.js';
import {findFreePort} from '../ports.js';
import type {LaunchRequest} from '../types.js';
import {ensureTestBase, removeLemContainers, testEngine, TEST_BASE, type EngineCheck} from './__fixtures__/engine.js';
import {Labels, ownerLabels} from './engine.js';
import {reapContainers, listContainers} from './reaper.js';
import {createDockerRunner, type DockerRunnerOptions} from './runner.js';

const FIXTURES = fileURLToPath(new URL('./__fixtures__/', import.meta.url));
const check: EngineCheck = await testEngine();
let dir: string;

beforeAll(() => {
  if (check.missing) return;
  ensureTestBase();
  dir = mkdtempSync(join(tmpdir(), 'lem-docker-'));
});
afterAll(async () => {
  if (check.missing) return;
  await removeLemContainers(check.engine);
  rmSync(dir, {recursive: true, force: true});
});

const runnerWith = (over: Partial<DockerRunnerOptions> = {}) =>
  createDockerRunner({
    engine: check.engine,
    strategy: 'ephemeral',
    startup: 'lazy',
    warmupDelayS: 0,
    autoTeardown: true,
    mounts: [{hostPath: '/usr', containerPath: '/usr', readOnly: true}, {hostPath: FIXTURES, containerPath: '/srv', readOnly: true}],
    ...over,
  });

let serial = 0;
async function request(mode = 'ok', over: Partial<LaunchRequest> = {}): Promise<LaunchRequest> {
  const port = await findFreePort();
  return {
    spec: {argv: ['node', '/srv/server.mjs', String(port), mode], env: {}, port, readiness: {healthPath: '/health', probe: 'completion', timeoutS: 8}, stop: {signal: 'SIGTERM', graceS: 2}},
    model: 'm',
    stateDir: dir,
    workdir: join(dir, 'work', `w${++serial}`),
    backend: {id: 'fake', image: TEST_BASE, pluginVersion: '0.0.1'},
    labels: {experiment: 'test'},
    ...over,
  };
}

const ours = async () => (await listContainers(check.engine)).filter((c) => c.thisHost && c.pid === process.pid);
const stateOf = async (id: string) => (await check.engine.docker.getContainer(id).inspect().catch(() => null))?.State ?? null;
async function until(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) if (await condition()) return true;
  return condition();
}

describe.skipIf(Boolean(check.missing))(`docker runner, real engine${check.missing ? ` (skipped: ${check.missing})` : ''}`, () => {
  it('ephemeral: a labelled container per launch, ready, measured as its cgroup, stopped and removed', async () => {
    const runner = runnerWith();
    const targets: unknown[] = [];
    const server = await runner.launch(await request('ok', {onTarget: (t) => targets.push(t)}));
    expect(targets).toEqual([{kind: 'cgroup', path: expect.stringContaining(server.container!.id)}]);
    expect(server.container).toMatchObject({strategy: 'ephemeral', started: true, imageRef: TEST_BASE, imageId: expect.stringMatching(/^sha256:/)});
    const [info] = await ours();
    expect(info).toMatchObject({backend: 'fake', strategy: 'ephemeral', state: 'running', ownerAlive: true});
    const labels = (await check.engine.docker.getContainer(server.container!.id).inspect()).Config.Labels;
    expect(labels).toMatchObject({[Labels.experiment]: 'test', [Labels.pluginVersion]: '0.0.1', [Labels.pid]: String(process.pid)});
    expect((await fetch(`${server.baseUrl}/health`)).status).toBe(200);
    const stopped = await server.stop();
    expect(stopped).toMatchObject({code: 0, forced: false, oomKilled: false});
    expect(server.outputTail()).toContain('stopping');
    expect(await ours()).toEqual([]);
  });

  it('a server that exits while starting: E_SERVER_EXITED with its last lines, and no container left', async () => {
    const error = await runnerWith().launch(await request('exit')).catch((e) => e);
    expect(error).toMatchObject({code: 'E_SERVER_EXITED'});
    expect(error.details.map((d: {message: string}) => d.message)).toContain('fatal: the model file is broken');
    expect(await ours()).toEqual([]);
  });

  it('a server that never becomes ready: E_SERVER_NOT_READY after the readiness timeout, no container left', async () => {
    const req = await request('never');
    req.spec.readiness.timeoutS = 2;
    const error = await runnerWith().launch(req).catch((e) => e);
    expect(error).toMatchObject({code: 'E_SERVER_NOT_READY', category: 'runtime'});
    expect(await ours()).toEqual([]);
  });

  it('out of memory under a real memory limit: OOMKilled, exit 137, category resource', async () => {
    const runner = runnerWith({hostConfig: {Memory: 48 * 2 ** 20, MemorySwap: 48 * 2 ** 20}});
    const error = await runner.launch(await request('oom')).catch((e) => e);
    expect(error).toMatchObject({code: 'E_SERVER_EXITED', category: 'resource'});
    expect(error.message).toMatch(/137|SIGKILL/);
  });

  it('a container killed mid-run settles its exit', async () => {
    const server = await runnerWith().launch(await request());
    await check.engine.docker.getContainer(server.container!.id).kill({signal: 'SIGKILL'});
    const exit = await server.exited;
    expect(exit.code).toBe(137);
    await server.stop();
    expect(await ours()).toEqual([]);
  });

  it('persistent: one container, each launch an exec in it; the second launch starts nothing; close removes it', async () => {
    const runner = runnerWith({strategy: 'persistent', warmupDelayS: 1});
    const first = await runner.launch(await request());
    await first.stop();
    const second = await runner.launch(await request());
    expect(second.container!.id).toBe(first.container!.id);
    expect([first.container!.started, second.container!.started]).toEqual([true, false]);
    expect([first.warmupDelayS, second.warmupDelayS]).toEqual([1, 0]);
    expect((await fetch(`${second.baseUrl}/health`)).status).toBe(200);
    expect(await second.stop()).toMatchObject({code: 0, forced: false});
    expect((await stateOf(first.container!.id))?.Running).toBe(true);
    await runner.close!();
    expect(await ours()).toEqual([]);
  });

  it('persistent, eager: prepare starts the container before any launch', async () => {
    const runner = runnerWith({strategy: 'persistent', startup: 'eager', workRoot: join(dir, 'work')});
    await runner.prepare!([{id: 'fake', image: TEST_BASE, pluginVersion: '0.0.1'}], [[]]);
    const [c] = await ours();
    expect(c).toMatchObject({strategy: 'persistent', state: 'running'});
    const server = await runner.launch(await request());
    expect(server.container!.id).toBe(c!.id);
    await server.stop();
    await runner.close!();
    expect(await ours()).toEqual([]);
  });

  it('auto_teardown false: the container is kept (lem.keep=true) and a later runner with the same key adopts it', async () => {
    const keeping = runnerWith({strategy: 'persistent', autoTeardown: false});
    const first = await keeping.launch(await request());
    await first.stop();
    await keeping.close!();
    const [kept] = await ours();
    expect(kept).toMatchObject({kept: true, state: 'running'});
    const adopting = runnerWith({strategy: 'persistent', autoTeardown: false});
    const again = await adopting.launch(await request());
    expect(again.container).toMatchObject({id: kept!.id, adopted: true, started: false});
    await again.stop();
    await adopting.close!();
    await check.engine.docker.getContainer(kept!.id).remove({force: true});
  });

  it('dies with lem: kill -9 of the lem that started it stops the server within the grace; the next start reaps the container', async () => {
    const port = await findFreePort();
    const child = spawn(process.execPath, ['--import', 'tsx', join(FIXTURES, 'parent.mts'), 'ephemeral', String(port), dir, TEST_BASE, FIXTURES], {stdio: ['ignore', 'pipe', 'inherit']});
    const id = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        const m = /READY (\w+)/.exec(String(chunk));
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`parent exited with ${code}`)));
    });
    expect((await stateOf(id))?.Running).toBe(true);
    child.kill('SIGKILL');
    // Grace 2 s; the container must be gone from `docker top` well within twice that plus the engine's own latency.
    expect(await until(async () => !(await stateOf(id))?.Running, 8_000)).toBe(true);
    expect(await check.engine.docker.getContainer(id).top().catch(() => null)).toBeNull();
    const reaped = await reapContainers(check.engine);
    expect(reaped.removed.length).toBeGreaterThanOrEqual(1);
    expect(await stateOf(id)).toBeNull();
  });

  it("the reaper leaves a live lem's containers and another host's alone, and only stops servers in a kept one", async () => {
    const other = await check.engine.docker.createContainer({Image: TEST_BASE, Cmd: ['sleep', '60'], Labels: {...ownerLabels('another-host-id'), [Labels.pid]: '1', [Labels.pidStart]: '1'}});
    await other.start();
    const server = await runnerWith().launch(await request());
    const result = await reapContainers(check.engine);
    expect(result.removed).not.toContain(server.container!.name);
    expect((await other.inspect()).State.Running).toBe(true);
    expect((await stateOf(server.container!.id))?.Running).toBe(true);
    await server.stop();
    await other.remove({force: true});
  });

  it('energy attribution: a busy container reads clearly more CPU time from its cgroup than an idle one', async () => {
    const runner = runnerWith();
    const busy = await runner.launch(await request('busy'));
    const idle = await runner.launch(await request('ok'));
    const cpu = (t: typeof busy.target) => new CgroupCpu('/sys/fs/cgroup', (t as {path: string}).path);
    const [b, i] = [cpu(busy.target), cpu(idle.target)];
    await new Promise((r) => setTimeout(r, 1500));
    const [busyS, idleS] = [b.sampleS(), i.sampleS()];
    // The busy server spins ~90 % of a CPU; the idle one does nearly nothing.
    expect(busyS).toBeGreaterThan(0.5);
    expect(busyS).toBeGreaterThan(5 * idleS);
    await Promise.all([busy.stop(), idle.stop()]);
  });
});
