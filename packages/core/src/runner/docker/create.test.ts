import {describe, expect, it} from 'vitest';
import {cgroupPathOf, containerOptions} from './create.js';
import {dockerEngine, isRemote} from './engine.js';
import {createDockerRunner} from './runner.js';

const base = {image: 'lem/backend-x:1', name: 'lem-x-1', cmd: ['sh', '-c', 'true'], env: {A: '1'}, mounts: [{hostPath: '/m', containerPath: '/models', readOnly: true}], spec: {}, labels: {'lem.backend': 'x'}};

describe('container create options', () => {
  it('host networking, an init, stdin held by lem, the mounts and labels; no GPU request without GPUs', () => {
    const o = containerOptions({...base, gpus: []});
    expect(o).toMatchObject({Image: 'lem/backend-x:1', Env: ['A=1'], Labels: {'lem.backend': 'x'}, OpenStdin: true, StdinOnce: true, Tty: false});
    expect(o.HostConfig).toMatchObject({NetworkMode: 'host', Init: true, Binds: ['/m:/models:ro']});
    expect(o.HostConfig!.DeviceRequests).toBeUndefined();
    expect(o.HostConfig!.CpusetCpus).toBeUndefined();
  });

  it('GPUs by UUID as a device request, with the utility capability for NVML inside', () => {
    const o = containerOptions({...base, gpus: ['GPU-aaaa', 'GPU-bbbb']});
    expect(o.HostConfig!.DeviceRequests).toEqual([{Driver: 'nvidia', DeviceIDs: ['GPU-aaaa', 'GPU-bbbb'], Capabilities: [['gpu']]}]);
    expect(o.Env).toContain('NVIDIA_DRIVER_CAPABILITIES=compute,utility');
  });

  it('the CPUs lem leaves to servers, shared memory, host IPC and ulimits from the backend', () => {
    const o = containerOptions({...base, gpus: [], cpus: [1, 2, 3], spec: {shmSizeBytes: 2 ** 30, ipcHost: true, ulimits: [{name: 'memlock', soft: -1, hard: -1}]}});
    expect(o.HostConfig).toMatchObject({CpusetCpus: '1,2,3', ShmSize: 2 ** 30, IpcMode: 'host', Ulimits: [{Name: 'memlock', Soft: -1, Hard: -1}]});
  });
});

describe('cgroup of a container', () => {
  it('v1: the cpuacct line (controllers mounted apart or together); v2: the unified line', () => {
    expect(cgroupPathOf('12:cpuset:/docker/abc\n4:cpuacct:/docker/abc\n3:cpu:/docker/abc\n')).toBe('/docker/abc');
    expect(cgroupPathOf('5:cpu,cpuacct:/docker/def\n')).toBe('/docker/def');
    expect(cgroupPathOf('0::/system.slice/docker-123.scope\n')).toBe('/system.slice/docker-123.scope');
    expect(cgroupPathOf('garbage')).toBeNull();
  });
});

describe('a remote engine', () => {
  it('is told from a local one by its address', () => {
    expect(isRemote('unix:///var/run/docker.sock')).toBe(false);
    expect(isRemote('tcp://127.0.0.1:2375')).toBe(false);
    expect(isRemote('tcp://gpu-box.example:2376')).toBe(true);
  });

  it('gives every run energy null with reason remote-docker-host', () => {
    const runner = createDockerRunner({engine: dockerEngine('tcp://gpu-box.example:2376'), strategy: 'ephemeral', startup: 'lazy', warmupDelayS: 0, autoTeardown: true, mounts: []});
    expect(runner.energyNullReason).toBe('remote-docker-host');
    expect(createDockerRunner({engine: dockerEngine('unix:///x.sock'), strategy: 'ephemeral', startup: 'lazy', warmupDelayS: 0, autoTeardown: true, mounts: []}).energyNullReason).toBeUndefined();
  });
});
