#!/usr/bin/env node
// `pnpm bench runners`: what a run costs in server orchestration beyond the server's own start,
// per runner — local, docker ephemeral, docker persistent — with the same tiny Node HTTP server
// (packages/core/src/runner/docker/__fixtures__/server.mjs) in each. Per strategy: the launch
// (call → ready) and the stop, median of 10 after one unmeasured run; the overhead is the
// median (launch + stop) minus the local runner's; "first ready" is the first launch of a fresh
// runner (a persistent one starts its container then). Needs a Docker engine ($DOCKER_HOST) and
// lem-test/base:latest (docker/build-test-images.sh base); skipped without an engine.
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const core = await import(join(root, 'packages/core/dist/index.js'));
const fixtures = join(root, 'packages/core/src/runner/docker/__fixtures__');
const RUNS = 10;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

const engine = core.dockerEngine();
try {
  await engine.docker.ping();
} catch (error) {
  console.log(JSON.stringify({skipped: `no Docker engine at ${engine.host}: ${error.message}`}));
  process.exit(0);
}
const dir = mkdtempSync(join(tmpdir(), 'lem-bench-runners-'));

function request(docker, i) {
  return async () => {
    const port = await core.findFreePort();
    const serverPath = docker ? '/srv/server.mjs' : join(fixtures, 'server.mjs');
    return {
      spec: {argv: [docker ? 'node' : process.execPath, serverPath, String(port), 'ok'], env: {}, port, readiness: {healthPath: '/health', probe: 'completion', timeoutS: 20}, stop: {signal: 'SIGTERM', graceS: 2}},
      model: 'm',
      stateDir: dir,
      workdir: join(dir, 'work', `w${i}`),
      backend: {id: 'bench', image: 'lem-test/base:latest', pluginVersion: '0'},
      labels: {experiment: 'bench'},
    };
  };
}

async function measure(name, runner, docker) {
  const launches = [];
  const stops = [];
  let firstReadyMs = null;
  for (let i = 0; i <= RUNS; i++) {
    const req = await request(docker, i)();
    const t0 = process.hrtime.bigint();
    const server = await runner.launch(req);
    const launchMs = ms(t0);
    const t1 = process.hrtime.bigint();
    await server.stop();
    const stopMs = ms(t1);
    if (i === 0) firstReadyMs = launchMs;
    else {
      launches.push(launchMs);
      stops.push(stopMs);
    }
  }
  await runner.close?.();
  return {name, firstReadyMs: Math.round(firstReadyMs), launchMedianMs: Math.round(median(launches)), stopMedianMs: Math.round(median(stops)), runs: RUNS};
}

const mounts = [{hostPath: '/usr', containerPath: '/usr', readOnly: true}, {hostPath: fixtures, containerPath: '/srv', readOnly: true}];
const docker = (strategy) => core.createDockerRunner({engine, strategy, startup: 'lazy', warmupDelayS: 0, autoTeardown: true, mounts, workRoot: join(dir, 'work')});
const local = await measure('local', core.localRunner, false);
const ephemeral = await measure('docker ephemeral', docker('ephemeral'), true);
const persistent = await measure('docker persistent', docker('persistent'), true);
const total = (r) => r.launchMedianMs + r.stopMedianMs;
const out = {
  local,
  ephemeral: {...ephemeral, overheadOverLocalMs: total(ephemeral) - total(local)},
  persistent: {...persistent, overheadOverLocalMs: total(persistent) - total(local)},
};
rmSync(dir, {recursive: true, force: true});
console.log(JSON.stringify(out, null, 2));
