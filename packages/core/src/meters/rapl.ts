/**
 * RAPL through the Linux powercap interface (Intel, and AMD since Linux 5.8):
 *
 *   <root>/intel-rapl:N/energy_uj            package N, cumulative µJ
 *   <root>/intel-rapl:N/max_energy_range_uj  where the counter wraps back to 0
 *   <root>/intel-rapl:N:M/{name,energy_uj}   sub-zones named core, uncore or dram
 *
 * Contract: cumulative joules keep increasing across wraps, provided the zone is read at least once
 * per wrap period (minutes at full load; the sampler reads every Δ). A wrap cannot be told from a
 * counter reset (driver reload); both look like a decrease and are unfolded as a wrap.
 *
 * Which channels add up: `core` (PP0) and `uncore` (PP1) are parts of the package domain, so they
 * carry `partOf: 'package-N'` and totals skip them. `dram` is a separate domain on every Intel part
 * that has it (SDM vol. 3B §15.10: PKG covers cores and uncore, not memory), so it is not marked
 * as part of the package and totals add it. `psys` (platform, which contains the package) and the
 * `intel-rapl-mmio` mirror of the package are ignored, both would count the package twice.
 */
import {readdirSync, readFileSync} from 'node:fs';
import {join} from 'node:path';
import {monoNs, msSince, type MeterRead} from '../measure/types.js';
import type {ChannelInfo, Meter} from './types.js';
import {MeterErrorCodes} from './types.js';
import {codedError, ExitCode} from '@lem/plugin-kit';

export const DEFAULT_POWERCAP_ROOT = '/sys/class/powercap';

/** The RAPL counter's own update period (~976 µs on Intel), ms. */
export const RAPL_UPDATE_PERIOD_MS = 1;

/** The file system seam: tests inject failures (EACCES) that root cannot reproduce with chmod. */
export interface RaplFs {
  readFile(path: string): string;
  readdir(path: string): string[];
}

export const nodeRaplFs: RaplFs = {
  readFile: (path) => readFileSync(path, 'utf8'),
  readdir: (path) => readdirSync(path),
};

export type RaplDomain = 'package' | 'core' | 'uncore' | 'dram';

export interface RaplZone {
  /** `package-0`, `package-0/dram`, … */
  channel: string;
  domain: RaplDomain;
  /** The zone's folder, e.g. `<root>/intel-rapl:0:1`. */
  dir: string;
  energyPath: string;
  /** Counter range in µJ; null when the zone does not say (a decrease then reads as a reset). */
  maxEnergyRangeUj: number | null;
  /** The package channel this zone is inside, for core and uncore. */
  partOf?: string;
}

export type RaplProbe =
  | {available: true; root: string; zones: RaplZone[]; channels: ChannelInfo[]; warnings: string[]}
  | {
      available: false;
      root: string;
      /** `no-powercap`: no root folder; `no-zones`: no RAPL package zone; `permission-denied`: energy_uj not readable by this user (root-only since CVE-2020-8694); `unreadable`: any other read failure. */
      code: 'no-powercap' | 'no-zones' | 'permission-denied' | 'unreadable';
      reason: string;
      try: string[];
    };

const SUB_ZONE_DOMAINS = new Set<RaplDomain>(['core', 'uncore', 'dram']);

function errCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? (error as {code?: string}).code : undefined;
}

function readTrimmed(fs: RaplFs, path: string): string | null {
  try {
    return fs.readFile(path).trim();
  } catch {
    return null;
  }
}

/** Parses a non-negative integer counter as sysfs prints it. */
function parseUj(text: string, path: string): number {
  const value = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value)) throw new Error(`${path}: not a µJ counter: ${JSON.stringify(text)}`);
  return value;
}

/**
 * Finds the RAPL zones under `root` and checks that each energy counter can be read. Never throws:
 * an unusable machine is `{available: false}` with a reason and what to try.
 */
