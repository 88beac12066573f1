/**
 * timeline.csv: one row per channel per sampler tick, the raw data `lem results recompute` reads
 * back. Numbers are written with JavaScript's shortest round-trip form, so parse(write(x)) = x;
 * an empty field is null (a power-only channel has no energy, a first read has no power).
 *
 * Columns: the seven of {@link TIMELINE_CSV_HEADER}, then, when any read carries one, the GPU
 * extras and the read's error ({@link TIMELINE_CSV_EXTRA_COLUMNS}). An empty extra field reads
 * back as an absent field (null and absent both write as empty; `error` says why a value is missing).
 */
import {codedError, ExitCode} from '@lem/plugin-kit';
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

/** The timeline as CSV text (header line first, `\n` line ends, a final newline). */
export function timelineCsv(samples: TimelineSample[]): string {
  const extended = samples.some((s) => hasExtras(s.read));
  const lines = [(extended ? TIMELINE_CSV_EXTENDED_HEADER : TIMELINE_CSV_HEADER).join(',')];
  for (const {scheduledMs, read} of samples) {
    const row = [num(scheduledMs), num(read.readStartMs), num(read.readEndMs), field(read.meter), field(read.channel), num(read.energyJ), num(read.powerW)];
    if (extended) {
      for (const [, k] of TIMELINE_CSV_EXTRA_COLUMNS) {
        const value = read[k];
        row.push(typeof value === 'string' ? field(value) : num(value ?? null));
      }
    }
    lines.push(row.join(','));
  }
  return lines.join('\n') + '\n';
}

/** RFC 4180 records: quoted fields may hold commas, quotes ("") and line breaks. */
function* records(text: string): Generator<{fields: string[]; line: number}> {
  let fields: string[] = [];
  let current = '';
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        current += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else {
        if (c === '\n') line++;
        current += c;
      }
      i++;
      continue;
    }
    if (c === '"' && current === '') quoted = true;
    else if (c === ',') {
      fields.push(current);
      current = '';
    } else if (c === '\n' || c === '\r') {
      fields.push(current);
      yield {fields, line: recordLine};
      fields = [];
      current = '';
      if (c === '\r' && text[i + 1] === '\n') i++;
      line++;
      recordLine = line;
    } else current += c;
    i++;
  }
  if (quoted) throw csvError(`unterminated quoted field`, recordLine);
  if (current !== '' || fields.length > 0) {
    fields.push(current);
    yield {fields, line: recordLine};
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
 * Parses what {@link timelineCsv} writes, with or without the extra columns; throws
 * `E_TIMELINE_CSV` naming the line on bad input.
 */
export function parseTimelineCsv(text: string): TimelineSample[] {
  const samples: TimelineSample[] = [];
  let header = true;
  let columns: number = TIMELINE_CSV_HEADER.length;
  for (const {fields, line} of records(text.replace(/^\uFEFF/, ''))) {
    if (header) {
      const found = fields.join(',');
      if (found === TIMELINE_CSV_EXTENDED_HEADER.join(',')) columns = TIMELINE_CSV_EXTENDED_HEADER.length;
      else if (found !== TIMELINE_CSV_HEADER.join(',')) throw csvError(`expected header ${TIMELINE_CSV_HEADER.join(',')} (optionally followed by ${TIMELINE_CSV_EXTRA_COLUMNS.map(([c]) => c).join(',')})`, line);
      header = false;
      continue;
    }
    if (fields.length === 1 && fields[0] === '') continue; // blank line
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
    samples.push({scheduledMs: parse(scheduled, 'scheduled_ms', false) as number, read});
  }
  if (header) throw csvError('empty file: no header', 1);
  return samples;
}
