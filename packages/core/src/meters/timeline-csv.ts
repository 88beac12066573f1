/**
 * timeline.csv: one row per channel per sampler tick, the raw data `lem results recompute` reads
 * back. Numbers are written with JavaScript's shortest round-trip form, so parse(write(x)) = x;
 * an empty field is null (a power-only channel has no energy, a first read has no power).
 *
 * Columns: the seven of {@link TIMELINE_CSV_HEADER}, then, when any read carries one, the GPU
 * extras and the read's error ({@link TIMELINE_CSV_EXTRA_COLUMNS}). An empty extra field reads
 * back as an absent field (null and absent both write as empty; `error` says why a value is missing).
 */
import {closeSync, openSync, readSync} from 'node:fs';
import {StringDecoder} from 'node:string_decoder';
import {codedError, ExitCode} from '@lem/plugin-kit';
import {AppendOnlyFile} from '../fs-atomic.js';
import type {MeterRead, TimelineSample} from '../measure/types.js';
import {MeterErrorCodes} from './types.js';

export const TIMELINE_CSV_HEADER = ['scheduled_ms', 'read_start_ms', 'read_end_ms', 'meter', 'channel', 'energy_j', 'power_w'] as const;

/**
 * The optional per-read fields (GPU extras and a read's error), as columns after the base ones,
 * in this order. A file has them only when some read carries one; files without them (older
 * files included) are read as before.
 */
export const TIMELINE_CSV_EXTRA_COLUMNS = [
  ['temperature_c', 'temperatureC'],
  ['sm_clock_mhz', 'smClockMhz'],
  ['memory_used_bytes', 'memoryUsedBytes'],
  ['clock_event_reasons', 'clockEventReasons'],
  ['processes', 'processes'],
  ['foreign_processes', 'foreignProcesses'],
  ['error', 'error'],
] as const satisfies ReadonlyArray<readonly [string, keyof MeterRead]>;

/** The header with the extra columns. */
export const TIMELINE_CSV_EXTENDED_HEADER = [...TIMELINE_CSV_HEADER, ...TIMELINE_CSV_EXTRA_COLUMNS.map(([column]) => column)] as const;

type ExtraKey = (typeof TIMELINE_CSV_EXTRA_COLUMNS)[number][1];

const hasExtras = (read: MeterRead): boolean => TIMELINE_CSV_EXTRA_COLUMNS.some(([, k]) => read[k] !== undefined && read[k] !== null);

function field(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

const num = (value: number | null): string => (value === null ? '' : String(value));

/** The header line (no line end): the base columns, and the extra ones when `extended`. */
export function timelineCsvHeader(extended: boolean): string {
  return (extended ? TIMELINE_CSV_EXTENDED_HEADER : TIMELINE_CSV_HEADER).join(',');
}

/** One sample as a CSV line (no line end), with the extra columns when `extended`. */
export function timelineCsvRow({scheduledMs, read}: TimelineSample, extended: boolean): string {
  const row = [num(scheduledMs), num(read.readStartMs), num(read.readEndMs), field(read.meter), field(read.channel), num(read.energyJ), num(read.powerW)];
  if (extended) {
    for (const [, k] of TIMELINE_CSV_EXTRA_COLUMNS) {
      const value = read[k];
      row.push(typeof value === 'string' ? field(value) : num(value ?? null));
    }
  }
  return row.join(',');
}

/** The timeline as CSV text (header line first, `\n` line ends, a final newline). */
export function timelineCsv(samples: TimelineSample[]): string {
  const extended = samples.some((s) => hasExtras(s.read));
  const lines = [timelineCsvHeader(extended)];
  for (const sample of samples) lines.push(timelineCsvRow(sample, extended));
  return lines.join('\n') + '\n';
}

/**
 * timeline.csv written as the samples arrive (see {@link AppendOnlyFile}): a `kill -9` of lem at
 * any instant leaves every row appended before it. Synchronous on purpose: it runs in the
 * sampler's worker, between ticks.
 */
export class TimelineCsvAppender {
  private readonly file: AppendOnlyFile;
  /** Rows written so far. */
  rows = 0;

  constructor(
    path: string,
    private readonly extended: boolean,
  ) {
    this.file = new AppendOnlyFile(path);
    this.file.append(`${timelineCsvHeader(extended)}\n`);
  }

  append(samples: readonly TimelineSample[]): void {
    if (samples.length === 0) return;
    let text = '';
    for (const sample of samples) text += `${timelineCsvRow(sample, this.extended)}\n`;
    this.file.append(text);
    this.rows += samples.length;
  }

  close(): void {
    this.file.close();
  }
}

type CsvRecord = {fields: string[]; line: number};

/**
 * One RFC 4180 record starting at `i` of `buf`: quoted fields may hold commas, quotes ("") and
 * line breaks; lines end with LF, CRLF or a lone CR. `incomplete` when the record (or a one-char
 * lookahead it needs) runs past the end of a buffer that is not the last.
 */
function recordAt(buf: string, i: number, final: boolean): {fields: string[]; next: number; lines: number} | 'incomplete' | 'unterminated' {
  // Fast path: a line without quotes or a lone CR, which is every row lem writes.
  const lf = buf.indexOf('\n', i);
  if (lf < 0 && !final) return 'incomplete';
  const end = lf < 0 ? buf.length : lf;
  let segment = buf.slice(i, end);
  if (segment.endsWith('\r')) segment = segment.slice(0, -1);
  if (!segment.includes('"') && !segment.includes('\r')) {
    if (lf < 0 && segment === '') return {fields: [], next: end, lines: 0};
    return {fields: segment.split(','), next: lf < 0 ? end : lf + 1, lines: 1};
  }
  const fields: string[] = [];
  let current = '';
  let quoted = false;
  let lines = 1;
  let j = i;
  while (j < buf.length) {
    const c = buf[j] as string;
    if (quoted) {
      if (c === '"') {
        if (j + 1 >= buf.length && !final) return 'incomplete';
        if (buf[j + 1] === '"') {
          current += '"';
          j += 2;
          continue;
        }
        quoted = false;
      } else {
        if (c === '\n') lines++;
        current += c;
      }
      j++;
      continue;
    }
    if (c === '"' && current === '') quoted = true;
    else if (c === ',') {
      fields.push(current);
      current = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && j + 1 >= buf.length && !final) return 'incomplete';
      fields.push(current);
      return {fields, next: c === '\r' && buf[j + 1] === '\n' ? j + 2 : j + 1, lines};
    } else current += c;
    j++;
  }
  if (!final) return 'incomplete';
  if (quoted) return 'unterminated';
  fields.push(current);
  return {fields, next: j, lines};
}

