/**
 * A campaign's state folder, `<stateRoot>/<id>/` (DESIGN §7): plan.json (the resolved plan resume
 * runs from), journal.jsonl (append-only events: the truth), manifest.json (the fold of the
 * journal, a cache rewritten after every event), progress.json, campaign.log and a lock.
 *
 * Why nothing is lost (DESIGN §1 principle 4): an event is first appended to the journal — one
 * write(2) of one whole line, then fsync — and only then folded into manifest.json, which is
 * replaced atomically. A kill between the two leaves a manifest one event behind, which the next
 * open catches up from the journal (its `journalSeq` says how far it got). A kill during the
 * append can leave a torn last line, which is dropped: that event never happened. Only the
 * holder of the lock writes; a reader without it never modifies the files.
 */
import {randomBytes} from 'node:crypto';
import {appendFileSync, closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync} from 'node:fs';
import {hostname} from 'node:os';
import {join} from 'node:path';
import {codedError, ExitCode, isCodedError, runError, type CodedError} from '../errors.js';
import {writeFileAtomic} from '../fs-atomic.js';
import {createExclusive, isLockOwnerAlive, readLock, removeIfOurs, removeStale, type CurrentLock} from '../provenance/device-lock.js';
import {processStartTime} from '../runner/proc.js';
import {crashPoint} from './crash.js';
import {applyEvents, emptyCounts, initialManifest, progressOf} from './manifest.js';
import {CAMPAIGN_SCHEMA_VERSION, type CampaignPlan, type CampaignStatus, type JournalEvent, type JournalLine, type Manifest, type Progress} from './types.js';

export const CAMPAIGN_FILES = {
  plan: 'plan.json',
  manifest: 'manifest.json',
  journal: 'journal.jsonl',
  progress: 'progress.json',
  log: 'campaign.log',
  lock: 'lock',
} as const;

export const CampaignStateErrorCodes = {
  /** No campaign folder (or no plan.json in it) for the id. */
  notFound: 'E_CAMPAIGN_NOT_FOUND',
  /** A state file cannot be parsed, has an unknown schemaVersion or does not match the plan. */
  corrupt: 'E_CAMPAIGN_STATE_CORRUPT',
  /** Another live lem holds the campaign's lock. */
  locked: 'E_CAMPAIGN_LOCKED',
  /** createCampaignState found a plan.json already there: creating would overwrite a campaign. */
  exists: 'E_CAMPAIGN_EXISTS',
  /** The state folder cannot be written (permissions, disk full). */
  io: 'E_CAMPAIGN_STATE_IO',
} as const;

/** The content of `<dir>/lock`: who holds it. A pid alone is not an identity; pid + start time is. */
export interface CampaignLockRecord {
  pid: number;
  /** Field 22 of /proc/<pid>/stat; null where unknown (then liveness is by pid alone). */
  startTime: number | null;
  hostname: string;
  /** ISO 8601. */
  acquiredAt: string;
  /** Unique per acquisition: unlock removes only a lock carrying its own token. */
  token?: string;
}

export interface CampaignLockResult {
  /** True when a stale lock (its owner dead) was taken over; `from` is its record where readable. */
  tookOver: boolean;
  from: CampaignLockRecord | null;
}

export type CampaignLogLevel = 'debug' | 'info' | 'warn' | 'error';

/** An open campaign state folder. Writing (record, writeProgress) needs the lock. */
export interface CampaignStore {
  readonly dir: string;
  readonly plan: CampaignPlan;
  /** The current manifest: manifest.json with every later journal line applied. */
  readonly manifest: Manifest;
  readonly locked: boolean;
  /** What opening or locking repaired (a torn journal line dropped, stray temp files removed), for a warning. */
  readonly repaired: readonly string[];
  /** Takes the lock (idempotent) and reloads the state from disk under it. E_CAMPAIGN_LOCKED (exit 2) when a live lem holds it. */
  lock(): CampaignLockResult;
  /** Releases the lock (if held) and closes the journal. Idempotent. */
  unlock(): void;
  /** Appends the event to the journal (durable on return), then folds it into manifest.json. */
  record(event: JournalEvent): JournalLine;
  /** `record` for several events at once: one append and one fsync, one manifest write (a look at 1,000 jobs is one write, not 1,000). */
  recordAll(events: readonly JournalEvent[]): JournalLine[];
  writeProgress(progress: Progress): void;
  /** Appends a timestamped line to campaign.log; every level is written (the log is always at debug level). Never throws. */
  log(level: CampaignLogLevel, message: string): void;
  /** Unlocks and closes every file. Idempotent. */
  close(): void;
}

