/**
 * The docker runner against a real engine: real containers from an image imported from a local
 * root filesystem, the host's Node mounted read-only, a tiny HTTP server in them. Every container
 * the tests make carries this run's own host id (`lem.host`), so the reaper under test and the
 * clean-up touch nothing else on the engine.
 */
import {spawn, type ChildProcess} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import {existsSync, mkdirSync, mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {CgroupCpu} from '../../meters/cpu-estimate.js';
import {monoNs, msSince} from '../../measure/types.js';
import {findFreePort} from '../ports.js';
import type {LaunchRequest, MeterTarget} from '../types.js';
import {FIXTURES, removeContainers, TEST_BASE, TEST_MOUNTS, testEngine} from './__fixtures__/engine.js';
import {Labels, ownerLabels} from './engine.js';
import {listContainers, pruneContainers, reapContainers} from './reaper.js';
import {createDockerRunner, type DockerRunnerEvent, type DockerRunnerOptions} from './runner.js';

const check = await testEngine();
const engine = check.engine;
const HOST = `lem-test-${randomBytes(4).toString('hex')}`;
const OTHER_HOST = `${HOST}-other`;
let dir: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lem-docker-'));
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  if (check.missing) return;
  await removeContainers(engine, `${Labels.host}=${HOST}`);
  await removeContainers(engine, `${Labels.host}=${OTHER_HOST}`);
  rmSync(dir, {recursive: true, force: true});
});

function runnerWith(over: Partial<DockerRunnerOptions> = {}) {
  const events: DockerRunnerEvent[] = [];
  const runner = createDockerRunner({engine, strategy: 'ephemeral', startup: 'lazy', warmupDelayS: 0, autoTeardown: true, mounts: TEST_MOUNTS, hostId: HOST, workRoot: join(dir, 'work'), onEvent: (e) => events.push(e), ...over});
  return {runner, events, actions: () => events.map((e) => e.action)};
}

let serial = 0;
async function request(mode = 'ok', over: Partial<LaunchRequest> = {}, graceS = 2): Promise<LaunchRequest> {
  const port = await findFreePort();
  const workdir = join(dir, 'work', `w${++serial}`);
  mkdirSync(workdir, {recursive: true});
  return {
    spec: {argv: ['node', '/srv/server.mjs', String(port), mode], env: {}, port, readiness: {healthPath: '/health', probe: 'completion', timeoutS: 20}, stop: {signal: 'SIGTERM', graceS}},
    model: 'm',
    stateDir: dir,
    workdir,
    backend: {id: 'fake', image: TEST_BASE, pluginVersion: '0.0.1'},
    labels: {experiment: `test-${serial}`},
    ...over,
  };
}

/** This run's containers on the engine (our host id). */
const ours = async () => (await listContainers(engine, {hostId: HOST})).filter((c) => c.thisHost);
const stateOf = async (id: string) => (await engine.docker.getContainer(id).inspect().catch(() => null))?.State ?? null;
/** The test servers running in a container (`docker top`; not the wrapper's watcher); null when it does not run. */
const serverProcesses = async (id: string) => {
  const top = (await engine.docker.getContainer(id).top().catch(() => null)) as {Processes: string[][]} | null;
  return top ? top.Processes.map((p) => p.at(-1)!).filter((cmd) => cmd.startsWith('node /srv/server.mjs')) : null;
};
async function until(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (await condition()) return true;
  return condition();
}

/** A lem stand-in in a child process (parent.mts); resolves with its container and the server's pid in it. */
async function childLem(args: {strategy: string; autoTeardown: boolean; mode: string; graceS: number}): Promise<{child: ChildProcess; id: string; serverPid: number; workdir: string}> {
  const port = await findFreePort();
  const workdir = join(dir, 'work', `child${++serial}`);
  mkdirSync(workdir, {recursive: true});
  const argv = [args.strategy, String(args.autoTeardown), args.mode, String(port), String(args.graceS), workdir, HOST];
  const child = spawn(process.execPath, ['--import', 'tsx', join(FIXTURES, 'parent.mts'), ...argv], {stdio: ['ignore', 'pipe', 'inherit']});
  children.push(child);
  const [id, pid] = await new Promise<[string, string]>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      const m = /READY (\w+) (\d+)/.exec((out += String(chunk)));
      if (m) resolve([m[1]!, m[2]!]);
    });
    child.once('exit', (code) => reject(new Error(`the child lem exited with ${code}`)));
  });
  return {child, id, serverPid: Number(pid), workdir};
}

