/**
 * A stand-in for `lem`: launches one fake server through the real launcher, prints
 * `{"pid": N}` on stdout once it is ready, then (per its JSON argument):
 *   then: 'wait'  stay alive until killed;
 *   then: 'exit'  call process.exit(0) at once (the 'exit' handler must kill the server).
 * `register: true` calls registerCleanup() first. Run with `node --import tsx parent.ts JSON`.
 */
import {launchLocalServer, registerCleanup} from '../local.js';

interface ParentConfig {
  stateDir: string;
  workdir: string;
  port: number;
  pidDir: string;
  serverArgs: string[];
  register: boolean;
  then: 'wait' | 'exit';
}

const config = JSON.parse(process.argv[2]!) as ParentConfig;
if (config.register) registerCleanup();
const server = await launchLocalServer({
  spec: {
    argv: [process.execPath, new URL('./fake-server.mjs', import.meta.url).pathname, '--port', String(config.port), ...config.serverArgs],
    env: {FAKE_PID_DIR: config.pidDir},
    port: config.port,
    readiness: {healthPath: '/health', timeoutS: 5},
    stop: {signal: 'SIGTERM', graceS: 1},
  },
  model: 'fake',
  stateDir: config.stateDir,
  workdir: config.workdir,
});
process.stdout.write(`${JSON.stringify({pid: server.pid})}\n`);
if (config.then === 'exit') process.exit(0);
setInterval(() => {}, 1_000);