export interface CampaignStoreOptions {
  /** The clock for journal `at` and log timestamps. Default: the wall clock. */
  now?: () => Date;
}

/** One campaign as `lem resume` lists it. `error` is set (and the counts are 0) when its state cannot be read. */
export interface CampaignListing {
  id: string;
  name: string | null;
  /** The campaign file. */
  file: string | null;
  status: CampaignStatus | null;
  /** Completed + failed + skipped. */
  done: number;
  total: number;
  failed: number;
  /** Interrupted entries, plus running ones whose lem is gone (no live lock holder and no Slurm job still active). */
  interrupted: number;
  /** manifest.updatedAt: the time of the last event. */
  lastActivity: string | null;
  /** A live process holds the lock (the campaign is running now). */
  locked: boolean;
  /** Something is left to do: status not completed, or an entry pending, running, interrupted or failed with retries left. Unreadable campaigns count as unfinished. */
  unfinished: boolean;
  error?: string;
}

const STRAY_TEMP = /^\.(manifest|progress|plan)\.json\..+\.tmp$/;
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._:+-]*$/;
const JOURNAL_TYPES = new Set<string>(['campaign-start', 'run-start', 'run-end', 'skip', 'gap', 'threshold', 'adaptive', 'env-change', 'campaign-end', 'job-submit', 'job-state']);

// ---------------------------------------------------------------------------------------------
// Opening and creating

/**
 * Creates `<stateRoot>/<plan.id>/` holding the plan, an empty journal, the initial manifest and
 * progress, and returns it locked. E_CAMPAIGN_EXISTS when that campaign already has a plan.json.
 */
export function createCampaignState(stateRoot: string, plan: CampaignPlan, options: CampaignStoreOptions = {}): CampaignStore {
  if (!SAFE_ID.test(plan.id)) throw new Error(`campaign id ${JSON.stringify(plan.id)} is not a safe folder name`);
  const dir = join(stateRoot, plan.id);
  io(dir, () => mkdirSync(dir, {recursive: true}));
  const store = new Store(dir, {plan, manifest: initialManifest(plan), lastSeq: 0, repaired: []}, options.now ?? (() => new Date()));
  store.takeLock();
  try {
    if (existsSync(join(dir, CAMPAIGN_FILES.plan))) throw existsError(plan.id, dir);
    io(dir, () => {
      writeFileAtomic(join(dir, CAMPAIGN_FILES.plan), `${JSON.stringify(plan, null, 2)}\n`);
      store.openJournal();
      writeManifest(dir, store.manifest);
      writeFileAtomic(join(dir, CAMPAIGN_FILES.progress), `${JSON.stringify(progressOf(plan, store.manifest), null, 2)}\n`);
    });
  } catch (error) {
    store.close();
    throw error;
  }
  return store;
}

/**
 * Opens campaign `id` without locking it: plan.json, manifest.json and every journal line beyond
 * the manifest's `journalSeq`. A torn last journal line is dropped; when no live lem holds the
 * lock, the journal is also truncated to its last good line and stray temp files are removed
 * (under a momentary lock, so a running lem's files are never touched).
 */
export function openCampaignState(stateRoot: string, id: string, options: CampaignStoreOptions = {}): CampaignStore {
  if (!SAFE_ID.test(id)) throw notFoundError(id, stateRoot);
  const dir = join(stateRoot, id);
  const now = options.now ?? (() => new Date());
  let state = loadState(dir, id, false, now);
  if (state.needsRepair) state = repairUnderMomentaryLock(dir, id, now) ?? state;
  return new Store(dir, state, now);
}

