/**
 * Processes exec'd in a running container: a server behind the wrapper (persistent strategy),
 * and the short scripts that signal, list and stop servers. A server's output and exit come from
 * its exec; lem's stream on the exec's stdin ties it to lem's life (wrapper.ts).
 */
import type {Duplex} from 'node:stream';
import type Docker from 'dockerode';
import type {StopSpec} from '@lem/plugin-kit';
import type {OutputStream} from '../output.js';
import {sleepMs} from '../proc.js';
import type {ServerExit} from '../types.js';
import {exitOf} from './containers.js';
import {stopper, type ContainerServer} from './context.js';
import {envList} from './create.js';
import {demuxOutput, readAll} from './stream.js';
import {signalServerScript} from './wrapper.js';

/** How often a running exec is inspected when its stream stays open (a child holding its output), ms. */
const EXEC_POLL_MS = 1_000;
/** Between inspections once its stream has closed and its exit is about to be recorded, ms. */
const EXEC_SETTLE_POLL_MS = 20;
/** How long the last output may take to arrive after the exec ended, ms. */
const OUTPUT_DRAIN_MS = 500;
/** How long SIGKILL may take before stop() stops waiting for the exit, ms. */
const KILL_WAIT_MS = 5_000;

/** True when the engine refused an exec because the container is gone or stopped (then it is made again). */
export const isContainerGone = (error: unknown): boolean => [404, 409].includes((error as {statusCode?: number}).statusCode ?? 0);

/** Runs `sh -c script` in the container and waits for it; its stdout and exit code. */
export async function execScript(docker: Docker, container: Docker.Container, script: string): Promise<{code: number | null; stdout: string}> {
  const exec = await container.exec({Cmd: ['sh', '-c', script], AttachStdout: true, AttachStderr: true});
  const stream = (await exec.start({hijack: true, stdin: false})) as unknown as Duplex;
  const stdout = await readAll(docker, stream);
  return {code: await execEnded(exec, Promise.resolve()), stdout};
}

export interface ExecCommand {
  argv: string[];
  env: Record<string, string>;
  workdir: string;
  /** The wrapper's pid file, which stop() signals through. */
  pidFile: string;
  stopSpec: StopSpec;
  baseUrl: string;
  onLine?: (line: string, stream: OutputStream) => void;
}

/**
 * Execs the wrapped server. stop(): `kill -<signal>` at the recorded pid, the grace for it to
 * end, then `kill -KILL`. Its exit: the exec's exit code, and `OOMKilled` from the container when
 * it was killed (137) without lem asking (true/false when the flag changed or not during this
 * exec; null when it was already set, since the engine keeps it until the container restarts).
 */
export async function execServer(docker: Docker, container: Docker.Container, command: ExecCommand): Promise<ContainerServer> {
  const oomBefore = (await container.inspect()).State.OOMKilled === true;
  const exec = await container.exec({Cmd: command.argv, Env: envList(command.env), WorkingDir: command.workdir, AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: false});
  const stream = (await exec.start({hijack: true, stdin: true})) as unknown as Duplex;
  stream.on('error', () => undefined); // a dropped connection is read through the exec's inspection
  const output = demuxOutput(docker, stream, command.onLine);
  const killed = {byLem: false};
  const exited = (async (): Promise<ServerExit> => {
    const code = await execEnded(exec, output.closed);
    await Promise.race([output.closed, sleepMs(OUTPUT_DRAIN_MS)]);
    stream.destroy(); // closes its stdin: the wrapper's watcher removes the pid file and ends
    const oomKilled = code === 137 && !killed.byLem ? await oomSince(container, oomBefore) : false;
    return exitOf(code, oomKilled);
  })();
  const signal = (name: string) => execScript(docker, container, signalServerScript(command.pidFile, name)).catch(() => undefined);
  const halt = async (graceS: number): Promise<boolean> => {
    await signal(command.stopSpec.signal);
    if (await endsWithin(exited, graceS * 1_000)) return false;
    killed.byLem = true;
    await signal('SIGKILL');
    // No pid to signal (not recorded yet, or the file is gone): closing its stdin has the wrapper's watcher stop it.
    if (!(await endsWithin(exited, KILL_WAIT_MS))) stream.destroy();
    return true;
  };
  return {baseUrl: command.baseUrl, exited, output, stop: stopper(command.stopSpec, exited, halt)};
}

const endsWithin = (exited: Promise<unknown>, ms: number): Promise<boolean> => Promise.race([exited.then(() => true), sleepMs(ms).then(() => false)]);

/**
 * The exec's exit code once it has ended: inspected when its stream closes, and every
 * {@link EXEC_POLL_MS} meanwhile. Null when the engine no longer knows it (the container went).
 */
async function execEnded(exec: Docker.Exec, closed: Promise<void>): Promise<number | null> {
  let streamClosed = false;
  void closed.then(() => (streamClosed = true));
  for (;;) {
    await Promise.race([closed, sleepMs(EXEC_POLL_MS)]);
    const info = await exec.inspect().catch(() => null);
    if (!info) return null;
    if (!info.Running) return info.ExitCode ?? null;
    if (streamClosed) await sleepMs(EXEC_SETTLE_POLL_MS);
  }
}

async function oomSince(container: Docker.Container, before: boolean): Promise<boolean | null> {
  const now = (await container.inspect().catch(() => null))?.State.OOMKilled;
  if (now === undefined || before) return null;
  return now === true;
}