describe.skipIf(Boolean(check.missing))(`docker runner, real engine${check.missing ? ` (skipped: ${check.missing})` : ''}`, () => {
  it('ephemeral: a labelled container per launch, measured as its cgroup, ready, stopped and removed', async () => {
    const {runner, actions} = runnerWith({campaign: 'c1'});
    const targets: MeterTarget[] = [];
    const t0 = monoNs();
    const server = await runner.launch(await request('ok', {onTarget: (t) => targets.push(t), cpus: [0]}));
    console.info(`ephemeral launch to ready: ${msSince(t0).toFixed(0)} ms`);
    const id = server.container!.id;
    expect(targets).toEqual([{kind: 'cgroup', path: expect.stringContaining(id)}]);
    expect(server.target).toEqual(targets[0]);
    expect(server.container).toMatchObject({strategy: 'ephemeral', started: true, adopted: false, imageRef: TEST_BASE, imageId: expect.stringMatching(/^sha256:/), cpusetCpus: [0]});
    expect(server.warmupDelayS).toBe(0);
    const info = await engine.docker.getContainer(id).inspect();
    expect(info.Config.Labels).toMatchObject({[Labels.managed]: 'true', [Labels.host]: HOST, [Labels.pid]: String(process.pid), [Labels.campaign]: 'c1', [Labels.experiment]: `test-${serial}`, [Labels.backend]: 'fake', [Labels.pluginVersion]: '0.0.1', [Labels.strategy]: 'ephemeral'});
    expect(info.HostConfig).toMatchObject({NetworkMode: 'host', Init: true, CpusetCpus: '0', AutoRemove: false});
    expect((await fetch(`${server.baseUrl}/health`)).status).toBe(200);
    const t1 = monoNs();
    expect(await server.stop()).toMatchObject({code: 0, signal: null, forced: false, oomKilled: false});
    console.info(`ephemeral stop and removal: ${msSince(t1).toFixed(0)} ms`);
    expect(server.outputTail()).toEqual(expect.arrayContaining([`listening on ${server.baseUrl.split(':').at(-1)}`, 'stopping']));
    expect(actions()).toEqual(['created', 'started', 'removed']);
    expect(await ours()).toEqual([]);
  });

  it('a server that exits while starting: E_SERVER_EXITED with its last lines, and no container left', async () => {
    const error = await runnerWith().runner.launch(await request('exit')).catch((e) => e);
    expect(error).toMatchObject({code: 'E_SERVER_EXITED', category: 'runtime'});
    expect(error.message).toContain('exited with code 3');
    expect(error.details.map((d: {message: string}) => d.message)).toContain('fatal: the model file is broken');
    expect(await ours()).toEqual([]);
  });

  it('a server that never becomes ready: E_SERVER_NOT_READY after the readiness timeout, no container left', async () => {
    const req = await request('never');
    req.spec.readiness.timeoutS = 1;
    const error = await runnerWith().runner.launch(req).catch((e) => e);
    expect(error).toMatchObject({code: 'E_SERVER_NOT_READY', category: 'runtime'});
    expect(error.message).toContain('answered 503');
    expect(await ours()).toEqual([]);
  });

  it('an image the engine does not have: E_IMAGE_MISSING naming `lem images build <backend>`, nothing left', async () => {
    const error = await runnerWith().runner.launch(await request('ok', {backend: {id: 'fake', image: 'lem-test/absent:0', pluginVersion: '0'}})).catch((e) => e);
    expect(error).toMatchObject({code: 'E_IMAGE_MISSING', try: ['lem images build fake', expect.any(String)]});
    expect(await ours()).toEqual([]);
  });

  it('a mount whose host folder does not exist: E_MOUNT_MISSING, nothing left', async () => {
    const {runner} = runnerWith({mounts: [...TEST_MOUNTS, {hostPath: join(dir, 'absent'), containerPath: '/absent'}]});
    const error = await runner.launch(await request()).catch((e) => e);
    expect(error).toMatchObject({code: 'E_MOUNT_MISSING', exitCode: 2});
    expect(await ours()).toEqual([]);
  });

  it('an abort while starting: E_INTERRUPTED, and no container left', async () => {
    const abort = new AbortController();
    const req = await request('never', {signal: abort.signal, onTarget: () => setTimeout(() => abort.abort(), 100)});
    const error = await runnerWith().runner.launch(req).catch((e) => e);
    expect(error).toMatchObject({code: 'E_INTERRUPTED', category: 'interrupted'});
    expect(await ours()).toEqual([]);
  });

  const memoryLimit = {extraHostConfig: {Memory: 64 * 2 ** 20, MemorySwap: 64 * 2 ** 20}};

  it('out of memory while starting, under a real memory limit: E_SERVER_EXITED, category resource, OOMKilled', async () => {
    const error = await runnerWith(memoryLimit).runner.launch(await request('oom')).catch((e) => e);
    expect(error).toMatchObject({code: 'E_SERVER_EXITED', category: 'resource'});
    expect(error.message).toContain('was killed by SIGKILL (OOMKilled: out of memory)');
    expect(await ours()).toEqual([]);
  });

  it('out of memory once running: the exit says OOMKilled true, code 137', async () => {
    const server = await runnerWith(memoryLimit).runner.launch(await request('oom-later'));
    await fetch(`${server.baseUrl}/oom`);
    expect(await server.exited).toEqual({code: 137, signal: 'SIGKILL', oomKilled: true});
    await server.stop();
    expect(await ours()).toEqual([]);
  });

  it('a container killed mid-run (docker kill): the exit settles, not for want of memory; then it is removed', async () => {
    const server = await runnerWith().runner.launch(await request());
    await engine.docker.getContainer(server.container!.id).kill({signal: 'SIGKILL'});
    expect(await server.exited).toEqual({code: 137, signal: 'SIGKILL', oomKilled: false});
    expect(await server.stop()).toMatchObject({forced: false});
    expect(await ours()).toEqual([]);
  });

  it('ephemeral stop of a server that ignores its stop signal: killed when the grace runs out, forced', async () => {
    const server = await runnerWith().runner.launch(await request('ignore-term', {}, 1));
    const stopped = await server.stop();
    expect(stopped).toMatchObject({code: 137, signal: 'SIGKILL', forced: true, oomKilled: false});
    expect(stopped.durationMs).toBeGreaterThanOrEqual(900);
    expect(server.outputTail()).toContain('ignoring SIGTERM');
    expect(await ours()).toEqual([]);
  });

  it('energy attribution: a busy container reads clearly more CPU time from its cgroup than an idle one', async () => {
    const {runner} = runnerWith();
    const [busy, idle] = [await runner.launch(await request('busy')), await runner.launch(await request('ok'))];
    const cpu = (t: MeterTarget) => new CgroupCpu('/sys/fs/cgroup', (t as {path: string}).path);
    const [b, i] = [cpu(busy.target), cpu(idle.target)];
    const [b0, i0] = [b.sampleS(), i.sampleS()];
    await new Promise((r) => setTimeout(r, 1000));
    const [busyS, idleS] = [b.sampleS() - b0, i.sampleS() - i0];
    // The busy server spins ~90 % of a CPU; the idle one does nearly nothing.
    expect(busyS).toBeGreaterThan(0.4);
    expect(busyS).toBeGreaterThan(5 * idleS);
    await Promise.all([busy.stop(), idle.stop()]);
  });

  it('persistent: one container, each launch an exec in it; the second starts no container; close removes it', async () => {
    const {runner, actions} = runnerWith({strategy: 'persistent', warmupDelayS: 3});
    let t0 = monoNs();
    const first = await runner.launch(await request());
    const firstMs = msSince(t0);
    expect(actions()).toEqual(['created', 'started']);
    await first.stop();
    t0 = monoNs();
    const second = await runner.launch(await request('ok', {cpus: [0]}));
    console.info(`persistent launch to ready: first ${firstMs.toFixed(0)} ms (container + exec), second ${msSince(t0).toFixed(0)} ms (exec)`);
    expect(actions()).toEqual(['created', 'started']);
    expect(second.container!.id).toBe(first.container!.id);
    expect([first.container!.started, second.container!.started]).toEqual([true, false]);
    expect([first.warmupDelayS, second.warmupDelayS]).toEqual([3, 0]);
    expect(second.container!.cpusetCpus).toEqual([0]);
    expect((await engine.docker.getContainer(first.container!.id).inspect()).HostConfig.CpusetCpus).toBe('0');
    expect((await fetch(`${second.baseUrl}/health`)).status).toBe(200);
    expect(await second.stop()).toMatchObject({code: 0, forced: false});
    expect((await stateOf(first.container!.id))?.Running).toBe(true);
    expect(await serverProcesses(first.container!.id)).toEqual([]);
    await runner.close();
    expect(actions()).toEqual(['created', 'started', 'removed']);
    expect(await ours()).toEqual([]);
  });

  it('persistent: a container removed behind lem’s back is made again at the next launch', async () => {
    const {runner, actions} = runnerWith({strategy: 'persistent'});
    const first = await runner.launch(await request());
    await first.stop();
    await engine.docker.getContainer(first.container!.id).remove({force: true});
    const second = await runner.launch(await request());
    expect(second.container!.id).not.toBe(first.container!.id);
    expect(actions()).toEqual(['created', 'started', 'created', 'started']);
    await runner.close();
    expect(await ours()).toEqual([]);
  });

  it('persistent stop of a server that ignores its stop signal: exec kill -TERM, the grace, then kill -KILL', async () => {
    const {runner} = runnerWith({strategy: 'persistent'});
    const server = await runner.launch(await request('ignore-term', {}, 1));
    const stopped = await server.stop();
    expect(stopped).toMatchObject({code: 137, signal: 'SIGKILL', forced: true, oomKilled: false});
    expect(stopped.durationMs).toBeGreaterThanOrEqual(900);
    expect(await serverProcesses(server.container!.id)).toEqual([]);
    await runner.close();
  });

  it('persistent, eager: prepare starts the container before any launch (making its work root), and the launch with the same spec mounts uses it', async () => {
    const workRoot = join(dir, 'eager-work'); // not there yet: a fresh project's .lem-state/work
    const {runner, actions} = runnerWith({strategy: 'persistent', startup: 'eager', warmupDelayS: 2, workRoot});
    // The backend's own mount (a model folder) is part of the container's key: prepare must know it.
    const modelMount = {hostPath: FIXTURES, containerPath: '/models', readOnly: true};
    await runner.prepare([{backend: {id: 'fake', image: TEST_BASE, pluginVersion: '0.0.1'}, gpus: [], spec: {mounts: [modelMount]}}]);
    expect(actions()).toEqual(['created', 'started']);
    const [c] = await ours();
    expect(c).toMatchObject({strategy: 'persistent', state: 'running', kept: false});
    const req = await request();
    req.workdir = join(workRoot, 'w1');
    req.spec.mounts = [modelMount];
    const server = await runner.launch(req);
    expect(actions()).toEqual(['created', 'started']);
    expect(server.container).toMatchObject({id: c!.id, started: true});
    expect(server.warmupDelayS).toBe(2);
    await runner.close();
    expect(await ours()).toEqual([]);
  });

  it('auto_teardown false: close leaves the container kept (lem.keep=true); a later runner with the same key adopts it', async () => {
    const keeping = runnerWith({strategy: 'persistent', autoTeardown: false});
    const first = await keeping.runner.launch(await request());
    await keeping.runner.close();
    expect(await first.exited).toMatchObject({code: 0});
    expect(keeping.actions()).toEqual(['created', 'started', 'kept']);
    const [kept] = await ours();
    expect(kept).toMatchObject({id: first.container!.id, kept: true, state: 'running'});
    const adopting = runnerWith({strategy: 'persistent', autoTeardown: false, warmupDelayS: 1});
    const again = await adopting.runner.launch(await request());
    expect(again.container).toMatchObject({id: kept!.id, adopted: true, started: false});
    expect(again.warmupDelayS).toBe(1);
    expect(adopting.actions()).toEqual(['adopted']);
    await again.stop();
    await adopting.runner.close();
    expect(await ours()).toMatchObject([{id: kept!.id, kept: true, state: 'running'}]);
    // prune: a live lem's kept container is left, whatever --kept says; a gone lem's goes with --kept only.
    expect((await pruneContainers(engine, {hostId: HOST, kept: true})).removed).toEqual([]);
    await engine.docker.getContainer(kept!.id).remove({force: true});
  });

  it('dies with lem (ephemeral): kill -9 of the lem stops the server within its grace; the reaper removes the container', async () => {
    const {child, id, workdir} = await childLem({strategy: 'ephemeral', autoTeardown: true, mode: 'ok', graceS: 2});
    expect((await stateOf(id))?.Running).toBe(true);
    child.kill('SIGKILL');
    // The server stops on SIGTERM at once; bound: twice its 2 s grace plus the engine's latency.
    expect(await until(async () => !(await stateOf(id))?.Running, 2 * (2_000 + 1_000))).toBe(true);
    expect((await stateOf(id))?.ExitCode).toBe(0);
    expect(existsSync(join(workdir, 'stopped-by-sigterm'))).toBe(true);
    const reaped = await reapContainers(engine, {hostId: HOST});
    expect(reaped.removed).toHaveLength(1);
    expect(await stateOf(id)).toBeNull();
  });

  it('dies with lem (persistent): kill -9 of the lem stops its exec’d server, then the container ends', async () => {
    const {child, id, workdir} = await childLem({strategy: 'persistent', autoTeardown: true, mode: 'ok', graceS: 2});
    expect(await serverProcesses(id)).toHaveLength(1);
    child.kill('SIGKILL');
    expect(await until(async () => !(await stateOf(id))?.Running, 2 * (2_000 + 1_000))).toBe(true);
    // Stopped by its wrapper's SIGTERM, not killed with the container.
    expect(existsSync(join(workdir, 'stopped-by-sigterm'))).toBe(true);
    expect((await reapContainers(engine, {hostId: HOST})).removed).toHaveLength(1);
  });

  it('the reaper: a dead lem’s container goes; another host’s and a live lem’s stay; in a kept one only the server is stopped', async () => {
    const labelled = (owner: Record<string, string>, extra: Record<string, string> = {}) =>
      engine.docker.createContainer({Image: TEST_BASE, Cmd: ['sleep', '600'], Labels: {...owner, [Labels.pid]: '999999', [Labels.pidStart]: '1', ...extra}, HostConfig: {NetworkMode: 'none', Init: true}});
    const dead = await labelled(ownerLabels(HOST));
    const other = await labelled(ownerLabels(OTHER_HOST));
    await Promise.all([dead.start(), other.start()]);
    const live = await runnerWith().runner.launch(await request());
    // A kept container whose lem was killed while its server ignored SIGTERM (30 s grace): still running.
    const {child, id: keptId, serverPid} = await childLem({strategy: 'persistent', autoTeardown: false, mode: 'ignore-term', graceS: 30});
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(await serverProcesses(keptId)).toHaveLength(1);

    const deadName = (await dead.inspect()).Name.replace(/^\//, '');
    const result = await reapContainers(engine, {hostId: HOST, graceMs: 500});
    expect(result.removed).toEqual([deadName]);
    expect(await stateOf(dead.id)).toBeNull();
    expect((await other.inspect()).State.Running).toBe(true);
    expect((await stateOf(live.container!.id))?.Running).toBe(true);
    expect(result.stoppedServers).toEqual([{container: expect.any(String), pid: serverPid}]);
    expect(await serverProcesses(keptId)).toEqual([]);
    expect(await ours()).toEqual(expect.arrayContaining([expect.objectContaining({id: keptId, kept: true, state: 'running', ownerAlive: false})]));
    // prune: the kept one only with --kept.
    expect((await pruneContainers(engine, {hostId: HOST})).removed).toEqual([]);
    expect((await pruneContainers(engine, {hostId: HOST, kept: true})).removed).toHaveLength(1);
    expect(await stateOf(keptId)).toBeNull();
    await live.stop();
    await other.remove({force: true});
  });

  it('a remote engine: launches work, nothing is measured (no cgroup target), energy null with remote-docker-host', async () => {
    const {runner} = runnerWith({engine: {...engine, remote: true}});
    expect(runner.energyNullReason).toBe('remote-docker-host');
    const targets: MeterTarget[] = [];
    const server = await runner.launch(await request('ok', {onTarget: (t) => targets.push(t)}));
    expect(targets).toEqual([]);
    expect((await fetch(`${server.baseUrl}/health`)).status).toBe(200);
    await server.stop();
    expect(await stateOf(server.container!.id)).toBeNull();
  });
});