export function probeRapl(root: string = DEFAULT_POWERCAP_ROOT, fs: RaplFs = nodeRaplFs): RaplProbe {
  let entries: string[];
  try {
    entries = fs.readdir(root);
  } catch (error) {
    return {
      available: false,
      root,
      code: 'no-powercap',
      reason: `${root} cannot be listed (${errCode(error) ?? String(error)}): this kernel or VM exposes no powercap interface.`,
      try: ['Run on bare metal or a VM that passes RAPL through; without it lem estimates CPU energy (cpu-estimate).'],
    };
  }
  const warnings: string[] = [];
  const packages = entries
    .map((e) => /^intel-rapl:(\d+)$/.exec(e))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({entry: m[0], index: Number(m[1])}))
    .sort((a, b) => a.index - b.index);

  const zones = findZones(fs, root, entries, packages, warnings);
  if (!zones.some((z) => z.domain === 'package')) {
    return {
      available: false,
      root,
      code: 'no-zones',
      reason: `${root} has no RAPL package zone (intel-rapl:N): this CPU or VM exposes no energy counter.`,
      try: ['Run on bare metal or a VM that passes RAPL through; without it lem estimates CPU energy (cpu-estimate).'],
    };
  }

  // Every counter must be readable now: a run that finds out at its first boundary is wasted.
  const unreadable = unreadableCounter(fs, root, zones);
  if (unreadable) return unreadable;

  const channels: ChannelInfo[] = zones.map((z) => ({
    meter: 'rapl',
    channel: z.channel,
    kind: 'counter',
    estimated: false,
    source: z.energyPath,
    scope: 'socket',
    updatePeriodMs: RAPL_UPDATE_PERIOD_MS,
    ...(z.partOf === undefined ? {} : {partOf: z.partOf}),
  }));
  return {available: true, root, zones, channels, warnings};
}

/** The package zones and their core, uncore and DRAM sub-zones; what is skipped, and why, goes to `warnings`. */
function findZones(fs: RaplFs, root: string, entries: string[], packages: Array<{entry: string; index: number}>, warnings: string[]): RaplZone[] {
  const zones: RaplZone[] = [];
  for (const pkg of packages) {
    const dir = join(root, pkg.entry);
    const name = readTrimmed(fs, join(dir, 'name')) ?? `package-${pkg.index}`;
    if (name === 'psys') {
      warnings.push(`${pkg.entry} (psys) skipped: the platform domain contains the packages, adding it would count them twice.`);
      continue;
    }
    if (!name.startsWith('package')) {
      warnings.push(`${pkg.entry} (${name}) skipped: not a package zone.`);
      continue;
    }
    zones.push(zoneOf(fs, dir, name, 'package', undefined, warnings));
    const subs = entries
      .map((e) => new RegExp(`^intel-rapl:${pkg.index}:(\\d+)$`).exec(e))
      .filter((m): m is RegExpExecArray => m !== null)
      .sort((a, b) => Number(a[1]) - Number(b[1]));
    for (const sub of subs) {
      const subDir = join(root, sub[0]);
      const subName = readTrimmed(fs, join(subDir, 'name'));
      if (subName === null || !SUB_ZONE_DOMAINS.has(subName as RaplDomain)) {
        warnings.push(`${sub[0]} (${subName ?? 'no name'}) skipped: not a core, uncore or dram zone.`);
        continue;
      }
      const domain = subName as RaplDomain;
      zones.push(zoneOf(fs, subDir, `${name}/${domain}`, domain, domain === 'dram' ? undefined : name, warnings));
    }
  }
  return zones;
}

/** The probe's answer when a zone's counter cannot be read (root-only since CVE-2020-8694, or broken); null when all can. */
function unreadableCounter(fs: RaplFs, root: string, zones: RaplZone[]): Extract<RaplProbe, {available: false}> | null {
  for (const zone of zones) {
    try {
      parseUj(fs.readFile(zone.energyPath), zone.energyPath);
    } catch (error) {
      const code = errCode(error);
      if (code === 'EACCES' || code === 'EPERM') {
        return {
          available: false,
          root,
          code: 'permission-denied',
          reason: `${zone.energyPath} exists but this user cannot read it: RAPL energy counters are readable by root only since Linux's fix for CVE-2020-8694 (Platypus).`,
          try: [
            'Run lem as root, or',
            `grant read access until the next reboot: sudo chmod a+r ${join(root, 'intel-rapl:*')}/energy_uj ${join(root, 'intel-rapl:*:*')}/energy_uj`,
            'or keep it across reboots with a udev rule, e.g. /etc/udev/rules.d/99-lem-rapl.rules: ACTION=="add", SUBSYSTEM=="powercap", KERNEL=="intel-rapl:*", RUN+="/bin/chmod a+r /sys%p/energy_uj" (this re-opens the side channel of CVE-2020-8694 to local users: only on machines you trust).',
          ],
        };
      }
      return {
        available: false,
        root,
        code: 'unreadable',
        reason: `${zone.energyPath} cannot be read as an energy counter: ${error instanceof Error ? error.message : String(error)}`,
        try: [`Check ${zone.dir}; a RAPL driver (intel_rapl_common / intel_rapl_msr) must be loaded.`],
      };
    }
  }
  return null;
}

