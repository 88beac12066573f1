/**
 * The launcher against real processes: the embedded llama.cpp server on a generated tiny model,
 * and a scripted fake server for every way a launch can go wrong. No mocks.
 */
import {existsSync, readFileSync, statSync, writeFileSync} from 'node:fs';
import {createServer, type Server} from 'node:net';
import {join} from 'node:path';
import {afterEach, describe, expect, it} from 'vitest';
import type {RunError} from '../errors.js';
import {fakePids, fakeSpec, sandbox, type Sandbox} from './__fixtures__/helpers.js';
import {classifyFailure, launchLocalServer, liveServerPids, stopAllServers, type RunningServer} from './local.js';
import {findFreePort} from './ports.js';
import {groupAlive, isProcessAlive, pidFilePath, readProcStat} from './proc.js';
// Tests may use the real backend; core's sources may not (lint boundary), hence the relative path.
import {backend, configSchema, writeTinyModel} from '../../../../plugins/backend-llamacpp/dist/index.js';

let sb: Sandbox;
afterEach(() => sb?.cleanup());

/** Runs `launch` expecting a rejection, and returns the run error. */
async function failure(launch: Promise<RunningServer>): Promise<RunError> {
  const error = await launch.then(
    (server) => {
      sb.track(server.pid);
      throw new Error(`launch unexpectedly succeeded (pid ${server.pid})`);
    },
    (e: unknown) => e as RunError,
  );
  return error;
}

/** Every process the fake servers of this test started is gone. */
function expectNothingLeft(): void {
  const pids = fakePids(sb);
  expect(pids.length).toBeGreaterThan(0);
  expect(pids.filter((pid) => isProcessAlive(pid))).toEqual([]);
  expect(liveServerPids()).toEqual([]);
}

describe('launchLocalServer with the embedded llama.cpp server', () => {
  it('launches, is ready, answers on baseUrl, records a pid file, and stops gracefully', async () => {
    sb = sandbox();
    const model = await writeTinyModel(join(sb.root, 'tiny.gguf'), {seed: 1});
    const port = await findFreePort();
    const cfg = configSchema.parse({threads: 1, parallel: 1, gpu_layers: 0});
    const spec = backend.server(cfg, {model: model.path, port, gpus: [], workdir: sb.workdir, threads: 1, runner: 'local'});
    const lines: string[] = [];
    const server = await launchLocalServer({spec, model: model.path, stateDir: sb.stateDir, workdir: sb.workdir, readinessTimeoutS: 30, onLine: (line) => lines.push(line)});
    sb.track(server.pid);

    expect(server.baseUrl).toBe(`http://127.0.0.1:${port}`);
    expect(server.argv[0]).toMatch(/\/setpriv$/);
    expect(server.argv.slice(1)).toEqual(['--pdeathsig', 'SIGTERM', '--', ...spec.argv]);
    expect(server.readyAtMs).toBeGreaterThan(0);
    expect(server.isRunning()).toBe(true);
    expect(readProcStat(server.pid)?.pgid).toBe(server.pid);
    const health = await fetch(`${server.baseUrl}/health`);
    expect(health.status).toBe(200);
    expect(lines.some((line) => line.startsWith(`listening on http://127.0.0.1:${port}`))).toBe(true);
    expect(server.outputTail()).toEqual(lines);

    const record = JSON.parse(readFileSync(pidFilePath(sb.stateDir, server.pid), 'utf8')) as Record<string, unknown>;
    expect(record).toMatchObject({pid: server.pid, pgid: server.pid, startTime: readProcStat(server.pid)!.startTime, lemPid: process.pid, argv: server.argv});
    expect(record.lemStartTime).toBe(readProcStat(process.pid)!.startTime);

    const stopped = await server.stop();
    expect(stopped).toMatchObject({code: 0, signal: null, forced: false});
    expect(stopped.durationMs).toBeLessThan(5_000);
    expect(await server.stop()).toBe(stopped); // idempotent: the same result
    expect(server.isRunning()).toBe(false);
    expect(await server.exited).toEqual({code: 0, signal: null, oomKilled: null});
    expect(existsSync(pidFilePath(sb.stateDir, server.pid))).toBe(false);
    expect(groupAlive(server.pid)).toBe(false);
  });

  it('classifies an invalid model as a config failure with the server output', async () => {
    sb = sandbox();
    const port = await findFreePort();
    const cfg = configSchema.parse({threads: 1, parallel: 1, gpu_layers: 0});
    const bogus = join(sb.root, 'not-a-model.gguf');
    writeFileSync(bogus, 'this is not GGUF');
    const spec = backend.server(cfg, {model: bogus, port, gpus: [], workdir: sb.workdir, threads: 1, runner: 'local'});
    const error = await failure(launchLocalServer({spec, model: bogus, stateDir: sb.stateDir, workdir: sb.workdir, readinessTimeoutS: 30}));
    expect(error).toMatchObject({code: 'E_SERVER_EXITED', category: 'config'});
    expect(error.message).toMatch(/exited with code 2 during launch: .*E_MODEL_INVALID/);
    expect(error.details?.some((d) => d.message.includes('E_MODEL_INVALID'))).toBe(true);
    expect(liveServerPids()).toEqual([]);
  });
});

