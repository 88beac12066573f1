/**
 * CPU energy where no CPU counter exists (VMs, most clouds): a per-vCPU linear power model,
 *
 *   P = cpus × idleW + (maxW − idleW) × u_server
 *
 * with u_server the CPU-seconds per second used by the server's process group (so 1.5 means one
 * and a half vCPUs busy) and `cpus` the vCPUs allocated to the server (its pinned set, else all).
 * It is applied per read interval and accumulated into a cumulative energy counter, so boundary
 * reads work as with a real counter. Everything it produces is an estimate and labelled so.
 *
 * Because P is linear in u, the accumulated energy over any window equals
 * cpus × idleW × T + (maxW − idleW) × CPU-seconds, whatever the read spacing: the estimate does
 * not depend on the sampling, only on CPU time (quantised to 1/USER_HZ s = 10 ms). u is not
 * capped at `cpus`: a correct `cpus` makes that impossible beyond quantisation, and a wrong one
 * should show rather than be hidden.
 */
import {readdirSync, readFileSync} from 'node:fs';
import {join} from 'node:path';
import {monoNs, msSince, type MeterRead} from '../measure/types.js';
import type {ChannelInfo, CpuEstimateMeterConfig, Meter} from './types.js';

/** Cloud Carbon Footprint's average per-vCPU coefficients (from SPECpower results), watts. */
export const CCF_VCPU_COEFFICIENTS = {
  idleWPerVcpu: 0.74,
  maxWPerVcpu: 3.5,
  source: 'Cloud Carbon Footprint average per-vCPU coefficients (SPECpower-derived)',
} as const;

export const DEFAULT_PROC_ROOT = '/proc';
export const DEFAULT_CLOCK_TICKS_PER_S = 100;

/** The procfs seam. */
export interface ProcFs {
  readFile(path: string): string;
  readdir(path: string): string[];
}

export const nodeProcFs: ProcFs = {
  readFile: (path) => readFileSync(path, 'utf8'),
  readdir: (path) => readdirSync(path),
};

/** The fields of `/proc/<pid>/stat` the estimate needs; CPU times in clock ticks. */
export interface ProcCpuStat {
  pid: number;
  ppid: number;
  pgid: number;
  /** utime + stime: the process's own time, every thread included. */
  ownTicks: number;
  /** cutime + cstime: the time of children it has waited for. */
  childTicks: number;
}

/**
 * Parses one `/proc/<pid>/stat` line. The command name (field 2) is in parentheses and may itself
 * contain spaces and parentheses, so fields are counted from the last `)`.
 */
export function parseProcStat(text: string): ProcCpuStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const rest = text.slice(close + 2).trim().split(/\s+/);
  // rest[0] is field 3 (state): field n is rest[n - 3].
  const field = (n: number): number => Number(rest[n - 3]);
  const stat = {pid, ppid: field(4), pgid: field(5), ownTicks: field(14) + field(15), childTicks: field(16) + field(17)};
  return Object.values(stat).every(Number.isFinite) ? stat : null;
}

/** P = cpus × idleW + (maxW − idleW) × u, watts. */
export function linearPowerW(cpus: number, cpuSecondsPerS: number, idleWPerVcpu: number, maxWPerVcpu: number): number {
  return cpus * idleWPerVcpu + (maxWPerVcpu - idleWPerVcpu) * cpuSecondsPerS;
}

/**
 * Cumulative CPU time of one process group, in clock ticks, robust to processes coming and going:
 *
 * - a member's ticks are utime + stime + cutime + cstime, so a child reaped by a member moves
 *   from its own line into its parent's cutime/cstime without being lost or counted twice;
 * - a member that vanishes while its parent is not a member (the group leader, reaped by lem)
 *   keeps its last seen ticks in `departedTicks`;
 * - the attributed total only ever grows (a high-water mark), so a read racing an exit cannot
 *   make it go backwards or count a dip and its recovery twice.
 *
 * Pids seen outside the group are remembered and skipped, and re-checked on a full rescan every
 * `rescanEveryMs`; a member's new children are new pids and are always read. Time a process
 * spent before it joined the tracked group (before `setPgid`) is not attributed.
 */
export class ProcessGroupCpu {
  private members = new Map<number, {ticks: number; ppid: number}>();
  private outsiders = new Set<number>();
  private departedTicks = 0;
  private groupHighTicks = 0;
  private lastFullScanMs = -Infinity;
  /** Ticks attributed since creation, across pgid changes. */
  attributedTicks = 0;

  constructor(
    private readonly procRoot: string,
    private pgid: number,
    private readonly fs: ProcFs = nodeProcFs,
    private readonly rescanEveryMs = 1000,
  ) {
    this.groupHighTicks = this.scan(0, true);
  }

  /** Switches to another group; its CPU time so far is the new baseline, not attributed. */
  setPgid(pgid: number, nowMs: number): void {
    this.sample(nowMs); // the old group's time up to now stays attributed
    this.pgid = pgid;
    this.members.clear();
    this.outsiders.clear();
    this.departedTicks = 0;
    this.groupHighTicks = this.scan(nowMs, true);
  }

