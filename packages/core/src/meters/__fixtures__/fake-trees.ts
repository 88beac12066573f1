/**
 * Fake sysfs and procfs trees in temp folders: hardware this machine lacks (RAPL) and processes
 * we script, simulated at the lowest boundary only (the files the kernel would show).
 */
import {mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

/** Writes through a temp file and a rename, so a concurrent reader never sees a half-written file. */
export function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export interface FakeRapl {
  root: string;
  /** Sets a zone's raw counter: `package-0` or `package-0/dram`. */
  setUj(channel: string, uj: number): void;
  cleanup(): void;
}

export function makeRaplTree(opts: {sockets: number; subZones?: Array<'core' | 'uncore' | 'dram'>; maxEnergyRangeUj?: number; extraZones?: Array<{entry: string; name: string}>}): FakeRapl {
  const root = mkdtempSync(join(tmpdir(), 'lem-rapl-'));
  const range = opts.maxEnergyRangeUj ?? 262143328850;
  const dirs = new Map<string, string>();
  const zone = (entry: string, name: string, channel: string) => {
    const dir = join(root, entry);
    mkdirSync(dir);
    writeFileSync(join(dir, 'name'), `${name}\n`);
    writeFileSync(join(dir, 'energy_uj'), '0\n');
    writeFileSync(join(dir, 'max_energy_range_uj'), `${range}\n`);
    dirs.set(channel, dir);
  };
  mkdirSync(join(root, 'intel-rapl')); // the control-type folder real sysfs has beside the zones
  for (let n = 0; n < opts.sockets; n++) {
    zone(`intel-rapl:${n}`, `package-${n}`, `package-${n}`);
    (opts.subZones ?? []).forEach((sub, m) => zone(`intel-rapl:${n}:${m}`, sub, `package-${n}/${sub}`));
  }
  for (const extra of opts.extraZones ?? []) zone(extra.entry, extra.name, extra.name);
  return {
    root,
    setUj(channel, uj) {
      const dir = dirs.get(channel);
      if (!dir) throw new Error(`no fake zone ${channel}`);
      writeAtomic(join(dir, 'energy_uj'), `${uj}\n`);
    },
    cleanup: () => rmSync(root, {recursive: true, force: true}),
  };
}

export interface FakeProcess {
  ppid: number;
  pgid: number;
  utime?: number;
  stime?: number;
  cutime?: number;
  cstime?: number;
  comm?: string;
}

export interface FakeProc {
  root: string;
  set(pid: number, p: FakeProcess): void;
  remove(pid: number): void;
  cleanup(): void;
}

/** A /proc with only `<pid>/stat` files (plus a few non-pid entries, as the real one has). */
export function makeProcTree(): FakeProc {
  const root = mkdtempSync(join(tmpdir(), 'lem-proc-'));
  mkdirSync(join(root, 'self'));
  writeFileSync(join(root, 'stat'), 'cpu 0 0 0 0\n');
  return {
    root,
    set(pid, p) {
      mkdirSync(join(root, String(pid)), {recursive: true});
      const f = [p.ppid, p.pgid, p.pgid, 0, -1, 4194304, 0, 0, 0, 0, p.utime ?? 0, p.stime ?? 0, p.cutime ?? 0, p.cstime ?? 0, 20, 0, 1, 0, 100, 0, 0];
      writeAtomic(join(root, String(pid), 'stat'), `${pid} (${p.comm ?? 'server'}) S ${f.join(' ')}\n`);
    },
    remove: (pid) => rmSync(join(root, String(pid)), {recursive: true, force: true}),
    cleanup: () => rmSync(root, {recursive: true, force: true}),
  };
}
