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
import {DEFAULT_PROC_ROOT, parseProcStat, type ProcStat} from '../measure/proc-stat.js';
import type {ChannelInfo, CpuEstimateMeterConfig, Meter, MeterTarget} from './types.js';

/** Cloud Carbon Footprint's average per-vCPU coefficients (from SPECpower results), watts. */
export const CCF_VCPU_COEFFICIENTS = {
  idleWPerVcpu: 0.74,
  maxWPerVcpu: 3.5,
  source: 'Cloud Carbon Footprint average per-vCPU coefficients (SPECpower-derived)',
} as const;

export const DEFAULT_CLOCK_TICKS_PER_S = 100;
export const DEFAULT_CGROUP_ROOT = '/sys/fs/cgroup';

/** The procfs seam. */
export interface ProcFs {
  readFile(path: string): string;
  readdir(path: string): string[];
}

export const nodeProcFs: ProcFs = {
  readFile: (path) => readFileSync(path, 'utf8'),
  readdir: (path) => readdirSync(path),
};

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
      let stat: ProcStat | null;
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

/**
 * Cumulative CPU seconds of a container's cgroup: cgroup v2 `cpu.stat` (`usage_usec`), else v1
 * `cpuacct.usage` (ns). A high-water mark, like the process group's, from a baseline at creation.
 */
export class CgroupCpu {
  private readonly files: Array<{path: string; parse: (text: string) => number | null}>;
  private baseline: number;
  private high = 0;

  constructor(
    cgroupRoot: string,
    cgroupPath: string,
    private readonly fs: ProcFs = nodeProcFs,
  ) {
    const rel = cgroupPath.replace(/^\/+/, '');
    this.files = [
      {path: join(cgroupRoot, rel, 'cpu.stat'), parse: (t) => {
        const m = /^usage_usec (\d+)$/m.exec(t);
        return m ? Number(m[1]) / 1e6 : null;
      }},
      ...['cpuacct', 'cpu,cpuacct'].map((controller) => ({path: join(cgroupRoot, controller, rel, 'cpuacct.usage'), parse: (t: string) => (/^\d+\s*$/.test(t) ? Number(t) / 1e9 : null)})),
    ];
    this.baseline = this.read() ?? 0;
  }

  private read(): number | null {
    for (const f of this.files) {
      let text: string;
      try {
        text = this.fs.readFile(f.path);
      } catch {
        continue;
      }
      const seconds = f.parse(text);
      if (seconds !== null) return seconds;
    }
    return null;
  }

  /** CPU seconds since creation; the last value when the cgroup is gone (the container was removed). */
  sampleS(): number {
    const now = this.read();
    if (now !== null && now - this.baseline > this.high) this.high = now - this.baseline;
    return this.high;
  }
}

/**
 * Published per-vCPU coefficients differ by CPU family: the lowest and the highest idle and
 * full-load watts over the families Cloud Carbon Footprint tabulates. The default coefficients
 * are an average; this spread is how far the estimate may be off on a machine of unknown family.
 */
export const CCF_VCPU_COEFFICIENT_RANGE = {
  idleWPerVcpu: [0.4556, 3.6824] as [number, number],
  maxWPerVcpu: [1.693, 8.9614] as [number, number],
  source: 'Cloud Carbon Footprint per-architecture coefficients (ccf-coefficients, output/coefficients-aws-use.csv): lowest and highest of 20 CPU families',
} as const;

export interface CpuEstimateOptions extends Omit<CpuEstimateMeterConfig, 'kind'> {
  fs?: ProcFs;
}

/** Attributed CPU seconds of whatever the meter is pointed at, across changes of target. */
class AttributedCpu {
  private source: {sampleS(nowMs: number): number} | null = null;
  private before = 0;

  constructor(private readonly open: (target: MeterTarget) => {sampleS(nowMs: number): number}) {}

  /** Points at a new target; its CPU time so far is its baseline, not attributed. */
  setTarget(target: MeterTarget | undefined, nowMs: number): void {
    this.before = this.sampleS(nowMs);
    this.source = target === undefined || (target.kind === 'process-group' && target.pgid <= 0) ? null : this.open(target);
  }

  sampleS(nowMs: number): number {
    return this.before + (this.source?.sampleS(nowMs) ?? 0);
  }
}

/**
 * The cpu-estimate meter: one channel, `cpu-estimate`/`server`, a cumulative estimated counter
 * of the CPU time of its target (the server's process group, or its container's cgroup).
 */
