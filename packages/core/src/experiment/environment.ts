import {spawnSync} from 'node:child_process';
import {readFileSync} from 'node:fs';
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
