import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {findFreePort} from '../ports.js';
import {cgroupPathOf, containerCreateOptions, containerEnv, containerKey, containerLabels, type ContainerPlan, type KeyInput} from './create.js';
import {dockerEngine, isRemote, Labels, serverHost} from './engine.js';
import {exitOf} from './containers.js';
import {createDockerRunner, type DockerRunnerOptions} from './runner.js';

const plan: ContainerPlan = {
  image: 'lem/backend-x:1',
  name: 'lem-x-1',
  cmd: ['sh', '-c', 'true'],
  env: {A: '1'},
  mounts: [{hostPath: '/m', containerPath: '/models', readOnly: true}],
  gpus: [],
  shape: {},
  labels: {'lem.backend': 'x'},
  holdStdin: true,
};

describe('container create options', () => {
  it('host networking, an init, stdin held by lem, bind mounts and labels; no GPU request, cpuset or shape without them', () => {
    const o = containerCreateOptions(plan);
    expect(o).toMatchObject({name: 'lem-x-1', Image: 'lem/backend-x:1', Cmd: ['sh', '-c', 'true'], Env: ['A=1'], Labels: {'lem.backend': 'x'}, OpenStdin: true, StdinOnce: true, AttachStdin: true, Tty: false});
    expect(o.HostConfig).toEqual({NetworkMode: 'host', Init: true, Mounts: [{Type: 'bind', Source: '/m', Target: '/models', ReadOnly: true}]});
    expect(o.HostConfig).not.toHaveProperty('AutoRemove');
  });

  it('GPUs by UUID as one nvidia device request, with NVIDIA_DRIVER_CAPABILITIES compute,utility', () => {
    const o = containerCreateOptions({...plan, gpus: ['GPU-aaaa', 'GPU-bbbb']});
    expect(o.HostConfig!.DeviceRequests).toEqual([{Driver: 'nvidia', DeviceIDs: ['GPU-aaaa', 'GPU-bbbb'], Capabilities: [['gpu']]}]);
    expect(o.Env).toEqual(['A=1', 'NVIDIA_DRIVER_CAPABILITIES=compute,utility']);
    expect(containerCreateOptions(plan).Env).toEqual(['A=1']);
  });

  it("keeps a backend's own capabilities, adding compute and utility", () => {
    expect(containerEnv({NVIDIA_DRIVER_CAPABILITIES: 'video'}, ['GPU-a']).NVIDIA_DRIVER_CAPABILITIES).toBe('compute,utility,video');
    expect(containerEnv({NVIDIA_DRIVER_CAPABILITIES: 'all'}, ['GPU-a']).NVIDIA_DRIVER_CAPABILITIES).toBe('all');
    expect(containerEnv({NVIDIA_DRIVER_CAPABILITIES: 'video'}, [])).toEqual({NVIDIA_DRIVER_CAPABILITIES: 'video'});
  });

  it('the CPUs lem leaves to servers as CpusetCpus; shared memory, host IPC, ulimits; the stop signal; extra host settings last', () => {
    const o = containerCreateOptions({
      ...plan,
      cpus: [3, 1, 2],
      shape: {shmSizeBytes: 2 ** 30, ipcHost: true, ulimits: [{name: 'memlock', soft: -1, hard: -1}]},
      stopSignal: 'SIGINT',
      extraHostConfig: {Memory: 64 * 2 ** 20, NetworkMode: 'none'},
    });
    expect(o.StopSignal).toBe('SIGINT');
    expect(o.HostConfig).toMatchObject({CpusetCpus: '1,2,3', ShmSize: 2 ** 30, IpcMode: 'host', Ulimits: [{Name: 'memlock', Soft: -1, Hard: -1}], Memory: 64 * 2 ** 20, NetworkMode: 'none'});
  });

  it('every mount once: the same host path at the same place twice is one mount; a working folder when given', () => {
    const work = {hostPath: '/w/1', containerPath: '/w/1'};
    const o = containerCreateOptions({...plan, mounts: [...plan.mounts, work, {...work}, {hostPath: '/usr', containerPath: '/usr', readOnly: true}], workingDir: '/w/1'});
    expect(o.HostConfig!.Mounts!.map((m) => `${m.Source}:${m.Target}:${m.ReadOnly ? 'ro' : 'rw'}`)).toEqual(['/m:/models:ro', '/w/1:/w/1:rw', '/usr:/usr:ro']);
    expect(o.WorkingDir).toBe('/w/1');
  });

  it('a container without a held stdin (a kept one) does not open it', () => {
    expect(containerCreateOptions({...plan, holdStdin: false})).toMatchObject({OpenStdin: false, StdinOnce: false, AttachStdin: false});
  });
});