export function createCpuEstimateMeter(options: CpuEstimateOptions): Meter & {setTarget(target: MeterTarget): void} {
  const procRoot = options.procRoot ?? DEFAULT_PROC_ROOT;
  const cgroupRoot = options.cgroupRoot ?? DEFAULT_CGROUP_ROOT;
  const idleW = options.idleWPerVcpu ?? CCF_VCPU_COEFFICIENTS.idleWPerVcpu;
  const maxW = options.maxWPerVcpu ?? CCF_VCPU_COEFFICIENTS.maxWPerVcpu;
  const ticksPerS = options.clockTicksPerS ?? DEFAULT_CLOCK_TICKS_PER_S;
  const fs = options.fs ?? nodeProcFs;
  const targetKind = options.targetKind ?? options.target?.kind ?? 'process-group';
  if (!(options.cpus > 0)) throw new RangeError(`cpu-estimate: cpus must be > 0, got ${options.cpus}`);
  if (!(idleW >= 0 && maxW >= idleW)) throw new RangeError(`cpu-estimate: need 0 ≤ idleWPerVcpu ≤ maxWPerVcpu, got ${idleW} and ${maxW}`);
  const configured = options.idleWPerVcpu !== undefined || options.maxWPerVcpu !== undefined;
  const coefficientsSource = configured ? 'configured per-vCPU coefficients' : CCF_VCPU_COEFFICIENTS.source;
  const what = targetKind === 'cgroup' ? `the container cgroup's CPU time (${cgroupRoot})` : `${procRoot}/<pid>/stat of the server's process group`;
  const channel: ChannelInfo = {
    meter: 'cpu-estimate',
    channel: 'server',
    kind: 'counter',
    estimated: true,
    source: `linear per-vCPU model P = ${options.cpus} × ${idleW} W + (${maxW} − ${idleW}) W × u_server, u from ${what}; ${coefficientsSource}`,
    scope: targetKind === 'cgroup' ? 'container' : 'process-group',
    // CPU time moves in whole clock ticks.
    updatePeriodMs: 1000 / ticksPerS,
    model: {
      cpus: options.cpus,
      idleWPerVcpu: idleW,
      maxWPerVcpu: maxW,
      // Coefficients given by the user are theirs to vouch for: no spread is invented for them.
      range: configured
        ? {idleWPerVcpu: [idleW, idleW], maxWPerVcpu: [maxW, maxW], source: 'configured coefficients (no spread given)'}
        : {idleWPerVcpu: CCF_VCPU_COEFFICIENT_RANGE.idleWPerVcpu, maxWPerVcpu: CCF_VCPU_COEFFICIENT_RANGE.maxWPerVcpu, source: CCF_VCPU_COEFFICIENT_RANGE.source},
    },
  };

  const cpu = new AttributedCpu((target) => {
    if (target.kind !== targetKind) throw new RangeError(`cpu-estimate: measures a ${targetKind}, was given a ${target.kind}`);
    if (target.kind === 'cgroup') {
      const group = new CgroupCpu(cgroupRoot, target.path, fs);
      return {sampleS: () => group.sampleS()};
    }
    const group = new ProcessGroupCpu(procRoot, target.pgid, fs);
    return {sampleS: (nowMs) => group.sample(nowMs) / ticksPerS};
  });
  const originNs = monoNs();
  const sinceOriginMs = () => Number(monoNs() - originNs) / 1e6;
  cpu.setTarget(options.target, 0);
  let last = {ns: originNs, cpuS: 0};
  let energyJ = 0;

  return {
    channels: [channel],
    setTarget(target: MeterTarget) {
      cpu.setTarget(target, sinceOriginMs());
    },
    read(t0Ns: bigint): MeterRead[] {
      const startNs = monoNs();
      const cpuS = cpu.sampleS(Number(startNs - originNs) / 1e6);
      const endNs = monoNs();
      // The interval ends at the read's midpoint, where the CPU times were taken.
      const atNs = (startNs + endNs) / 2n;
      const dtS = Number(atNs - last.ns) / 1e9;
      let powerW: number | null = null;
      if (dtS > 0) {
        powerW = linearPowerW(options.cpus, (cpuS - last.cpuS) / dtS, idleW, maxW);
        energyJ += powerW * dtS;
        last = {ns: atNs, cpuS};
      }
      return [{meter: 'cpu-estimate', channel: 'server', energyJ, powerW, readStartMs: msSince(t0Ns, startNs), readEndMs: msSince(t0Ns, endNs)}];
    },
  };
}
