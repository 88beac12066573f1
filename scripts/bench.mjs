#!/usr/bin/env node
// `pnpm bench [cli|server|driver|sampler|meters|timeline|wrk|campaign|images|runners|report|slurm]`: CLI cold start (median of
// 10 runs each; `lem backends` also with the tensorrt plugin linked, so with every backend), the embedded server's tokens/s, the workload driver's capacity, the meters'
// overhead on tokens/s, the memory of a long run's timeline, the driver beside `wrk`, and what a
// campaign costs beyond its experiments (planning, state updates, resume, per-run overhead), and the
// image check before a docker run (skipped without a Docker engine), and `lem report` on campaigns of 10, 100 and 500 runs, and the Slurm executor's polling and per-job costs. Prints one JSON
// document; docs/benchmarks.md records the figures with this command. The `wrk` part needs wrk
// installed: the whole run skips it with a note when it is missing, `pnpm bench wrk` fails.
import {spawnSync} from 'node:child_process';
import {mkdtempSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const lem = join(root, 'packages/cli/bin/run.js');
const home = mkdtempSync(join(tmpdir(), 'lem-bench-'));
const env = {...process.env, LEM_DATA_DIR: join(home, 'data'), LEM_CACHE_DIR: join(home, 'cache'), LEM_CONFIG_DIR: join(home, 'config')};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function coldStart(args, runs = 10) {
  const seconds = [];
  // One unmeasured run first, so the file cache is warm for every measured run alike.
  spawnSync(process.execPath, [lem, ...args], {env, cwd: home});
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [lem, ...args], {env, cwd: home, encoding: 'utf8'});
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) throw new Error(`lem ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    seconds.push(dt);
  }
  return {medianS: Number(median(seconds).toFixed(3)), minS: Number(Math.min(...seconds).toFixed(3)), maxS: Number(Math.max(...seconds).toFixed(3)), runs};
}

const only = process.argv[2];
const out = {node: process.version, cpus: (await import('node:os')).cpus().length};
if (!only || only === 'cli') {
  out.coldStart = {'lem --version': coldStart(['--version']), 'lem backends': coldStart(['backends'])};
  // With the one backend that is not bundled linked in as a user plugin: every backend lem has.
  const link = spawnSync(process.execPath, [lem, 'plugins', 'link', join(root, 'plugins/backend-tensorrt'), '--no-install'], {env, cwd: home, encoding: 'utf8'});
  if (link.status !== 0) throw new Error(`lem plugins link exited ${link.status}: ${link.stderr}`);
  out.coldStart['lem backends (tensorrt linked)'] = coldStart(['backends']);
}
// Each part runs in its own process, so one part's warm JIT or open handles never help another.
for (const [part, script] of [['server', 'bench-server.mjs'], ['driver', 'bench-driver.mjs'], ['sampler', 'bench-sampler.mjs'], ['meters', 'bench-meters.mjs'], ['timeline', 'bench-timeline.mjs'], ['wrk', 'bench-wrk.mjs'], ['campaign', 'bench-campaign.mjs'], ['images', 'bench-images.mjs'], ['runners', 'bench-runners.mjs'], ['report', 'bench-report.mjs'], ['slurm', 'bench-slurm.mjs']]) {
  if (only && only !== part) continue;
  if (part === 'wrk' && !only && spawnSync('wrk', ['-v']).error) {
    console.error('bench: skipping the `wrk` part: wrk is not installed (apt-get install wrk; then `pnpm bench wrk`)');
    out[part] = {skipped: 'wrk is not installed'};
    continue;
  }
  const r = spawnSync(process.execPath, [join(root, 'scripts', script)], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit']});
  if (r.status !== 0) throw new Error(`${script} exited ${r.status}`);
  out[part] = JSON.parse(r.stdout);
}
console.log(JSON.stringify(out, null, 2));