describe('labels', () => {
  const owner = {[Labels.managed]: 'true', [Labels.host]: 'h', [Labels.pid]: '42', [Labels.pidStart]: '7'};
  const backend = {id: 'vllm', pluginVersion: '1.2.3'};

  it('an ephemeral container: owner, campaign, experiment, backend, plugin version, strategy; no key, not kept', () => {
    expect(containerLabels({owner, backend, strategy: 'ephemeral', campaign: 'c', experiment: 'e'})).toEqual({
      ...owner,
      'lem.campaign': 'c',
      'lem.experiment': 'e',
      'lem.backend': 'vllm',
      'lem.plugin.version': '1.2.3',
      'lem.strategy': 'ephemeral',
    });
  });

  it('a persistent container: its key, and lem.keep=true only when kept', () => {
    expect(containerLabels({owner, backend, strategy: 'persistent', key: 'k1'})).toMatchObject({'lem.strategy': 'persistent', 'lem.container.key': 'k1'});
    expect(containerLabels({owner, backend, strategy: 'persistent', key: 'k1'})).not.toHaveProperty('lem.keep');
    expect(containerLabels({owner, backend, strategy: 'persistent', key: 'k1', keep: true})).toMatchObject({'lem.keep': 'true'});
  });
});

describe('the persistent container key', () => {
  const input: KeyInput = {backendId: 'vllm', image: 'lem/vllm:1', gpus: ['GPU-a', 'GPU-b'], mounts: [{hostPath: '/m', containerPath: '/models', readOnly: true}, {hostPath: '/w', containerPath: '/w'}], shape: {shmSizeBytes: 1024}};
  const key = containerKey(input);

  it('does not depend on the order of GPUs and mounts, nor on the order of keys in extra settings', () => {
    expect(containerKey({...input, gpus: ['GPU-b', 'GPU-a'], mounts: [...input.mounts].reverse()})).toBe(key);
    expect(containerKey({...input, extraHostConfig: {Memory: 1, MemorySwap: 2}})).toBe(containerKey({...input, extraHostConfig: {MemorySwap: 2, Memory: 1}}));
  });

  it('differs with the backend, image, GPU set, mounts, create options and extra settings', () => {
    const variants: KeyInput[] = [
      {...input, backendId: 'trt'},
      {...input, image: 'lem/vllm:2'},
      {...input, gpus: ['GPU-a']},
      {...input, mounts: [{hostPath: '/m', containerPath: '/models'}, input.mounts[1]!]},
      {...input, shape: {shmSizeBytes: 2048}},
      {...input, shape: {...input.shape, ipcHost: true}},
      {...input, shape: {...input.shape, ulimits: [{name: 'memlock', soft: -1, hard: -1}]}},
      {...input, extraHostConfig: {Memory: 1}},
    ];
    const keys = variants.map(containerKey);
    expect(new Set([key, ...keys]).size).toBe(variants.length + 1);
  });
});

