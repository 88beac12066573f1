/**
 * Prompts from a local file, chosen by extension:
 *
 * - `.jsonl` / `.ndjson`: one JSON value per line. An object gives its `column` field (default:
 *   `prompt` if the first object has it, else `text`; every line must then have that field); a
 *   JSON string is the prompt itself. Blank lines are skipped. Id: `line-<n>`.
 * - `.csv`: a header row, then one prompt per record; `column` as for JSONL. Quoted fields may
 *   hold commas and newlines (RFC 4180, through csv-parse). Id: `line-<n>` of the record's first
 *   line.
 * - `.txt`: one prompt per non-blank line, as written (a trailing `\r` dropped). Id: `line-<n>`.
 *
 * Line numbers are 1-based lines of the file, so an id and an error both point at the line to
 * open. Every problem is a config error (exit 2) raised before anything starts, naming the file
 * and, where there is one, the line.
 */
import {readFile, stat} from 'node:fs/promises';
import {basename, extname, isAbsolute, resolve} from 'node:path';
import {parse as parseCsv} from 'csv-parse/sync';
import {configError, type CodedError} from '../errors.js';
import {DatasetErrorCodes, type DatasetPrompt} from './select.js';

export type PromptFileFormat = 'jsonl' | 'csv' | 'txt';

const FORMATS: Record<string, PromptFileFormat> = {'.jsonl': 'jsonl', '.ndjson': 'jsonl', '.csv': 'csv', '.txt': 'txt'};

/** The default prompt fields, in order of preference. */
export const DEFAULT_COLUMNS = ['prompt', 'text'] as const;

export interface PromptFileOptions {
  /** Folder the path is relative to: that of the file naming the dataset. */
  baseDir: string;
  /** JSONL field or CSV column (default: `prompt`, else `text`). */
  column?: string | undefined;
}

/** The absolute path of `dataset.path`: relative paths hang from `baseDir`. */
export function resolveDatasetPath(path: string, baseDir: string): string {
  return isAbsolute(path) ? path : resolve(baseDir, path);
}

function invalid(file: string, message: string, tryLines: string[], line?: number): CodedError {
  const where = line === undefined ? file : `${file}:${line}`;
  return configError(DatasetErrorCodes.invalid, `${where}: ${message}`, tryLines, [
    {path: 'dataset.path', message, location: line === undefined ? {file} : {file, line}},
  ]);
}

/** The format for a file name, or an `E_DATASET_INVALID` naming the extensions lem reads. */
export function promptFileFormat(file: string): PromptFileFormat {
  const ext = extname(file).toLowerCase();
  const format = FORMATS[ext];
  if (format) return format;
  throw invalid(file, `lem does not read ${ext ? `"${ext}" files` : 'files without an extension'} as prompts; it reads .jsonl (or .ndjson), .csv and .txt.`, [
    'convert the file to JSONL: one {"prompt": "…"} per line',
    'or rename a one-prompt-per-line text file to .txt',
  ]);
}

/**
 * Cheap pre-launch check: the file exists, is a file, and has a known extension. Returns the
 * absolute path.
 */
export async function checkPromptFile(path: string, options: {baseDir: string}): Promise<string> {
  const file = resolveDatasetPath(path, options.baseDir);
  let info;
  try {
    info = await stat(file);
  } catch {
    throw configError(
      DatasetErrorCodes.notFound,
      `dataset file ${file} does not exist (dataset.path: ${path}, relative to ${options.baseDir}).`,
      [`check dataset.path: a relative path is relative to the folder of the file that names it (${options.baseDir})`],
      [{path: 'dataset.path', message: 'no such file', location: {file}}],
    );
  }
  if (!info.isFile()) throw invalid(file, 'is not a file.', ['point dataset.path at a .jsonl, .csv or .txt file']);
  promptFileFormat(file);
  return file;
}

/** Reads every prompt of a JSONL, CSV or TXT file, in file order. */
export async function readPromptFile(path: string, options: PromptFileOptions): Promise<DatasetPrompt[]> {
  const file = await checkPromptFile(path, options);
  const format = promptFileFormat(file);
  let content: string;
  try {
    content = new TextDecoder('utf-8', {fatal: true}).decode(await readFile(file));
  } catch {
    throw invalid(file, 'is not UTF-8 text.', ['save the file as UTF-8']);
  }
  if (content.charCodeAt(0) === 0xfeff) content = content.slice(1);

  const prompts = format === 'jsonl' ? readJsonl(file, content, options.column) : format === 'csv' ? readCsv(file, content, options.column) : readTxt(content);
  if (prompts.length === 0) {
    throw configError(DatasetErrorCodes.empty, `${file} holds no prompt.`, [`add prompts to ${basename(file)}`, 'or use dataset: {kind: builtin}'], [
      {path: 'dataset.path', message: 'no prompt', location: {file}},
    ]);
  }
  return prompts;
}