  /** Reads the group and returns `attributedTicks`. `nowMs` only paces the full rescans. */
  sample(nowMs: number): number {
    const total = this.scan(nowMs, false);
    if (total > this.groupHighTicks) {
      this.attributedTicks += total - this.groupHighTicks;
      this.groupHighTicks = total;
    }
    return this.attributedTicks;
  }

  private scan(nowMs: number, forceFull: boolean): number {
    if (this.pgid <= 0) return 0;
    const full = forceFull || nowMs - this.lastFullScanMs >= this.rescanEveryMs;
    if (full) {
      this.outsiders.clear();
      this.lastFullScanMs = nowMs;
    }
    const seen = new Map<number, {ticks: number; ppid: number}>();
    for (const entry of this.fs.readdir(this.procRoot)) {
      const pid = Number(entry);
      if (!Number.isInteger(pid) || pid <= 0 || this.outsiders.has(pid)) continue;
      let stat: ProcCpuStat | null;
      try {
        stat = parseProcStat(this.fs.readFile(join(this.procRoot, entry, 'stat')));
      } catch {
        continue; // exited between readdir and read
      }
      if (stat === null) continue;
      if (stat.pgid === this.pgid) seen.set(pid, {ticks: stat.ownTicks + stat.childTicks, ppid: stat.ppid});
      else this.outsiders.add(pid);
    }
    for (const [pid, last] of this.members) {
      if (seen.has(pid)) continue;
      // Reaped by a member: already inside that member's cutime/cstime. Otherwise keep it.
      if (!seen.has(last.ppid)) this.departedTicks += last.ticks;
    }
    this.members = seen;
    let total = this.departedTicks;
    for (const m of seen.values()) total += m.ticks;
    return total;
  }
}

export interface CpuEstimateOptions extends Omit<CpuEstimateMeterConfig, 'kind'> {
  fs?: ProcFs;
}

/** The cpu-estimate meter: one channel, `cpu-estimate`/`server`, a cumulative estimated counter. */
export function createCpuEstimateMeter(options: CpuEstimateOptions): Meter & {setPgid(pgid: number): void} {
  const procRoot = options.procRoot ?? DEFAULT_PROC_ROOT;
  const idleW = options.idleWPerVcpu ?? CCF_VCPU_COEFFICIENTS.idleWPerVcpu;
  const maxW = options.maxWPerVcpu ?? CCF_VCPU_COEFFICIENTS.maxWPerVcpu;
  const ticksPerS = options.clockTicksPerS ?? DEFAULT_CLOCK_TICKS_PER_S;
  if (!(options.cpus > 0)) throw new RangeError(`cpu-estimate: cpus must be > 0, got ${options.cpus}`);
  if (!(idleW >= 0 && maxW >= idleW)) throw new RangeError(`cpu-estimate: need 0 ≤ idleWPerVcpu ≤ maxWPerVcpu, got ${idleW} and ${maxW}`);
  const coefficientsSource =
    options.idleWPerVcpu === undefined && options.maxWPerVcpu === undefined ? CCF_VCPU_COEFFICIENTS.source : 'configured per-vCPU coefficients';
  const channel: ChannelInfo = {
    meter: 'cpu-estimate',
    channel: 'server',
    kind: 'counter',
    estimated: true,
    source: `linear per-vCPU model P = ${options.cpus} × ${idleW} W + (${maxW} − ${idleW}) W × u_server, u from ${procRoot}/<pid>/stat of process group; ${coefficientsSource}`,
    // CPU time moves in whole clock ticks.
    scope: 'process-group',
    updatePeriodMs: 1000 / ticksPerS,
  };

  const group = new ProcessGroupCpu(procRoot, options.pgid, options.fs ?? nodeProcFs);
  const originNs = monoNs();
  let last = {ns: originNs, ticks: 0};
  let energyJ = 0;

  return {
    channels: [channel],
    setPgid(pgid: number) {
      group.setPgid(pgid, Number(monoNs() - originNs) / 1e6);
    },
    read(t0Ns: bigint): MeterRead[] {
      const startNs = monoNs();
      const ticks = group.sample(Number(startNs - originNs) / 1e6);
      const endNs = monoNs();
      // The interval ends at the read's midpoint, where the CPU times were taken.
      const atNs = (startNs + endNs) / 2n;
      const dtS = Number(atNs - last.ns) / 1e9;
      let powerW: number | null = null;
      if (dtS > 0) {
        powerW = linearPowerW(options.cpus, (ticks - last.ticks) / ticksPerS / dtS, idleW, maxW);
        energyJ += powerW * dtS;
        last = {ns: atNs, ticks};
      }
      return [{meter: 'cpu-estimate', channel: 'server', energyJ, powerW, readStartMs: msSince(t0Ns, startNs), readEndMs: msSince(t0Ns, endNs)}];
    },
  };
}
