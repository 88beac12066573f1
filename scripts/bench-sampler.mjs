#!/usr/bin/env node
// Sampler quality and meter cost: the sampler's tick jitter at 100 ms and 10 ms with both CPUs
// loaded by busy processes, and the cost of one read of each meter. RAPL runs on a fake powercap
// tree and NVML on the fake libnvidia-ml (compiled here with gcc) where the machine has neither:
// their costs then measure lem's side (parsing, FFI), not the hardware's. Prints JSON.
// Needs core built: `npx tsc -b packages/core`.
import {execFileSync, spawn} from 'node:child_process';
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs';
import {cpus, tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const core = (p) => import(join(root, 'packages/core/dist', p));
const {startSampler} = await core('meters/sampler.js');
const {createMeter} = await core('meters/create.js');
const {probeRapl} = await core('meters/rapl.js');

const work = mkdtempSync(join(tmpdir(), 'lem-bench-sampler-'));
// A two-socket powercap tree with core and dram zones.
const powercap = join(work, 'powercap');
for (const s of [0, 1]) {
  const pkg = join(powercap, `intel-rapl:${s}`);
  mkdirSync(pkg, {recursive: true});
  writeFileSync(join(pkg, 'name'), `package-${s}\n`);
  writeFileSync(join(pkg, 'energy_uj'), '1000000\n');
  writeFileSync(join(pkg, 'max_energy_range_uj'), '262143328850\n');
  for (const [i, name] of ['core', 'dram'].entries()) {
    const zone = join(powercap, `intel-rapl:${s}`, `intel-rapl:${s}:${i}`);
    mkdirSync(zone, {recursive: true});
    writeFileSync(join(zone, 'name'), `${name}\n`);
    writeFileSync(join(zone, 'energy_uj'), '500000\n');
    writeFileSync(join(zone, 'max_energy_range_uj'), '262143328850\n');
  }
}
const nvmlLib = join(work, 'libnvidia-ml.so.1');
execFileSync('gcc', ['-O2', '-shared', '-fPIC', '-o', nvmlLib, join(root, 'packages/core/src/meters/__fixtures__/fake-nvml.c')]);
const script = join(work, 'nvml-script.txt');
writeFileSync(script, 'driver 555.42.06\ndevice GPU-00000000-0000-0000-0000-000000000001\nname Fake GPU\npower_w 300\ntemp_c 60\nsm_clock_mhz 1980\n');
process.env.FAKE_NVML_SCRIPT = script;

// Load: one busy process per CPU, in one process group the CPU estimate attributes.
const busy = cpus().map(() => spawn(process.execPath, ['-e', 'for(;;){}'], {stdio: 'ignore'}));
const pgid = busy[0].pid;
const meters = (pgidOf) => [
  {kind: 'rapl', root: powercap},
  {kind: 'cpu-estimate', target: {kind: 'process-group', pgid: pgidOf}, cpus: cpus().length},
  {kind: 'nvml', libraryPath: nvmlLib, uuids: ['GPU-00000000-0000-0000-0000-000000000001']},
];

const out = {node: process.version, cpus: cpus().length, load: `${busy.length} busy processes (one per CPU)`, rapl: probeRapl(powercap).available ? 'fake powercap tree' : 'unavailable', nvml: 'fake libnvidia-ml.so.1', jitter: {}, readCostUs: {}};
try {
  for (const intervalMs of [100, 10]) {
    const durationMs = 5000;
    const sampler = await startSampler({meters: meters(pgid), intervalMs, t0Ns: process.hrtime.bigint().toString()});
    await new Promise((r) => setTimeout(r, durationMs));
    const stopped = await sampler.stop();
    const round = (x) => Number(x.toFixed(3));
    out.jitter[`${intervalMs}ms`] = {p50Ms: round(stopped.jitterMs.p50), p99Ms: round(stopped.jitterMs.p99), maxMs: round(stopped.jitterMs.max), ticks: stopped.ticks, missedTicks: stopped.missedTicks, durationS: durationMs / 1000};
  }
  // Cost of one read of each meter, in this (loaded) thread, median of 5 batches of 500 reads.
  for (const config of meters(pgid)) {
    const meter = createMeter(config);
    const t0 = process.hrtime.bigint();
    const batches = [];
    for (let b = 0; b < 5; b++) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < 500; i++) meter.read(t0);
      batches.push(Number(process.hrtime.bigint() - start) / 500 / 1000);
    }
    meter.close?.();
    batches.sort((a, b) => a - b);
    out.readCostUs[config.kind] = Number(batches[2].toFixed(2));
  }
} finally {
  for (const b of busy) b.kill('SIGKILL');
}
console.log(JSON.stringify(out, null, 2));