/** The records of a CSV text given in pieces of any size (a file read chunk by chunk). */
function* records(chunks: Iterable<string>): Generator<CsvRecord> {
  let carry = '';
  let line = 1;
  const parse = function* (buf: string, final: boolean): Generator<CsvRecord, string> {
    let i = 0;
    while (i < buf.length) {
      const r = recordAt(buf, i, final);
      if (r === 'incomplete') return buf.slice(i);
      if (r === 'unterminated') throw csvError('unterminated quoted field', line);
      if (r.fields.length > 0) yield {fields: r.fields, line};
      line += r.lines;
      i = r.next;
    }
    return '';
  };
  for (const chunk of chunks) carry = yield* parse(carry + chunk, false);
  yield* parse(carry, true);
}

/** A file's text in pieces of `chunkBytes`, decoded as UTF-8 across the cuts. */
export function* fileChunks(path: string, chunkBytes = 1 << 20): Generator<string> {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(chunkBytes);
    const decoder = new StringDecoder('utf8');
    for (;;) {
      const n = readSync(fd, buffer, 0, chunkBytes, null);
      if (n === 0) break;
      yield decoder.write(buffer.subarray(0, n));
    }
    const rest = decoder.end();
    if (rest) yield rest;
  } finally {
    closeSync(fd);
  }
}

function csvError(message: string, line: number) {
  return codedError({
    code: MeterErrorCodes.timelineCsv,
    message: `timeline.csv line ${line}: ${message}`,
    try: ['The file was edited or truncated; re-run the experiment to get a fresh timeline.'],
    exitCode: ExitCode.usage,
  });
}

/**
 * The samples of what {@link timelineCsv} or {@link TimelineCsvAppender} writes, with or without
 * the extra columns, one at a time (a long run's timeline is never held whole); throws
 * `E_TIMELINE_CSV` naming the line on bad input.
 */
export function* timelineSamples(chunks: Iterable<string>): Generator<TimelineSample> {
  let header = true;
  let columns: number = TIMELINE_CSV_HEADER.length;
  let first = true;
  for (const {fields, line} of records(chunks)) {
    if (first && fields[0]?.startsWith('\uFEFF')) fields[0] = fields[0].slice(1);
    first = false;
    if (header) {
      const found = fields.join(',');
      if (found === TIMELINE_CSV_EXTENDED_HEADER.join(',')) columns = TIMELINE_CSV_EXTENDED_HEADER.length;
      else if (found !== TIMELINE_CSV_HEADER.join(',')) throw csvError(`expected header ${TIMELINE_CSV_HEADER.join(',')} (optionally followed by ${TIMELINE_CSV_EXTRA_COLUMNS.map(([c]) => c).join(',')})`, line);
      header = false;
      continue;
    }
    if (fields.length === 1 && fields[0] === '') continue; // blank line
    yield sampleOf(fields, columns, line);
  }
  if (header) throw csvError('empty file: no header', 1);
}

function sampleOf(fields: string[], columns: number, line: number): TimelineSample {
  if (fields.length !== columns) throw csvError(`expected ${columns} fields, found ${fields.length}`, line);
  const [scheduled, start, end, meter, channel, energy, power] = fields as [string, string, string, string, string, string, string];
  const parse = (value: string, name: string, nullable: boolean): number | null => {
    if (value === '') {
      if (nullable) return null;
      throw csvError(`${name} is empty`, line);
    }
    const n = Number(value);
    if (!Number.isFinite(n)) throw csvError(`${name} is not a number: ${JSON.stringify(value)}`, line);
    return n;
  };
  const read: MeterRead = {
    meter,
    channel,
    energyJ: parse(energy, 'energy_j', true),
    powerW: parse(power, 'power_w', true),
    readStartMs: parse(start, 'read_start_ms', false) as number,
    readEndMs: parse(end, 'read_end_ms', false) as number,
  };
  if (columns > TIMELINE_CSV_HEADER.length) {
    TIMELINE_CSV_EXTRA_COLUMNS.forEach(([column, k], i) => {
      const value = fields[TIMELINE_CSV_HEADER.length + i] as string;
      if (value === '') return;
      if (k === 'error') read.error = value;
      else read[k as Exclude<ExtraKey, 'error'>] = parse(value, column, false);
    });
  }
  return {scheduledMs: parse(scheduled, 'scheduled_ms', false) as number, read};
}

/** Parses a whole timeline.csv text (see {@link timelineSamples}). */
export function parseTimelineCsv(text: string): TimelineSample[] {
  return [...timelineSamples([text])];
}

/** Reads timeline.csv sample by sample, in file order. */
export function readTimelineCsv(path: string): Generator<TimelineSample> {
  return timelineSamples(fileChunks(path));
}
