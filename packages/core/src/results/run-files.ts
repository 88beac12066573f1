/**
 * The files of one run, written as the run goes: requests.jsonl gets each record the moment it
 * completes and timeline.csv each tick as it is read (by the sampler's worker), so a `kill -9` at
 * any instant leaves everything measured until then; result.json is written atomically at the
 * end, and only after both raw files exist, so a result on disk always has its raw data beside it.
 */
import {existsSync, readFileSync} from 'node:fs';
import {join} from 'node:path';
import {configError} from '../errors.js';
import {AppendOnlyFile, writeFileAtomic} from '../fs-atomic.js';
import type {RequestRecord, TimelineSample} from '../measure/types.js';
import {readTimelineCsv, timelineCsvHeader} from '../meters/index.js';
import {RESULT_SCHEMA_VERSION, type ExperimentResult} from './result.js';

export const RUN_FILES = {result: 'result.json', requests: 'requests.jsonl', timeline: 'timeline.csv', engineMetrics: 'engine-metrics.csv'} as const;

/** requests.jsonl, appended record by record as each completes (see {@link AppendOnlyFile}). */
export class RequestLog {
  private readonly file: AppendOnlyFile;

  constructor(path: string) {
    this.file = new AppendOnlyFile(path);
  }

  append(record: RequestRecord): void {
    this.file.append(`${JSON.stringify(record)}\n`);
  }

  close(): void {
    this.file.close();
  }
}

/** Writes result.json atomically, making sure the raw files it refers to exist (an empty timeline when nothing was sampled). */
export function writeResultFile(runDir: string, result: ExperimentResult): void {
  const timeline = join(runDir, RUN_FILES.timeline);
  if (!existsSync(timeline)) writeFileAtomic(timeline, `${timelineCsvHeader(false)}\n`);
  const requests = join(runDir, RUN_FILES.requests);
  if (!existsSync(requests)) writeFileAtomic(requests, '');
  writeFileAtomic(join(runDir, RUN_FILES.result), `${JSON.stringify(result, null, 2)}\n`);
}

export interface RunFiles {
  result: ExperimentResult;
  records: RequestRecord[];
  /** timeline.csv as a stream: each call reads the file again, sample by sample. */
  timeline(): Iterable<TimelineSample>;
}

/** Reads a run folder, refusing what it cannot read with a coded error. */
export function readRunFiles(runDir: string): RunFiles {
  const resultPath = join(runDir, RUN_FILES.result);
  if (!existsSync(resultPath)) {
    throw configError('E_RESULT_NOT_FOUND', `${runDir} has no result.json`, ['give the folder of one run, e.g. results/quickstart-20261128T140000123Z']);
  }
  let result: ExperimentResult;
  try {
    result = JSON.parse(readFileSync(resultPath, 'utf8')) as ExperimentResult;
  } catch (error) {
    throw configError('E_RESULT_INVALID', `${resultPath} is not valid JSON: ${(error as Error).message}`, ['the file was edited or truncated; it cannot be recomputed']);
  }
  if (result.schemaVersion !== RESULT_SCHEMA_VERSION) {
    throw configError('E_RESULT_VERSION', `${resultPath} has schema version ${String(result.schemaVersion)}; this lem reads version ${RESULT_SCHEMA_VERSION}`, ['use the lem version that wrote it']);
  }
  const records: RequestRecord[] = [];
  const lines = readFileSync(join(runDir, RUN_FILES.requests), 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      records.push(JSON.parse(line) as RequestRecord);
    } catch {
      throw configError('E_RESULT_INVALID', `requests.jsonl line ${i + 1} is not JSON`, ['the file was edited or truncated']);
    }
  });
  const timelinePath = join(runDir, RUN_FILES.timeline);
  return {result, records, timeline: () => readTimelineCsv(timelinePath)};
}