function zoneOf(fs: RaplFs, dir: string, channel: string, domain: RaplDomain, partOf: string | undefined, warnings: string[]): RaplZone {
  const rangeText = readTrimmed(fs, join(dir, 'max_energy_range_uj'));
  let maxEnergyRangeUj: number | null = null;
  if (rangeText !== null && /^\d+$/.test(rangeText) && Number(rangeText) > 0) maxEnergyRangeUj = Number(rangeText);
  else warnings.push(`${dir}: no max_energy_range_uj, a wrap of ${channel} would read as a counter reset.`);
  return {channel, domain, dir, energyPath: join(dir, 'energy_uj'), maxEnergyRangeUj, ...(partOf === undefined ? {} : {partOf})};
}

/**
 * Unfolds one wrapping µJ counter into a cumulative one. Pure state machine, exported for tests.
 * Integers in µJ (exact up to 2^53 µJ ≈ 9 GJ), converted to joules only when read out.
 */
export class WrapUnfolder {
  private lastRawUj: number | null = null;
  private offsetUj = 0;
  /** How many wraps were unfolded. */
  wraps = 0;
  constructor(private readonly maxEnergyRangeUj: number | null) {}

  /** Cumulative µJ since the first raw value's origin. */
  push(rawUj: number): number {
    if (this.lastRawUj !== null && rawUj < this.lastRawUj && this.maxEnergyRangeUj !== null) {
      // The counter runs 0..max_energy_range_uj and then restarts at 0.
      this.offsetUj += this.maxEnergyRangeUj;
      this.wraps++;
    }
    this.lastRawUj = rawUj;
    return this.offsetUj + rawUj;
  }
}

export interface RaplMeterOptions {
  root?: string;
  fs?: RaplFs;
}

/** Creates the RAPL meter, or throws `E_METER_UNAVAILABLE` with the probe's reason. */
export function createRaplMeter(options: RaplMeterOptions = {}): Meter & {warnings: string[]} {
  const fs = options.fs ?? nodeRaplFs;
  const probe = probeRapl(options.root ?? DEFAULT_POWERCAP_ROOT, fs);
  if (!probe.available) {
    throw codedError({code: MeterErrorCodes.unavailable, message: `RAPL meter unavailable: ${probe.reason}`, try: probe.try, exitCode: ExitCode.runsFailed});
  }
  const state = probe.zones.map((zone) => ({
    zone,
    unfolder: new WrapUnfolder(zone.maxEnergyRangeUj),
    last: null as {energyUj: number; atMs: number} | null,
  }));
  return {
    channels: probe.channels,
    warnings: probe.warnings,
    read(t0Ns: bigint): MeterRead[] {
      const reads: MeterRead[] = [];
      for (const s of state) {
        const startNs = monoNs();
        const text = readCounter(fs, s.zone.energyPath);
        const endNs = monoNs();
        const energyUj = s.unfolder.push(parseUj(text, s.zone.energyPath));
        const readStartMs = msSince(t0Ns, startNs);
        const readEndMs = msSince(t0Ns, endNs);
        const atMs = (readStartMs + readEndMs) / 2;
        // Mean power since this channel's previous read (tick or boundary).
        const powerW = s.last !== null && atMs > s.last.atMs ? (energyUj - s.last.energyUj) / 1e6 / ((atMs - s.last.atMs) / 1e3) : null;
        s.last = {energyUj, atMs};
        reads.push({meter: 'rapl', channel: s.zone.channel, energyJ: energyUj / 1e6, powerW, readStartMs, readEndMs});
      }
      return reads;
    },
  };
}

/**
 * Reads a counter file, retrying once on an empty read: a file rewritten in place (a test's fake
 * tree) can be caught between truncate and write. Real sysfs regenerates on every read.
 */
function readCounter(fs: RaplFs, path: string): string {
  const text = fs.readFile(path);
  return text.trim() === '' ? fs.readFile(path) : text;
}
