// What the benchmark scripts share: pinning a process to a CPU, and a server child that reports its port.
import {spawn, spawnSync} from 'node:child_process';
import {cpus} from 'node:os';

/** True where `taskset` works and there are at least 2 CPUs: the load generator and the server then get one each. */
export const canPin = spawnSync('taskset', ['-c', '0', 'true']).status === 0 && cpus().length >= 2;

/** [command, args] that run `cmd args` on `cpu` when pinning is possible, else as they are. */
export function onCpu(cpu, cmd, args) {
  return canPin ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args];
}

/** Starts `node script ...args` on `cpu` and resolves once its first stdout line, JSON holding `port`, arrives. */
export async function startServerChild(script, args, cpu) {
  const [cmd, argv] = onCpu(cpu, process.execPath, [script, ...args]);
  const server = spawn(cmd, argv, {stdio: ['ignore', 'pipe', 'inherit']});
  const {port} = await new Promise((resolve, reject) => {
    let buf = '';
    server.stdout.setEncoding('utf8').on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl !== -1) resolve(JSON.parse(buf.slice(0, nl)));
    });
    server.on('exit', (code) => reject(new Error(`bench server exited ${code}`)));
  });
  return {server, port};
}