function lines(content: string): string[] {
  return content.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
}

function readTxt(content: string): DatasetPrompt[] {
  const out: DatasetPrompt[] = [];
  lines(content).forEach((line, i) => {
    if (line.trim() !== '') out.push({id: `line-${i + 1}`, text: line});
  });
  return out;
}

function columnTry(found: string[]): string[] {
  const first = found.find((name) => !(DEFAULT_COLUMNS as readonly string[]).includes(name));
  return [first ? `dataset.column: ${first}` : 'dataset.column: <the field holding the prompt>', `or name the field "prompt" in the file`];
}

function readJsonl(file: string, content: string, column: string | undefined): DatasetPrompt[] {
  const out: DatasetPrompt[] = [];
  let field = column;
  lines(content).forEach((line, i) => {
    const lineNo = i + 1;
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw invalid(file, `line ${lineNo} is not JSON (${(error as Error).message}).`, ['write one JSON object per line, e.g. {"prompt": "Why is the sky blue?"}'], lineNo);
    }
    if (typeof value === 'string') {
      if (value.trim() === '') throw invalid(file, `line ${lineNo} is an empty prompt.`, ['remove the line or give it a prompt'], lineNo);
      out.push({id: `line-${lineNo}`, text: value});
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw invalid(file, `line ${lineNo} is ${Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`}, not an object or a string.`, [
        'write one JSON object per line, e.g. {"prompt": "Why is the sky blue?"}',
      ], lineNo);
    }
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    field ??= DEFAULT_COLUMNS.find((name) => name in record);
    if (field === undefined || !(field in record)) {
      const wanted = field ?? DEFAULT_COLUMNS.join('" or "');
      throw invalid(file, `line ${lineNo} has no "${wanted}" field; its fields: ${keys.length ? keys.join(', ') : 'none'}.`, columnTry(keys), lineNo);
    }
    const text = record[field];
    if (typeof text !== 'string') throw invalid(file, `line ${lineNo}: "${field}" is ${text === null ? 'null' : `a ${typeof text}`}, not a string.`, [`make "${field}" a string on every line`], lineNo);
    if (text.trim() === '') throw invalid(file, `line ${lineNo}: "${field}" is empty.`, ['remove the line or give it a prompt'], lineNo);
    out.push({id: `line-${lineNo}`, text});
  });
  return out;
}

interface CsvRecord {
  record: string[];
  /** UTF-8 byte offset just past the record (and its line break). */
  info: {bytes: number};
}

function readCsv(file: string, content: string, column: string | undefined): DatasetPrompt[] {
  let records: CsvRecord[];
  try {
    records = parseCsv(content, {info: true, skip_empty_lines: true, relax_column_count: false}) as unknown as CsvRecord[];
  } catch (error) {
    const e = error as Error & {lines?: number};
    throw invalid(file, `is not valid CSV: ${e.message}.`, ['quote fields holding commas, quotes or newlines: "like ""this"""'], e.lines);
  }
  const header = records[0];
  if (!header) return [];
  const names = header.record.map((name) => name.trim());
  const wanted = column ?? DEFAULT_COLUMNS.find((name) => names.includes(name));
  const at = wanted === undefined ? -1 : names.indexOf(wanted);
  if (at < 0) {
    throw invalid(
      file,
      `has no "${wanted ?? DEFAULT_COLUMNS.join('" or "')}" column; its columns: ${names.join(', ')}.`,
      [...columnTry(names), 'the first row of a CSV file must name the columns'],
      1,
    );
  }
  // csv-parse's own line count treats the CR and LF of a CRLF inside a quoted field as two
  // lines, so the line where each record starts is counted here, from byte offsets.
  const bytes = Buffer.from(content, 'utf8');
  let offset = header.info.bytes;
  let line = 1 + countNewlines(bytes, 0, offset);
  const out: DatasetPrompt[] = [];
  for (const {record, info} of records.slice(1)) {
    let start = offset;
    while (start < bytes.length && (bytes[start] === 0x0a || bytes[start] === 0x0d)) start++;
    line += countNewlines(bytes, offset, start);
    const text = record[at] ?? '';
    if (text.trim() === '') throw invalid(file, `line ${line}: column "${wanted}" is empty.`, ['remove the row or give it a prompt'], line);
    out.push({id: `line-${line}`, text});
    line += countNewlines(bytes, start, info.bytes);
    offset = info.bytes;
  }
  return out;
}

function countNewlines(bytes: Uint8Array, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (bytes[i] === 0x0a) n++;
  return n;
}
