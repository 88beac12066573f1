/**
 * `lem doctor` on this machine as it is (no GPU, no powercap tree here), and with the hardware
 * simulated at its lowest boundary: a fake NVML library and a fake powercap tree. Docker is the
 * tests' private engine when DOCKER_HOST names one.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {compileFakeNvml, type FakeNvml} from '../../core/src/meters/__fixtures__/fake-nvml.js';
import {makeRaplTree, type FakeRapl} from '../../core/src/meters/__fixtures__/fake-trees.js';
import {freshHome, lem} from './helpers.js';

interface Diagnosis {
  machine: {os: string; cpuModel: string; cores: number; memoryGiB: number};
  checks: Array<{id: string; verdict: string; detail: string; try: string[]}>;
  canRun: boolean;
}

let nvml: FakeNvml;
let rapl: FakeRapl;
let script: string;
beforeAll(() => {
  nvml = compileFakeNvml();
  script = nvml.use({driver: '555.42.06', devices: [{uuid: 'GPU-1111', name: 'Fake H100', powerW: 100, powerLimitMw: 700_000}]});
  rapl = makeRaplTree({sockets: 1, subZones: ['dram']});
});
afterAll(() => {
  nvml?.cleanup();
  rapl?.cleanup();
});

const verdicts = (d: Diagnosis) => Object.fromEntries(d.checks.map((c) => [c.id, c.verdict]));

describe('lem doctor', () => {
  it('says what is missing here, with a fix for each, and that the embedded backend still runs', () => {
    const run = lem(['doctor', '--json'], {home: freshHome(), env: {LEM_NVML_LIBRARY: '/nonexistent/libnvidia-ml.so.1', LEM_POWERCAP_ROOT: '/nonexistent/powercap', DOCKER_HOST: 'unix:///nonexistent/docker.sock'}});
    expect(run.status, run.stderr).toBe(0);
    const d = JSON.parse(run.stdout) as Diagnosis;
    expect(d.machine.cores).toBeGreaterThan(0);
    expect(verdicts(d)).toEqual({node: 'ok', gpus: 'warning', 'cpu-energy': 'warning', docker: 'warning', plugins: 'ok', images: 'warning', run: 'ok'});
    for (const c of d.checks.filter((x) => x.id !== 'images' && x.verdict !== 'ok')) expect(c.try.length, c.id).toBeGreaterThan(0);
    expect(d.checks.find((c) => c.id === 'plugins')!.detail).toBe('backends: llamacpp, pytorch, sglang, vllm; notifiers: discord, slack');
    expect(d.canRun).toBe(true);
  });

  it('reads the GPUs with driver and power limit, and the CPU energy counters, where they are', () => {
    const run = lem(['doctor'], {home: freshHome(), env: {LEM_NVML_LIBRARY: nvml.libraryPath, FAKE_NVML_SCRIPT: script, LEM_POWERCAP_ROOT: rapl.root}});
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^GPUs \(NVML\) +ok +driver 555\.42\.06: GPU 0 Fake H100, power limit 700 W$/m);
    expect(run.stdout).toMatch(/^CPU energy \(RAPL\) +ok +2 zones readable under /m);
    expect(run.stdout).not.toMatch(/^Try \(GPUs/m);
  });

  it('checks Docker, its NVIDIA runtime and the images, when an engine answers', (ctx) => {
    if (!process.env.DOCKER_HOST) {
      if (process.env.CI === 'true') throw new Error('CI: no DOCKER_HOST for the private engine');
      return ctx.skip('no DOCKER_HOST');
    }
    const d = JSON.parse(lem(['doctor', '--json'], {home: freshHome()}).stdout) as Diagnosis;
    const docker = d.checks.find((c) => c.id === 'docker')!;
    expect(docker.verdict).toBe('ok');
    expect(docker.detail).toMatch(/^Docker \S+ at .+; NVIDIA runtime absent$/);
    expect(d.checks.find((c) => c.id === 'images')!.detail).toMatch(/\bllamacpp (present|missing|stale), pytorch missing, sglang missing, vllm missing$/);
  });
});
