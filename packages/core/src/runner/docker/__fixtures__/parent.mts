// A lem stand-in for the "dies with lem" and reaper tests: launches one server through the docker
// runner, prints `READY <container id> <server pid in the container>`, then waits to be killed.
// node --import tsx parent.mts <strategy> <autoTeardown> <mode> <port> <graceS> <workdir> <hostId>
import {createDockerRunner, dockerEngine} from '../index.js';
import {TEST_BASE, TEST_MOUNTS} from './engine.js';

const [strategy, autoTeardown, mode, port, graceS, workdir, hostId] = process.argv.slice(2) as [string, string, string, string, string, string, string];
const runner = createDockerRunner({
  engine: dockerEngine(),
  strategy: strategy as 'ephemeral' | 'persistent',
  startup: 'lazy',
  warmupDelayS: 0,
  autoTeardown: autoTeardown === 'true',
  mounts: TEST_MOUNTS,
  hostId,
});
const server = await runner.launch({
  spec: {argv: ['node', '/srv/server.mjs', port, mode], env: {}, port: Number(port), readiness: {healthPath: '/health', probe: 'completion', timeoutS: 30}, stop: {signal: 'SIGTERM', graceS: Number(graceS)}},
  model: 'm',
  stateDir: workdir,
  workdir,
  backend: {id: 'fake', image: TEST_BASE, pluginVersion: '0.0.0'},
  labels: {experiment: 'parent'},
});
const pid = await (await fetch(`${server.baseUrl}/pid`)).text();
console.log(`READY ${server.container!.id} ${pid}`);
setInterval(() => undefined, 60_000);
