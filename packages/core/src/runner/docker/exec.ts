/**
 * A server exec'd in a persistent container, through the wrapper: its output and exit come from
 * the exec; it is stopped by exec'ing `kill -TERM` at its recorded pid, then `kill -KILL` after
 * the grace. lem's stream on the exec's stdin keeps it tied to lem's life.
 */
import type {Duplex} from 'node:stream';
import {sleepMs} from '../proc.js';
import type {ServerExit} from '../types.js';
import type {Started} from './containers.js';
import type {DockerEngine} from './engine.js';
import {collectStream, type ServerProcess} from './stream.js';
import {killServersScript} from './wrapper.js';

/** Runs `sh -c script` in the container and waits for it; its exit code. */
export async function execQuiet(started: Pick<Started, 'container'>, script: string): Promise<number | null> {
  const exec = await started.container.exec({Cmd: ['sh', '-c', script], AttachStdout: true, AttachStderr: true});
  const stream = (await exec.start({hijack: true, stdin: false})) as unknown as Duplex;
  stream.resume();
  await new Promise<void>((resolve) => (stream.once('end', resolve), stream.once('close', resolve), stream.once('error', () => resolve())));
  return (await exec.inspect()).ExitCode ?? null;
}

export async function execServer(engine: DockerEngine, started: Started, command: {argv: string[]; env: Record<string, string>; workdir: string; pidFile: string; onLine?: (line: string, stream: 'stdout' | 'stderr') => void}): Promise<ServerProcess> {
  const exec = await started.container.exec({
    Cmd: command.argv,
    Env: Object.entries(command.env).map(([k, v]) => `${k}=${v}`),
    WorkingDir: command.workdir,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
  });
  const stream = (await exec.start({hijack: true, stdin: true})) as unknown as Duplex;
  stream.on('error', () => undefined);
  const output = collectStream(engine.docker, stream, command.onLine);
  const exited = (async (): Promise<ServerExit> => {
    await output.closed;
    const code = await waitExecExit(exec);
    const oom = code === 137 ? ((await started.container.inspect().catch(() => null))?.State.OOMKilled ?? false) : false;
    return {code, signal: code !== null && code > 128 && code < 160 ? (code === 137 ? 'SIGKILL' : code === 143 ? 'SIGTERM' : `SIG${code - 128}`) : null, oomKilled: oom};
  })();
  let done = false;
  void exited.then(() => (done = true));
  return {
    exited,
    output,
    async stop(graceS) {
      if (done) return {forced: false};
      await execQuiet(started, killServersScript(command.pidFile, 'TERM')).catch(() => undefined);
      const inTime = await Promise.race([exited.then(() => true), sleepMs(graceS * 1000).then(() => false)]);
      if (!inTime) await execQuiet(started, killServersScript(command.pidFile, 'KILL')).catch(() => undefined);
      // The wrapper exits once its server is gone; closing its stdin ends it in any case.
      stream.end();
      await Promise.race([exited, sleepMs(5_000)]);
      if (!done) stream.destroy();
      await exited;
      return {forced: !inTime};
    },
  };
}

async function waitExecExit(exec: {inspect(): Promise<{Running: boolean; ExitCode: number | null}>}): Promise<number | null> {
  for (let i = 0; i < 50; i++) {
    const info = await exec.inspect().catch(() => null);
    if (!info) return null;
    if (!info.Running) return info.ExitCode;
    await sleepMs(20);
  }
  return null;
}
