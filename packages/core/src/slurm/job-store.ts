/**
 * The state a Slurm job writes (DESIGN §10): the campaign's store as seen from inside one job.
 * Its plan is the cycle's runs; its manifest starts from the campaign's manifest when the job
 * started; every event goes to the job's own journal, `jobs/<job id>.jsonl` in the campaign's
 * state folder, which the orchestrator merges into the campaign's journal. The campaign's own
 * files are never written from a job: the orchestrator holds their lock.
 */
import {appendFileSync, closeSync, fsyncSync, openSync, readFileSync, writeSync} from 'node:fs';
import {applyEvent} from '../campaign/manifest.js';
import type {CampaignLockResult, CampaignLogLevel, CampaignStore} from '../campaign/store.js';
import type {CampaignPlan, JournalEvent, JournalLine, Manifest} from '../campaign/types.js';

export class JobStore implements CampaignStore {
  readonly locked = true;
  readonly repaired: readonly string[] = [];
  private seq = 0;
  private readonly base: number;
  private fd: number | null;

  constructor(
    readonly dir: string,
    readonly plan: CampaignPlan,
    private state: Manifest,
    private readonly journalPath: string,
    private readonly logPath: string,
  ) {
    this.base = state.journalSeq;
    this.fd = openSync(journalPath, 'a');
    // A job Slurm started again under the same id finds its earlier lines: it numbers on after them
    // (seq stays the line number the merge counts by), on a line of its own after a torn one.
    const earlier = existingLines(journalPath);
    this.seq = earlier.lines;
    if (earlier.torn) writeSync(this.fd, '\n');
  }

  get manifest(): Manifest {
    return this.state;
  }

  lock(): CampaignLockResult {
    return {tookOver: false, from: null};
  }

  unlock(): void {}

  /** One whole line per write(2), then fsync: a kill leaves at most a torn last line, which the merge ignores. */
  record(event: JournalEvent): JournalLine {
    const line = {...event, seq: ++this.seq, at: new Date().toISOString()} as JournalLine;
    if (this.fd === null) throw new Error(`the job journal ${this.journalPath} is closed`);
    writeSync(this.fd, `${JSON.stringify(line)}\n`);
    fsyncSync(this.fd);
    // Folded on top of the campaign's manifest: its seqs continue the campaign journal's.
    this.state = applyEvent(this.state, {...line, seq: this.base + line.seq});
    return line;
  }

  recordAll(events: readonly JournalEvent[]): JournalLine[] {
    return events.map((event) => this.record(event));
  }

  writeProgress(): void {}

  log(level: CampaignLogLevel, message: string): void {
    try {
      appendFileSync(this.logPath, `${new Date().toISOString()} ${level.toUpperCase()} ${message}\n`);
    } catch {
      // The log is for people; the journal is the record.
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/**
 * The complete lines of a job's journal from line `from` (0-based count already merged). A last
 * line without its newline is being written (or was torn by a kill) and is left for later; a line
 * that does not parse is skipped (seq, not position, is what the merge counts).
 */
export function readJobJournal(path: string, from: number): JournalLine[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  const lines = complete.split('\n').slice(0, -1);
  const out: JournalLine[] = [];
  for (const text of lines.slice(from)) {
    try {
      out.push(JSON.parse(text) as JournalLine);
    } catch {
      // A line torn by a kill, ended by the job that ran next under the same id: it never happened.
    }
  }
  return out;
}

/** How many lines the journal holds (a torn last one included), and whether its last line lacks its newline. */
function existingLines(path: string): {lines: number; torn: boolean} {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return {lines: 0, torn: false};
  }
  if (text === '') return {lines: 0, torn: false};
  const torn = !text.endsWith('\n');
  return {lines: text.split('\n').length - (torn ? 0 : 1), torn};
}