describe('launchLocalServer with scripted servers', () => {
  it('waits through 503s, sends the probe with the model, passes env, files and CPU pinning', async () => {
    sb = sandbox();
    const port = await findFreePort();
    const spec = fakeSpec(sb, port, ['--mode', 'ready', '--ready-after-ms', '400', '--cat', 'conf/engine.yaml', '--print-env', 'LEM_TEST_VAR'], {
      env: {FAKE_PID_DIR: sb.pidDir, LEM_TEST_VAR: 'forty-two'},
      files: [{path: 'conf/engine.yaml', contents: 'max_num_seqs: 4', mode: 0o600}],
    });
    // The first CPU this process may use (CPU 0 may be outside a restricted cpuset).
    const cpu = Number(/^Cpus_allowed_list:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
    const server = await launchLocalServer({spec, model: 'my-model', stateDir: sb.stateDir, workdir: sb.workdir, cpus: [cpu]});
    sb.track(server.pid);
    expect(server.readyAtMs).toBeGreaterThanOrEqual(400);
    expect(server.argv[4]).toMatch(/\/taskset$/);
    expect(server.argv.slice(5, 7)).toEqual(['-c', String(cpu)]);
    expect(server.pinnedCpus).toEqual([cpu]);
    expect(readFileSync(`/proc/${server.pid}/status`, 'utf8')).toMatch(new RegExp(`^Cpus_allowed_list:\\s+${cpu}$`, 'm'));
    await expect.poll(() => server.outputTail(), {timeout: 2_000}).toContain('probe model=my-model');
    expect(server.outputTail()).toContain('cat max_num_seqs: 4');
    expect(statSync(join(sb.workdir, 'conf/engine.yaml')).mode & 0o777).toBe(0o600);
    expect(server.outputTail()).toContain('env LEM_TEST_VAR=forty-two');
    expect((await server.stop()).forced).toBe(false);
  });

  it('fails with E_SERVER_NOT_READY after the readiness timeout and leaves nothing running', async () => {
    sb = sandbox();
    const port = await findFreePort();
    const started = Date.now();
    const error = await failure(
      launchLocalServer({spec: fakeSpec(sb, port, ['--mode', 'never-ready']), model: 'm', stateDir: sb.stateDir, workdir: sb.workdir, readinessTimeoutS: 1.5}),
    );
    const elapsedMs = Date.now() - started;
    expect(error).toMatchObject({code: 'E_SERVER_NOT_READY', category: 'runtime'});
    expect(error.message).toContain('GET /health answered 503');
    expect(error.details).toContainEqual({path: 'stdout', message: `listening on http://127.0.0.1:${port}`});
    expect(elapsedMs).toBeGreaterThanOrEqual(1_500);
    expect(elapsedMs).toBeLessThan(1_500 + 1_000 + 2_000); // timeout + grace + margin
    expectNothingLeft();
  });

  it('fails with E_SERVER_EXITED, the category from errorPatterns and the output tail', async () => {
    sb = sandbox();
    const port = await findFreePort();
    const spec = fakeSpec(sb, port, ['--mode', 'die', '--die-after-ms', '200', '--exit-code', '1', '--stderr', 'CUDA error: out of memory'], {
      errorPatterns: {resource: ['CUDA error: out of memory'], config: ['E_MODEL_INVALID']},
    });
    const error = await failure(launchLocalServer({spec, model: 'm', stateDir: sb.stateDir, workdir: sb.workdir}));
    expect(error).toMatchObject({code: 'E_SERVER_EXITED', category: 'resource', exitCode: 1});
    expect(error.message).toBe('the server exited with code 1 during launch: CUDA error: out of memory');
    expect(error.details).toEqual([{path: 'stderr', message: 'CUDA error: out of memory'}]);
    expect(error.try.length).toBeGreaterThan(0);
    expect(existsSync(pidFilePath(sb.stateDir, fakePids(sb)[0]!))).toBe(false);
    expectNothingLeft();
  });

  it('maps a server that could not bind its port to E_PORT_IN_USE (config)', async () => {
    sb = sandbox();
    const port = await findFreePort();
    const spec = fakeSpec(sb, port, ['--mode', 'die', '--exit-code', '3', '--stderr', `Error E_PORT_IN_USE: port ${port} is in use`]);
    const error = await failure(launchLocalServer({spec, model: 'm', stateDir: sb.stateDir, workdir: sb.workdir}));
    expect(error).toMatchObject({code: 'E_PORT_IN_USE', category: 'config', exitCode: 1});
    expect(error.try.join('\n')).toMatch(/another port/);
    expectNothingLeft();
  });

  it('refuses a port that is already taken before starting anything', async () => {
    sb = sandbox();
    const blocker: Server = createServer();
    const port = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as {port: number}).port)));
    try {
      const error = await failure(launchLocalServer({spec: fakeSpec(sb, port, ['--mode', 'ready']), model: 'm', stateDir: sb.stateDir, workdir: sb.workdir}));
      expect(error).toMatchObject({code: 'E_PORT_IN_USE', category: 'config'});
      expect(error.message).toContain(String(port));
      expect(fakePids(sb)).toEqual([]); // never started
    } finally {
      blocker.close();
    }
  });

  it('forces SIGKILL on a server that ignores SIGTERM, after the grace, including its group', async () => {
    sb = sandbox();
    const port = await findFreePort();
    const spec = fakeSpec(sb, port, ['--mode', 'ready', '--ignore-term', '--grandchild'], {stop: {signal: 'SIGTERM', graceS: 0.5}});
    const server = await launchLocalServer({spec, model: 'm', stateDir: sb.stateDir, workdir: sb.workdir});
    sb.track(server.pid);
    const grandchild = Number(server.outputTail().find((l) => l.startsWith('grandchild '))!.split(' ')[1]);
    expect(isProcessAlive(grandchild)).toBe(true);
    const stopped = await server.stop();
    expect(stopped).toMatchObject({code: null, signal: 'SIGKILL', forced: true});
    expect(stopped.durationMs).toBeGreaterThanOrEqual(500);
    expect(stopped.durationMs).toBeLessThan(500 + 3_000);
    expect(server.outputTail()).toContain('ignoring SIGTERM'); // it did get the stop signal first
    expect(isProcessAlive(grandchild)).toBe(false);
    expect(existsSync(pidFilePath(sb.stateDir, server.pid))).toBe(false);
    expectNothingLeft();
  });

  it('fails with E_SERVER_HUNG when the server says and answers nothing for watchdogS', async () => {
    sb = sandbox();
    const port = await findFreePort();
    const started = Date.now();
    const error = await failure(
      launchLocalServer({spec: fakeSpec(sb, port, ['--mode', 'hang']), model: 'm', stateDir: sb.stateDir, workdir: sb.workdir, readinessTimeoutS: 30, watchdogS: 1}),
    );
    expect(error).toMatchObject({code: 'E_SERVER_HUNG', category: 'runtime'});
    expect(Date.now() - started).toBeLessThan(1_000 + 1_000 + 2_000); // watchdog + grace + margin, far below the timeout
    expectNothingLeft();
  });

  it('keeps a silent server that answers HTTP alive past the watchdog (loading a large model)', async () => {
    sb = sandbox();
    const port = await findFreePort();
    // Prints one line at start, then only answers 503 for 1.5 s: longer than the 0.6 s watchdog.
    const server = await launchLocalServer({
      spec: fakeSpec(sb, port, ['--mode', 'ready', '--ready-after-ms', '1500']),
      model: 'm',
      stateDir: sb.stateDir,
      workdir: sb.workdir,
      watchdogS: 0.6,
    });
    sb.track(server.pid);
    expect(server.readyAtMs).toBeGreaterThanOrEqual(1_500);
    await server.stop();
  });

  it('stops the launch and the server on abort, rejecting as interrupted', async () => {
    sb = sandbox();
    const port = await findFreePort();
    const controller = new AbortController();
    const launch = launchLocalServer({
      spec: fakeSpec(sb, port, ['--mode', 'never-ready', '--grandchild']),
      model: 'm',
      stateDir: sb.stateDir,
      workdir: sb.workdir,
      signal: controller.signal,
      onLine: (line) => {
        if (line.startsWith('listening on')) setTimeout(() => controller.abort(), 100);
      },
    });
    const error = await failure(launch);
    expect(error).toMatchObject({code: 'E_INTERRUPTED', category: 'interrupted', exitCode: 130});
    expect(fakePids(sb)).toHaveLength(2); // server and grandchild both started…
    expectNothingLeft(); // …and both are gone
    expect(await failure(launchLocalServer({spec: fakeSpec(sb, port, ['--mode', 'ready']), model: 'm', stateDir: sb.stateDir, workdir: sb.workdir, signal: controller.signal}))).toMatchObject({
      code: 'E_INTERRUPTED',
    });
  });

  it('ends a launch in progress as interrupted when stopAllServers is called', async () => {
    sb = sandbox();
    const port = await findFreePort();
    let stopping: Promise<number[]> | undefined;
    const launch = launchLocalServer({
      spec: fakeSpec(sb, port, ['--mode', 'never-ready']),
      model: 'm',
      stateDir: sb.stateDir,
      workdir: sb.workdir,
      onLine: (line) => {
        if (line.startsWith('listening on')) stopping = stopAllServers();
      },
    });
    expect(await failure(launch)).toMatchObject({code: 'E_INTERRUPTED', category: 'interrupted'});
    expect(await stopping).toEqual(fakePids(sb));
    expectNothingLeft();
  });

  it('reports a server that exits after ready through exited, and sweeps its pid file', async () => {
    sb = sandbox();
    const port = await findFreePort();
    const server = await launchLocalServer({spec: fakeSpec(sb, port, ['--mode', 'ready']), model: 'm', stateDir: sb.stateDir, workdir: sb.workdir});
    sb.track(server.pid);
    process.kill(server.pid, 'SIGKILL');
    expect(await server.exited).toEqual({code: null, signal: 'SIGKILL', oomKilled: null});
    expect(server.isRunning()).toBe(false);
    expect(existsSync(pidFilePath(sb.stateDir, server.pid))).toBe(false);
    expect(await server.stop()).toMatchObject({signal: 'SIGKILL', forced: false});
  });
});

describe('classifyFailure', () => {
  const spec = {errorPatterns: {resource: ['failed to allocate'], config: ['E_MODEL_INVALID']}};
  it('reads the backend patterns, core known texts, ports and exit codes', () => {
    expect(classifyFailure(['loading', 'ggml: failed to allocate buffer'], 1, spec)).toBe('resource');
    expect(classifyFailure(['Error E_MODEL_INVALID: bad magic'], 2, spec)).toBe('config');
    expect(classifyFailure(['torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2 GiB'], 1, {})).toBe('resource');
    expect(classifyFailure(['OSError: [Errno 28] No space left on device'], 1, {})).toBe('resource');
    expect(classifyFailure(['ERROR: [Errno 98] error while attempting to bind on address: address already in use'], 1, {})).toBe('config');
    expect(classifyFailure(['setpriv: failed to execute vllm: No such file or directory'], 127, {})).toBe('config');
    expect(classifyFailure(['Segmentation fault'], 139, spec)).toBe('runtime');
    expect(classifyFailure([], null, spec)).toBe('runtime');
  });
});
