#!/usr/bin/env node
// Meter overhead: output tokens/s of the same experiment with every meter on and with none, on the tiny
// model, interleaved (on, off, on, off, …) so drift hits both alike. Prints JSON with the median
// of each and their ratio (on ÷ off; 1.00 = no overhead).
import {execFileSync, spawnSync} from 'node:child_process';
import {mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const lem = join(root, 'packages/cli/bin/run.js');
const work = mkdtempSync(join(tmpdir(), 'lem-bench-meters-'));
const env = {...process.env, LEM_DATA_DIR: join(work, 'data'), LEM_CACHE_DIR: join(work, 'cache'), LEM_CONFIG_DIR: join(work, 'config')};
const reps = Number(process.env.REPS ?? 3);

const run = (args) => {
  const r = spawnSync(process.execPath, [lem, ...args], {cwd: work, env, encoding: 'utf8'});
  if (r.status !== 0) throw new Error(`lem ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
};
run(['llamacpp', 'tiny-model', join(work, 'tiny.gguf')]);
const base = `model: tiny.gguf
dataset: {kind: builtin, n_prompts: 120, max_input_tokens: 64}
workload: {concurrency: 1, max_output_tokens: 128}
warmup: {mode: fixed, requests: 10}
measure: {baseline_s: 1}
llamacpp: {threads: 1, parallel: 1}
`;
// "all": every meter lem runs at once — RAPL and NVML (the CPU estimate stands in for RAPL where
// there is none, never beside it: both would count the CPU). This machine has no RAPL and no GPU, so RAPL reads a fake
// powercap tree and NVML the fake libnvidia-ml (compiled here with gcc): their cost on lem's side
// (file parsing, FFI calls in the sampler thread) is what competes with the server.
const powercap = join(work, 'powercap', 'intel-rapl:0');
mkdirSync(join(powercap, 'intel-rapl:0:0'), {recursive: true});
for (const [dir, name] of [[powercap, 'package-0'], [join(powercap, 'intel-rapl:0:0'), 'dram']]) {
  writeFileSync(join(dir, 'name'), `${name}\n`);
  writeFileSync(join(dir, 'energy_uj'), '1000000\n');
  writeFileSync(join(dir, 'max_energy_range_uj'), '262143328850\n');
}
const nvmlLib = join(work, 'libnvidia-ml.so.1');
execFileSync('gcc', ['-O2', '-shared', '-fPIC', '-o', nvmlLib, join(root, 'packages/core/src/meters/__fixtures__/fake-nvml.c')]);
writeFileSync(join(work, 'nvml.txt'), 'driver 555.42.06\ndevice GPU-00000000-0000-0000-0000-000000000001\nname Fake GPU\npower_w 300\n');
Object.assign(env, {LEM_POWERCAP_ROOT: join(work, 'powercap'), LEM_NVML_LIBRARY: nvmlLib, FAKE_NVML_SCRIPT: join(work, 'nvml.txt')});
writeFileSync(join(work, 'on.yaml'), `name: meters-on\ngpus: [0]\n${base.replace('measure: {baseline_s: 1}', 'measure: {baseline_s: 1, meters: [rapl, nvml]}').replace('parallel: 1}', 'parallel: 1, gpu_layers: 0}')}`);
writeFileSync(join(work, 'off.yaml'), `name: meters-off\n${base.replace('measure: {baseline_s: 1}', 'measure: {baseline_s: 1, meters: []}')}`);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const tokensPerS = {on: [], off: []};
let meters = null;
for (let i = 0; i < reps; i++) {
  for (const which of ['on', 'off']) {
    const out = JSON.parse(run(['experiment', `${which}.yaml`, '--json']));
    const result = JSON.parse(readFileSync(join(out.runDir, 'result.json'), 'utf8'));
    tokensPerS[which].push(result.metrics.outputTokensPerS);
    if (which === 'on') meters = [...new Set(result.meters.channels.map((c) => c.meter))];
  }
}
const on = median(tokensPerS.on);
const off = median(tokensPerS.off);
console.log(JSON.stringify({meters, repetitions: reps, outputTokensPerS: {on: Math.round(on), off: Math.round(off), runsOn: tokensPerS.on.map(Math.round), runsOff: tokensPerS.off.map(Math.round)}, ratioOnOff: Number((on / off).toFixed(3))}, null, 2));