/** Every campaign under `stateRoot` (folders with a plan.json), most recently active first. Never throws for one bad folder. */
export function listCampaigns(stateRoot: string): CampaignListing[] {
  let names: string[];
  try {
    names = readdirSync(stateRoot, {withFileTypes: true})
      .filter((d) => d.isDirectory() && existsSync(join(stateRoot, d.name, CAMPAIGN_FILES.plan)))
      .map((d) => d.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const listings = names.map((name) => listingOf(join(stateRoot, name), name));
  return listings.sort((a, b) => (b.lastActivity ?? '').localeCompare(a.lastActivity ?? '') || b.id.localeCompare(a.id));
}

function listingOf(dir: string, id: string): CampaignListing {
  try {
    const {plan, manifest} = loadState(dir, id, false, () => new Date());
    const locked = lockHeldByLiveProcess(join(dir, CAMPAIGN_FILES.lock));
    const counts = emptyCounts();
    for (const entry of manifest.entries) counts[entry.status]++;
    const retryable = manifest.entries.some((e) => e.status === 'failed' && (e.category === 'runtime' || e.category === 'resource') && e.attempts < 1 + plan.retry.maxAttempts);
    const open = counts.pending + counts.running + counts.interrupted > 0 || retryable;
    return {
      id,
      name: plan.name,
      file: plan.file,
      status: manifest.status,
      done: counts.completed + counts.failed + counts.skipped,
      total: manifest.entries.length,
      failed: counts.failed,
      // Runs of Slurm jobs still in the queue are running there, whether a lem follows them or not (--detach).
      interrupted: counts.interrupted + (locked || manifest.jobs.some((j) => j.endedAt === null) ? 0 : counts.running),
      lastActivity: manifest.updatedAt,
      locked,
      unfinished: manifest.status !== 'completed' || open,
    };
  } catch (error) {
    const message = isCodedError(error) ? `${error.code}: ${error.message}` : (error as Error).message;
    return {id, name: null, file: null, status: null, done: 0, total: 0, failed: 0, interrupted: 0, lastActivity: null, locked: false, unfinished: true, error: message};
  }
}

// ---------------------------------------------------------------------------------------------
// Reading state

interface LoadedState {
  plan: CampaignPlan;
  manifest: Manifest;
  /** The highest seq written so far (journal or manifest): the next event gets lastSeq + 1. */
  lastSeq: number;
  repaired: string[];
  needsRepair?: boolean;
}

interface JournalScan {
  lines: JournalLine[];
  lastSeq: number;
  /** Bytes up to and including the last good line. */
  goodBytes: number;
  /** The unparsable last line that was dropped, if any. */
  torn: {line: number; bytes: number} | null;
  /** The last good line lacks its newline (the next append would join it). */
  needsNewline: boolean;
}

/** Reads the folder; with `repair` (only under the lock) also fixes what a kill left behind, and says so in campaign.log. */
function loadState(dir: string, id: string, repair: boolean, now: () => Date): LoadedState {
  const plan = readPlan(dir, id);
  const stored = readManifest(dir, plan);
  const journal = scanJournal(join(dir, CAMPAIGN_FILES.journal), id);
  const strays = readdirSync(dir).filter((name) => STRAY_TEMP.test(name));
  const manifest = applyEvents(stored ?? initialManifest(plan), journal.lines);
  const state: LoadedState = {plan, manifest, lastSeq: Math.max(manifest.journalSeq, journal.lastSeq), repaired: []};
  const behind = stored === null || manifest !== stored;
  state.needsRepair = journal.torn !== null || journal.needsNewline || strays.length > 0 || stored === null;
  if (repair) state.repaired = io(dir, () => repairFiles(dir, journal, strays, behind ? manifest : null));
  // Logged where it is done: a repair by a reader (lem campaign status) is not repeated by the next lem.
  for (const line of state.repaired) appendLog(dir, now(), 'warn', line);
  return state;
}

function readPlan(dir: string, id: string): CampaignPlan {
  const path = join(dir, CAMPAIGN_FILES.plan);
  const value = readJson(path, id);
  if (value === undefined) throw notFoundError(id, dir);
  const plan = value as Partial<CampaignPlan> | null;
  if (typeof plan !== 'object' || plan === null || typeof plan.schemaVersion !== 'number') throw corruptError(id, path, 'is not a campaign plan');
  checkSchemaVersion(plan.schemaVersion, id, path);
  if (plan.id !== id) throw corruptError(id, path, `belongs to campaign ${JSON.stringify(plan.id)}, not to its folder ${id}`);
  if (!Array.isArray(plan.runs) || typeof plan.hash !== 'string' || typeof plan.retry?.maxAttempts !== 'number') throw corruptError(id, path, 'is not a complete campaign plan');
  return plan as CampaignPlan;
}

/** The stored manifest, or null when there is none yet (a kill during creation: rebuilt from plan + journal). */
function readManifest(dir: string, plan: CampaignPlan): Manifest | null {
  const path = join(dir, CAMPAIGN_FILES.manifest);
  const value = readJson(path, plan.id);
  if (value === undefined) return null;
  const m = value as Partial<Manifest> | null;
  if (typeof m !== 'object' || m === null || typeof m.schemaVersion !== 'number') throw corruptError(plan.id, path, 'is not a campaign manifest');
  checkSchemaVersion(m.schemaVersion, plan.id, path);
  if (m.campaignId !== plan.id || m.planHash !== plan.hash) throw corruptError(plan.id, path, `belongs to another plan (campaign ${String(m.campaignId)}, plan hash ${String(m.planHash)})`);
  if (!Array.isArray(m.entries) || m.entries.length !== plan.runs.length || !Number.isInteger(m.journalSeq)) throw corruptError(plan.id, path, `does not match plan.json (${plan.runs.length} runs)`);
  // Manifests written before executors have no jobs.
  return {...m, jobs: m.jobs ?? []} as Manifest;
}

/** Parsed JSON, or undefined when the file does not exist. */
function readJson(path: string, id: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw corruptError(id, path, `cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw corruptError(id, path, `is not valid JSON: ${(error as Error).message}`);
  }
}

function checkSchemaVersion(version: number, id: string, path: string): void {
  if (version === CAMPAIGN_SCHEMA_VERSION) return;
  const why = version > CAMPAIGN_SCHEMA_VERSION ? 'was written by a newer lem' : 'has an unknown format';
  throw corruptError(id, path, `${why} (schemaVersion ${version}; this lem reads ${CAMPAIGN_SCHEMA_VERSION})`, version > CAMPAIGN_SCHEMA_VERSION ? ['upgrade lem, then resume the campaign with it'] : undefined);
}

/**
 * Parses journal.jsonl line by line (by bytes, so offsets survive multi-byte text). An unparsable
 * LAST line is a kill mid-append and is dropped; an unparsable line with good lines after it was
 * not torn by a kill, so it is corruption. Seqs must increase.
 */
function scanJournal(path: string, id: string): JournalScan {
  const scan: JournalScan = {lines: [], lastSeq: 0, goodBytes: 0, torn: null, needsNewline: false};
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return scan;
    throw corruptError(id, path, `cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let bad: {line: number; reason: string; start: number} | null = null;
  for (let start = 0, lineNo = 1; start < bytes.length; lineNo++) {
    const nl = bytes.indexOf(10, start);
    const end = nl < 0 ? bytes.length : nl;
    const text = bytes.toString('utf8', start, end);
    if (text.trim() !== '') {
      if (bad) throw corruptError(id, path, `line ${bad.line} ${bad.reason}`, undefined, bad.line);
      const parsed = parseJournalLine(text);
      if (typeof parsed === 'string') bad = {line: lineNo, reason: parsed, start};
      else {
        if (parsed.seq <= scan.lastSeq) throw corruptError(id, path, `line ${lineNo} has seq ${parsed.seq} after seq ${scan.lastSeq}`, undefined, lineNo);
        scan.lines.push(parsed);
        scan.lastSeq = parsed.seq;
        scan.goodBytes = nl < 0 ? end : end + 1;
        scan.needsNewline = nl < 0;
      }
    }
    start = nl < 0 ? bytes.length : nl + 1;
  }
  if (bad) scan.torn = {line: bad.line, bytes: bytes.length - bad.start};
  return scan;
}

/** A journal line, or why the text is not one. */
function parseJournalLine(text: string): JournalLine | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'is not valid JSON';
  }
  const line = value as Partial<JournalLine> | null;
  if (typeof line !== 'object' || line === null) return 'is not a journal event';
  if (!Number.isInteger(line.seq) || (line.seq as number) < 1 || typeof line.at !== 'string') return 'lacks a valid seq or at';
  if (typeof line.type !== 'string' || !JOURNAL_TYPES.has(line.type)) return `has an unknown event type ${JSON.stringify(line.type)}`;
  return line as JournalLine;
}

/** Under the lock: drop a torn tail, end the last line, remove stray temp files, write a missing or lagging manifest. */
function repairFiles(dir: string, journal: JournalScan, strays: string[], manifest: Manifest | null): string[] {
  const done: string[] = [];
  const path = join(dir, CAMPAIGN_FILES.journal);
  if (journal.torn || journal.needsNewline) {
    const fd = openSync(path, 'r+');
    try {
      if (journal.torn) ftruncateSync(fd, journal.goodBytes);
      if (journal.needsNewline) writeSync(fd, '\n', journal.goodBytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (journal.torn) done.push(`dropped a torn last line of ${CAMPAIGN_FILES.journal} (line ${journal.torn.line}, ${journal.torn.bytes} bytes: a kill during an append)`);
  }
  for (const name of strays) {
    rmSync(join(dir, name), {force: true});
    done.push(`removed the stray temp file ${name} (a kill during a write)`);
  }
  if (manifest) writeManifest(dir, manifest);
  return done;
}

/** Repairs while holding the lock for a moment; null (nothing touched) when a live lem holds it. */
function repairUnderMomentaryLock(dir: string, id: string, now: () => Date): LoadedState | null {
  let held: HeldLock;
  try {
    held = acquireLock(dir, id, new Date()).held;
  } catch (error) {
    if (isCodedError(error) && error.code === CampaignStateErrorCodes.locked) return null;
    throw error;
  }
  try {
    return loadState(dir, id, true, now);
  } finally {
    releaseLock(held);
  }
}

function writeManifest(dir: string, manifest: Manifest): void {
  // Compact: with tens of thousands of entries it is rewritten after every event.
  writeFileAtomic(join(dir, CAMPAIGN_FILES.manifest), `${JSON.stringify(manifest)}\n`, {beforeRename: () => crashPoint('mid-manifest-write')});
}

// ---------------------------------------------------------------------------------------------
// The store

class Store implements CampaignStore {
  private held: HeldLock | null = null;
  private journalFd: number | null = null;
  private logFd: number | null = null;

  constructor(
    readonly dir: string,
    private state: LoadedState,
    private readonly now: () => Date,
  ) {}

  get plan(): CampaignPlan {
    return this.state.plan;
  }
  get manifest(): Manifest {
    return this.state.manifest;
  }
  get locked(): boolean {
    return this.held !== null;
  }
  get repaired(): readonly string[] {
    return this.state.repaired;
  }

  lock(): CampaignLockResult {
    if (this.held) return {tookOver: false, from: null};
    const result = this.takeLock();
    const opened = this.state.repaired;
    try {
      this.state = loadState(this.dir, this.plan.id, true, this.now);
    } catch (error) {
      this.unlock();
      throw error;
    }
    this.state.repaired = [...opened, ...this.state.repaired];
    if (result.tookOver) this.log('warn', `took over the stale lock of pid ${result.from?.pid ?? 'unknown'} (${result.from?.hostname ?? '?'}, since ${result.from?.acquiredAt ?? '?'})`);
    return result;
  }

  /** Acquires the lock without reloading (creation: there is nothing to reload). */
  takeLock(): CampaignLockResult {
    const {held, ...result} = acquireLock(this.dir, this.plan.id, this.now());
    this.held = held;
    return result;
  }

  unlock(): void {
    if (this.journalFd !== null) {
      const fd = this.journalFd;
      this.journalFd = null;
      closeQuietly(fd, true);
    }
    if (this.held) releaseLock(this.held);
    this.held = null;
  }

  /** Opens journal.jsonl for appending, creating it empty: never truncates what is there. */
  openJournal(): number {
    this.journalFd ??= openSync(join(this.dir, CAMPAIGN_FILES.journal), 'a', 0o644);
    return this.journalFd;
  }

  record(event: JournalEvent): JournalLine {
    return this.recordAll([event])[0]!;
  }

  recordAll(events: readonly JournalEvent[]): JournalLine[] {
    this.assertLocked('record');
    if (events.length === 0) return [];
    const at = this.now().toISOString();
    const lines = events.map((event, i) => ({...event, seq: this.state.lastSeq + 1 + i, at}) as JournalLine);
    // Whole lines in one append: a kill mid-write tears at most the last, which the next open drops.
    io(this.dir, () => appendLine(this.openJournal(), lines.map((line) => `${JSON.stringify(line)}\n`).join('')));
    this.state.lastSeq = lines.at(-1)!.seq;
    this.state.manifest = applyEvents(this.state.manifest, lines);
    io(this.dir, () => writeManifest(this.dir, this.state.manifest));
    return lines;
  }

  writeProgress(progress: Progress): void {
    this.assertLocked('writeProgress');
    io(this.dir, () => writeFileAtomic(join(this.dir, CAMPAIGN_FILES.progress), `${JSON.stringify(progress, null, 2)}\n`));
  }

  log(level: CampaignLogLevel, message: string): void {
    try {
      this.logFd ??= openSync(join(this.dir, CAMPAIGN_FILES.log), 'a', 0o644);
      writeSync(this.logFd, logLine(this.now(), level, message));
    } catch {
      // The log is for people; a full disk is reported by the next record(), which needs the space.
    }
  }

  close(): void {
    this.unlock();
    if (this.logFd !== null) closeQuietly(this.logFd, true);
    this.logFd = null;
  }

  private assertLocked(what: string): void {
    if (!this.held) throw new Error(`campaign ${this.plan.id}: ${what}() needs the lock (call lock() first)`);
  }
}

function logLine(at: Date, level: CampaignLogLevel, message: string): string {
  return `${at.toISOString()} ${level.toUpperCase().padEnd(5)} ${message.replace(/\r?\n/g, '\n    ')}\n`;
}

/** campaign.log for a lem that has no Store open on it; never throws (the log is for people). */
function appendLog(dir: string, at: Date, level: CampaignLogLevel, message: string): void {
  try {
    appendFileSync(join(dir, CAMPAIGN_FILES.log), logLine(at, level, message), {mode: 0o644});
  } catch {
    // as Store.log
  }
}

/** One line in one write(2), then fsync: after return the event survives a kill and a power cut. */
function appendLine(fd: number, text: string): void {
  const data = Buffer.from(text);
  const written = writeSync(fd, data);
  if (written !== data.length) throw Object.assign(new Error(`short write: ${written} of ${data.length} bytes`), {code: 'ENOSPC'});
  fsyncSync(fd);
}

function closeQuietly(fd: number, sync: boolean): void {
  try {
    if (sync) fsyncSync(fd);
  } catch {
    // nothing left to save
  }
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

// ---------------------------------------------------------------------------------------------
// The lock: same protocol as the device locks (provenance/device-lock.ts), one file per campaign.

interface HeldLock {
  path: string;
  ino: number;
  token: string;
}

/** Tokens of the campaign locks this process holds: a lock of this very process with another token is a leftover. */
const liveTokens = new Set<string>();

/** Lock files older than this whose content cannot be parsed are stale (a crash mid-write, junk). */
const UNPARSABLE_GRACE_MS = 5_000;

function acquireLock(dir: string, id: string, now: Date): CampaignLockResult & {held: HeldLock} {
  const path = join(dir, CAMPAIGN_FILES.lock);
  const record: CampaignLockRecord = {pid: process.pid, startTime: processStartTime(process.pid), hostname: hostname(), acquiredAt: now.toISOString(), token: `${process.pid}-${randomBytes(8).toString('hex')}`};
  const content = `${JSON.stringify(record, null, 2)}\n`;
  let taken: CampaignLockResult = {tookOver: false, from: null};
  for (let attempt = 0; attempt < 50; attempt++) {
    const ino = lockIo(dir, () => createExclusive(path, content, dir));
    if (ino !== null) {
      liveTokens.add(record.token!);
      return {...taken, held: {path, ino, token: record.token!}};
    }
    const current = lockIo(dir, () => readLock(path));
    if (current === null) continue; // released meanwhile: create again
    const holder = parseCampaignLock(current.text);
    if (!isStale(current, holder)) throw lockedError(id, holder, path);
    if (lockIo(dir, () => removeStale(path, current)) === 'removed') taken = {tookOver: true, from: holder};
  }
  throw lockedError(id, null, path);
}

function releaseLock(held: HeldLock): void {
  liveTokens.delete(held.token);
  removeIfOurs(held.path, held.ino, held.token);
}

/** A lock record, or null when the text is not one (being written, or junk). */
export function parseCampaignLock(text: string): CampaignLockRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  const r = value as Partial<CampaignLockRecord> | null;
  if (typeof r !== 'object' || r === null || !Number.isInteger(r.pid) || (r.pid as number) <= 0) return null;
  return {
    pid: r.pid as number,
    startTime: typeof r.startTime === 'number' ? r.startTime : null,
    hostname: typeof r.hostname === 'string' ? r.hostname : '',
    acquiredAt: typeof r.acquiredAt === 'string' ? r.acquiredAt : '',
    ...(typeof r.token === 'string' ? {token: r.token} : {}),
  };
}

/** Whether the owner is gone. A lock from another host cannot be checked here, so it is never stale. */
function isStale(current: CurrentLock, holder: CampaignLockRecord | null): boolean {
  if (holder === null) return Date.now() - current.mtimeMs > UNPARSABLE_GRACE_MS;
  if (holder.hostname !== '' && holder.hostname !== hostname()) return false;
  if (holder.pid === process.pid && holder.startTime === processStartTime(process.pid)) return !liveTokens.has(holder.token ?? '');
  return !isLockOwnerAlive(holder.pid, holder.startTime);
}

function lockHeldByLiveProcess(path: string): boolean {
  try {
    const current = readLock(path);
    return current !== null && !isStale(current, parseCampaignLock(current.text));
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Errors

function lockedError(id: string, holder: CampaignLockRecord | null, path: string): CodedError {
  const foreign = holder !== null && holder.hostname !== '' && holder.hostname !== hostname();
  const who = holder ? `pid ${holder.pid}${foreign ? ` on host ${holder.hostname}` : ''}, since ${holder.acquiredAt || 'an unknown time'}` : 'a process whose lock file is being written';
  const tryLines = holder
    ? [`wait for pid ${holder.pid} to finish, or stop it (kill ${holder.pid}), then run \`lem resume ${id}\``]
    : [`run \`lem resume ${id}\` again in a few seconds`];
  if (foreign) tryLines.push(`if lem no longer runs on ${holder.hostname}, delete ${path} and run \`lem resume ${id}\``);
  return codedError({code: CampaignStateErrorCodes.locked, message: `campaign ${id} is in use by another lem process (${who})`, try: tryLines, exitCode: ExitCode.usage});
}

function notFoundError(id: string, where: string): CodedError {
  return codedError({
    code: CampaignStateErrorCodes.notFound,
    message: `no campaign ${JSON.stringify(id)} in ${where}`,
    try: ['run `lem resume` without an id to list the unfinished campaigns', 'check that lem runs in the project whose .lem-state holds the campaign'],
    exitCode: ExitCode.usage,
  });
}

function corruptError(id: string, path: string, reason: string, tryLines?: string[], line?: number): CodedError {
  return codedError({
    code: CampaignStateErrorCodes.corrupt,
    message: `campaign ${id}: ${line === undefined ? path : `${path}:${line}`} ${reason}`,
    try: tryLines ?? [`restore the file from a backup (lem writes none of its lines out of order), then run \`lem resume ${id}\``, 'or start the campaign over: run its file again with --fresh (results already written stay where they are)'],
    exitCode: ExitCode.usage,
    details: [{message: reason, location: line === undefined ? {file: path} : {file: path, line}}],
  });
}

function existsError(id: string, dir: string): CodedError {
  return codedError({code: CampaignStateErrorCodes.exists, message: `campaign ${id} already exists in ${dir}`, try: [`continue it with \`lem resume ${id}\``], exitCode: ExitCode.usage});
}

/** Runs a file operation; a system error becomes E_CAMPAIGN_STATE_IO (a resource failure: the campaign is resumable). */
function io<T>(dir: string, operation: () => T): T {
  try {
    return operation();
  } catch (error) {
    if (isCodedError(error) || !(error as NodeJS.ErrnoException).code) throw error;
    const reason = (error as NodeJS.ErrnoException).code;
    throw runError(CampaignStateErrorCodes.io, `cannot write campaign state in ${dir}: ${reason} (${(error as Error).message})`, [`check that ${dir} is writable and its disk has space, then run \`lem resume\``], 'resource', undefined, error);
  }
}

/** The device-lock helpers report E_DEVICE_LOCK_IO; for a campaign lock that is E_CAMPAIGN_STATE_IO. */
function lockIo<T>(dir: string, operation: () => T): T {
  try {
    return operation();
  } catch (error) {
    const cause = (error as {cause?: unknown} | null)?.cause;
    if (!isCodedError(error) || error.code !== 'E_DEVICE_LOCK_IO' || !(cause as NodeJS.ErrnoException | undefined)?.code) throw error;
    return io(dir, () => {
      throw cause;
    });
  }
}
