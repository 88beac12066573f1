/**
 * A server's output as every runner keeps it: split into lines (at \n, \r\n or a lone \r), each
 * line handed on as it arrives, the last {@link OUTPUT_TAIL_LINES} kept for failure records, and
 * the time of the last line, which the launch watchdog reads as a sign of life. The source is any
 * pair of readable streams: a child's pipes, or a container's demultiplexed output.
 */
import type {Readable} from 'node:stream';
import type {ErrorDetail} from '../errors.js';
import {monoNs} from '../measure/types.js';

/** Lines of server output kept for failure records. */
export const OUTPUT_TAIL_LINES = 100;
/** Longest output line kept; longer ones are cut (progress bars without newlines). */
const MAX_LINE_CHARS = 4_096;

export type OutputStream = 'stdout' | 'stderr';

export interface TailLine {
  stream: OutputStream;
  line: string;
}

export interface CollectedOutput {
  /** The last {@link OUTPUT_TAIL_LINES} lines of both streams, in arrival order. */
  tail: TailLine[];
  /** When the server last printed a line (monotonic ns); starts at collection time. */
  life: {lastNs: bigint};
  /** Settles once every stream has closed and its last partial line was emitted. */
  closed: Promise<void>;
  /** The tail's lines without their stream names. */
  lines(): string[];
}

/** Splits a text stream into lines at \n, \r\n or a lone \r (progress bars redraw with \r). */
export function lineSplitter(emit: (line: string) => void): {push(chunk: string): void; end(): void} {
  let partial = '';
  return {
    push(chunk) {
      const parts = (partial + chunk).split(/\r\n|\n|\r/);
      partial = parts.pop() ?? '';
      if (partial.length > MAX_LINE_CHARS) {
        emit(partial.slice(0, MAX_LINE_CHARS));
        partial = '';
      }
      for (const part of parts) emit(part.length > MAX_LINE_CHARS ? part.slice(0, MAX_LINE_CHARS) : part);
    },
    end() {
      if (partial !== '') emit(partial);
      partial = '';
    },
  };
}

/**
 * Reads `streams` to their end: every line to `onLine`, the last lines into `tail`. A stream
 * counts as done at 'close' (a pipe) or 'end' (a stream that is ended, not destroyed).
 */
export function collectOutput(streams: Partial<Record<OutputStream, Readable | null>>, onLine?: (line: string, stream: OutputStream) => void): CollectedOutput {
  const tail: TailLine[] = [];
  const life = {lastNs: monoNs()};
  const closed: Promise<void>[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    const readable = streams[stream];
    if (!readable) continue;
    const splitter = lineSplitter((line) => {
      life.lastNs = monoNs();
      tail.push({stream, line});
      if (tail.length > OUTPUT_TAIL_LINES) tail.shift();
      onLine?.(line, stream);
    });
    readable.setEncoding('utf8');
    readable.on('data', (chunk: string) => splitter.push(chunk));
    closed.push(
      new Promise((resolve) => {
        const done = () => (splitter.end(), resolve());
        readable.once('close', done);
        readable.once('end', done);
      }),
    );
  }
  // `done` may run twice per stream (end, then close); the splitter's end() is idempotent.
  return {tail, life, closed: Promise.all(closed).then(() => undefined), lines: () => tail.map((entry) => entry.line)};
}

/** The tail as error details: one per line, named by its stream. */
export const tailDetails = (tail: TailLine[]): ErrorDetail[] => tail.map(({stream, line}) => ({path: stream, message: line}));
