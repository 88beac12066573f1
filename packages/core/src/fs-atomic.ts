import {closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync} from 'node:fs';
import {randomBytes} from 'node:crypto';
import {basename, dirname, join} from 'node:path';

export interface WriteFileAtomicOptions {
  /** Test seam: runs once the temp file is written and synced, before the rename (a fault point can kill there). */
  beforeRename?: () => void;
}

/**
 * Writes a file so that readers (and a crash at any instant) see the old contents or the new,
 * never a part: temp file in the same folder, fsync, rename, fsync of the folder.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, options: WriteFileAtomicOptions = {}): void {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(temp, 'w', 0o644);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, {force: true});
    throw error;
  }
  closeSync(fd);
  try {
    options.beforeRename?.();
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, {force: true});
    throw error;
  }
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/**
 * A file of records appended as they happen: each `append` is one write(2), nothing is buffered
 * by lem, so what was appended is in the kernel and survives a `kill -9` of lem at any instant.
 * `close` flushes it to the disk.
 */
export class AppendOnlyFile {
  private fd: number | null;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w', 0o644);
  }

  append(text: string): void {
    if (this.fd === null) throw new Error(`${this.path} is closed`);
    writeSync(this.fd, text);
  }

  /** Flushes to the disk and closes. Idempotent. */
  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}
