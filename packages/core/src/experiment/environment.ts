import {spawnSync} from 'node:child_process';
import {readFileSync, readdirSync, readlinkSync} from 'node:fs';
import os from 'node:os';
import {VERSION} from '../version.js';

/** What the result records about the machine and software (provenance; GPUs come with NVML). */
export interface EnvironmentInfo {
  lemVersion: string;
  node: string;
  platform: string;
  osRelease: string | null;
  kernel: string;
  cpuModel: string;
  logicalCpus: number;
  memoryBytes: number;
  hostname: string;
}

export function environmentInfo(): EnvironmentInfo {
  let osRelease: string | null = null;
  try {
    osRelease = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? null;
  } catch {
    osRelease = null;
  }
  return {
    lemVersion: VERSION,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    osRelease,
    kernel: os.release(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    logicalCpus: os.cpus().length,
    memoryBytes: os.totalmem(),
    hostname: os.hostname(),
  };
}

/** CPU sets for the server and for lem itself: disjoint when there are at least 2 CPUs (DESIGN §5). */
export interface Pinning {
  applied: boolean;
  lemCpus: number[];
  serverCpus: number[];
  reason?: string;
}

/** The CPUs this process may run on now (its affinity), from /proc; all CPUs when unknown. */
export function allowedCpus(): number[] {
  try {
    const line = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (line) {
      const cpus: number[] = [];
      for (const part of line.trim().split(',')) {
        const [a, b] = part.split('-').map(Number);
        for (let c = a!; c <= (b ?? a!); c++) cpus.push(c);
      }
      return cpus;
    }
  } catch {
    // not Linux
  }
  return os.cpus().map((_, i) => i);
}

/**
 * Pins lem (every thread, so the sampler too) to the first allowed CPU and leaves the rest to the
 * server, so the load generator does not steal the server's cycles. Uses `taskset` (util-linux):
 * Node has no affinity API.
 */
export function pinLem(): Pinning {
  const cpus = allowedCpus();
  if (cpus.length < 2) return {applied: false, lemCpus: cpus, serverCpus: cpus, reason: 'fewer than 2 CPUs'};
  const lemCpus = [cpus[0]!];
  const serverCpus = cpus.slice(1);
  const r = spawnSync('taskset', ['-a', '-p', '-c', lemCpus.join(','), String(process.pid)], {encoding: 'utf8'});
  if (r.status !== 0) return {applied: false, lemCpus: cpus, serverCpus: cpus, reason: `taskset failed: ${(r.stderr || r.error?.message || '').trim()}`};
  return {applied: true, lemCpus, serverCpus};
}

/** Undoes {@link pinLem} (for callers that run more than one experiment in one process). */
export function unpinLem(cpus: number[]): void {
  spawnSync('taskset', ['-a', '-p', '-c', cpus.join(','), String(process.pid)]);
}

/**
 * The process listening on a loopback TCP port, found through /proc/net/tcp{,6} and the socket
 * inodes in /proc/<pid>/fd — for attributing CPU energy to an already-running endpoint.
 */
export function listeningProcess(port: number, procRoot = '/proc'): {pid: number; pgid: number} | null {
  const inodes = new Set<string>();
  for (const file of ['net/tcp', 'net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(`${procRoot}/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const localPort = Number.parseInt(f[1]!.split(':')[1]!, 16);
      if (localPort === port && f[3] === '0A') inodes.add(f[9]!); // 0A = LISTEN
    }
  }
  if (inodes.size === 0) return null;
  for (const entry of readdirSync(procRoot)) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`${procRoot}/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target = '';
      try {
        target = readlinkSync(`${procRoot}/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && inodes.has(m[1]!)) {
        const stat = readFileSync(`${procRoot}/${entry}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return {pid: Number(entry), pgid: Number(fields[2])};
      }
    }
  }
  return null;
}

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}