describe('cgroup of a container', () => {
  it('v1: the cpuacct line (controllers mounted apart or together); v2: the unified line; else null', () => {
    expect(cgroupPathOf('12:cpuset:/docker/abc\n4:cpuacct:/docker/abc\n3:cpu:/docker/abc\n')).toBe('/docker/abc');
    expect(cgroupPathOf('5:cpu,cpuacct:/docker/def\n0::/ignored\n')).toBe('/docker/def');
    expect(cgroupPathOf('0::/system.slice/docker-123.scope\n')).toBe('/system.slice/docker-123.scope');
    expect(cgroupPathOf('garbage')).toBeNull();
  });
});

describe('exit statuses', () => {
  it('128+n is signal n; the engine’s word on memory is kept as given', () => {
    expect(exitOf(0, false)).toEqual({code: 0, signal: null, oomKilled: false});
    expect(exitOf(137, true)).toEqual({code: 137, signal: 'SIGKILL', oomKilled: true});
    expect(exitOf(143, false)).toEqual({code: 143, signal: 'SIGTERM', oomKilled: false});
    expect(exitOf(3, false)).toEqual({code: 3, signal: null, oomKilled: false});
    expect(exitOf(null, null)).toEqual({code: null, signal: null, oomKilled: null});
  });
});

describe('a remote engine', () => {
  const options = {strategy: 'ephemeral', startup: 'lazy', warmupDelayS: 0, autoTeardown: true, mounts: []} satisfies Omit<DockerRunnerOptions, 'engine'>;

  it('is told from a local one by its address; its servers are reached at its host', () => {
    expect(isRemote('unix:///var/run/docker.sock')).toBe(false);
    expect(isRemote('tcp://127.0.0.1:2375')).toBe(false);
    expect(isRemote('tcp://gpu-box.example:2376')).toBe(true);
    expect(serverHost(dockerEngine('tcp://gpu-box.example:2376'))).toBe('gpu-box.example');
    expect(serverHost(dockerEngine('unix:///x.sock'))).toBe('127.0.0.1');
  });

  it('gives every run energy null with reason remote-docker-host', () => {
    expect(createDockerRunner({...options, engine: dockerEngine('tcp://gpu-box.example:2376')}).energyNullReason).toBe('remote-docker-host');
    expect(createDockerRunner({...options, engine: dockerEngine('unix:///x.sock')}).energyNullReason).toBeUndefined();
  });

});

describe('the docker runner, before any engine call', () => {
  const options = {strategy: 'ephemeral', startup: 'lazy', warmupDelayS: 0, autoTeardown: true, mounts: []} satisfies Omit<DockerRunnerOptions, 'engine'>;

  it('a backend without an image is a config error naming it', async () => {
    const runner = createDockerRunner({...options, engine: dockerEngine('unix:///nonexistent.sock')});
    const spec = {argv: ['x'], env: {}, port: 1, readiness: {healthPath: '/h', timeoutS: 1}};
    const error = await runner.launch({spec, model: 'm', stateDir: '/tmp', workdir: '/tmp/w', backend: {id: 'llamacpp', pluginVersion: '1'}}).catch((e) => e);
    expect(error).toMatchObject({code: 'E_NO_IMAGE', exitCode: 2});
    expect(error.message).toContain('llamacpp');
  });

  it('an engine that does not answer: E_DOCKER_UNREACHABLE naming its address', async () => {
    const workdir = mkdtempSync(join(tmpdir(), 'lem-docker-unit-'));
    const runner = createDockerRunner({...options, engine: dockerEngine('unix:///nonexistent/docker.sock')});
    const spec = {argv: ['x'], env: {}, port: await findFreePort(), readiness: {healthPath: '/h', timeoutS: 1}};
    const error = await runner.launch({spec, model: 'm', stateDir: workdir, workdir, backend: {id: 'x', image: 'lem/x:1', pluginVersion: '1'}}).catch((e) => e);
    expect(error).toMatchObject({code: 'E_DOCKER_UNREACHABLE'});
    expect(error.message).toContain('unix:///nonexistent/docker.sock');
    rmSync(workdir, {recursive: true, force: true});
  });
});
