/**
 * A container's (or an exec's) output as lines: the hijacked stream is multiplexed (Tty off), so
 * it is demultiplexed into stdout and stderr and split with the local runner's splitter; the
 * last lines are kept for failure records, and every line goes to `onLine`.
 */
import {PassThrough, type Duplex} from 'node:stream';
import type Docker from 'dockerode';
import {monoNs} from '../../measure/types.js';
import {lineSplitter, OUTPUT_TAIL_LINES, type TailLine} from '../local.js';
import type {ServerExit} from '../types.js';

export interface CollectedOutput {
  tail: TailLine[];
  life: {lastNs: bigint};
  /** Settles when the stream has ended. */
  closed: Promise<void>;
}

export function collectStream(docker: Docker, stream: Duplex, onLine?: (line: string, stream: 'stdout' | 'stderr') => void): CollectedOutput {
  const tail: TailLine[] = [];
  const life = {lastNs: monoNs()};
  const outputs = {stdout: new PassThrough(), stderr: new PassThrough()};
  for (const name of ['stdout', 'stderr'] as const) {
    const splitter = lineSplitter((line) => {
      life.lastNs = monoNs();
      tail.push({stream: name, line});
      if (tail.length > OUTPUT_TAIL_LINES) tail.shift();
      onLine?.(line, name);
    });
    outputs[name].setEncoding('utf8');
    outputs[name].on('data', (chunk: string) => splitter.push(chunk));
    outputs[name].on('end', () => splitter.end());
  }
  docker.modem.demuxStream(stream, outputs.stdout, outputs.stderr);
  const closed = new Promise<void>((resolve) => {
    const done = () => {
      outputs.stdout.end();
      outputs.stderr.end();
      resolve();
    };
    stream.once('end', done);
    stream.once('close', done);
    stream.once('error', done);
  });
  return {tail, life, closed};
}

/** What every server launch, ephemeral or exec'd, hands to readiness. */
export interface ServerProcess {
  exited: Promise<ServerExit>;
  output: CollectedOutput;
  stop(graceS: number): Promise<{forced: boolean}>;
}

