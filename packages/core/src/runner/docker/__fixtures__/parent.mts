// A lem stand-in for the "dies with lem" test: launches a server through the docker runner,
// prints READY <container id>, then waits to be killed.
import {createDockerRunner, dockerEngine} from '../index.js';

const [strategy, port, dir, image, fixtures] = process.argv.slice(2) as ['ephemeral' | 'persistent', string, string, string, string];
const runner = createDockerRunner({engine: dockerEngine(), strategy, startup: 'lazy', warmupDelayS: 0, autoTeardown: true, mounts: [{hostPath: '/usr', containerPath: '/usr', readOnly: true}, {hostPath: fixtures, containerPath: '/srv', readOnly: true}]});
const server = await runner.launch({
  spec: {argv: ['node', '/srv/server.mjs', port, 'ok'], env: {}, port: Number(port), readiness: {healthPath: '/health', probe: 'completion', timeoutS: 20}, stop: {signal: 'SIGTERM', graceS: 2}},
  model: 'm',
  stateDir: dir,
  workdir: `${dir}/work/parent`,
  backend: {id: 'fake', image, pluginVersion: '0'},
  labels: {experiment: 'parent'},
});
console.log(`READY ${server.container!.id}`);
setInterval(() => undefined, 1000);
