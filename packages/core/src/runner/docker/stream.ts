/**
 * A container's or an exec's output as lines. Without a TTY the hijacked stream is multiplexed
 * (8-byte frame headers), so it is split into stdout and stderr by dockerode's demultiplexer and
 * read by the runners' shared collector (output.ts): the same lines, tail and sign of life as a
 * host process.
 */
import {PassThrough, type Duplex} from 'node:stream';
import type Docker from 'dockerode';
import {collectOutput, type CollectedOutput, type OutputStream} from '../output.js';

export function demuxOutput(docker: Docker, stream: Duplex, onLine?: (line: string, stream: OutputStream) => void): CollectedOutput {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  docker.modem.demuxStream(stream, stdout, stderr);
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    stdout.end();
    stderr.end();
  };
  // A hijacked connection ends when the process's output closes, or closes when either side drops it.
  stream.once('end', end);
  stream.once('close', end);
  stream.once('error', end);
  return collectOutput({stdout, stderr}, onLine);
}

/** Reads a short exec's whole stdout (demultiplexed) until it ends. */
export async function readAll(docker: Docker, stream: Duplex): Promise<string> {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  docker.modem.demuxStream(stream, stdout, new PassThrough().resume());
  await new Promise<void>((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });
  return Buffer.concat(chunks).toString('utf8');
}

