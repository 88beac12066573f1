import {mkdirSync, rmSync} from 'node:fs';
import {join} from 'node:path';
import {afterEach, describe, expect, it} from 'vitest';
import {isCodedError} from '@lem/plugin-kit';
import {createRaplMeter, nodeRaplFs, probeRapl, WrapUnfolder, type RaplFs} from './rapl.js';
import {makeRaplTree, type FakeRapl} from './__fixtures__/fake-trees.js';

const t0Ns = process.hrtime.bigint();
let tree: FakeRapl | undefined;
afterEach(() => {
  tree?.cleanup();
  tree = undefined;
});

describe('probeRapl', () => {
  it('finds every socket and its core/dram sub-zones, and marks what is inside the package', () => {
    tree = makeRaplTree({sockets: 2, subZones: ['core', 'dram']});
    const probe = probeRapl(tree.root);
    if (!probe.available) throw new Error(probe.reason);
    expect(probe.channels.map((c) => c.channel)).toEqual(['package-0', 'package-0/core', 'package-0/dram', 'package-1', 'package-1/core', 'package-1/dram']);
    expect(probe.channels.every((c) => c.meter === 'rapl' && c.kind === 'counter' && !c.estimated)).toBe(true);
    // core is part of the package domain; DRAM is a domain of its own.
    expect(probe.channels.find((c) => c.channel === 'package-1/core')?.partOf).toBe('package-1');
    expect(probe.channels.find((c) => c.channel === 'package-1/dram')?.partOf).toBeUndefined();
    expect(probe.channels.find((c) => c.channel === 'package-0')?.source).toBe(join(tree.root, 'intel-rapl:0', 'energy_uj'));
  });

  it('skips psys and mmio mirrors, which would count the packages twice', () => {
    tree = makeRaplTree({sockets: 1, extraZones: [{entry: 'intel-rapl:1', name: 'psys'}, {entry: 'intel-rapl-mmio:0', name: 'package-0'}]});
    const probe = probeRapl(tree.root);
    if (!probe.available) throw new Error(probe.reason);
    expect(probe.channels.map((c) => c.channel)).toEqual(['package-0']);
    expect(probe.warnings.join('\n')).toMatch(/psys/);
  });

  it('says why when there is no powercap folder or no RAPL zone', () => {
    const missing = probeRapl('/nonexistent/powercap');
    expect(missing).toMatchObject({available: false, code: 'no-powercap'});
    tree = makeRaplTree({sockets: 0});
    expect(probeRapl(tree.root)).toMatchObject({available: false, code: 'no-zones'});
  });

  // Tests run as root, and root reads a chmod 000 file anyway, so EACCES is injected through the
  // file-system seam: the one failure that must be explained (root-only since CVE-2020-8694).
  it('reports an energy_uj that exists but is root-only, with how to fix it', () => {
    tree = makeRaplTree({sockets: 1});
    const denied: RaplFs = {
      readdir: nodeRaplFs.readdir,
      readFile: (path) => {
        if (path.endsWith('energy_uj')) throw Object.assign(new Error(`EACCES: permission denied, open '${path}'`), {code: 'EACCES'});
        return nodeRaplFs.readFile(path);
      },
    };
    const probe = probeRapl(tree.root, denied);
    if (probe.available) throw new Error('expected unavailable');
    expect(probe.code).toBe('permission-denied');
    expect(probe.reason).toContain(join(tree.root, 'intel-rapl:0', 'energy_uj'));
    expect(probe.reason).toMatch(/root only.*CVE-2020-8694/);
    const advice = probe.try.join('\n');
    expect(advice).toMatch(/as root/);
    expect(advice).toMatch(/chmod a\+r/);
    expect(advice).toMatch(/udev rule/);
  });

  // A real unreadable file, no seam: a directory where the counter should be (EISDIR, even for root).
  it('reports any other unreadable counter as unreadable, naming the file', () => {
    tree = makeRaplTree({sockets: 1, subZones: ['dram']});
    const path = join(tree.root, 'intel-rapl:0:0', 'energy_uj');
    rmSync(path);
    mkdirSync(path);
    const probe = probeRapl(tree.root);
    expect(probe).toMatchObject({available: false, code: 'unreadable'});
    expect(probe.available ? '' : probe.reason).toContain(path);
  });

  it('createRaplMeter throws E_METER_UNAVAILABLE with the reason', () => {
    try {
      createRaplMeter({root: '/nonexistent/powercap'});
      expect.unreachable();
    } catch (error) {
      expect(isCodedError(error) && error.code).toBe('E_METER_UNAVAILABLE');
    }
  });
});

describe('WrapUnfolder', () => {
  it('adds the range at each wrap so the total keeps increasing', () => {
    const u = new WrapUnfolder(1000);
    expect([900, 950, 100, 800, 50, 60].map((raw) => u.push(raw))).toEqual([900, 950, 1100, 1800, 2050, 2060]);
    expect(u.wraps).toBe(2);
  });

  it('without a known range a decrease is left as it is (a reset that energy marks invalid)', () => {
    const u = new WrapUnfolder(null);
    expect([900, 100].map((raw) => u.push(raw))).toEqual([900, 100]);
  });
});

describe('RAPL meter', () => {
  it('reads every zone in joules, timestamped, with power since the previous read', async () => {
    tree = makeRaplTree({sockets: 2, subZones: ['core', 'dram']});
    const meter = createRaplMeter({root: tree.root});
    tree.setUj('package-0', 5_000_000);
    tree.setUj('package-1/dram', 1_250_000);
    const first = meter.read(t0Ns);
    expect(first).toHaveLength(6);
    expect(first.find((r) => r.channel === 'package-0')?.energyJ).toBe(5);
    expect(first.find((r) => r.channel === 'package-1/dram')?.energyJ).toBe(1.25);
    expect(first.every((r) => r.powerW === null && r.readEndMs >= r.readStartMs)).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    tree.setUj('package-0', 6_000_000);
    const second = meter.read(t0Ns);
    const a = first[0]!;
    const b = second[0]!;
    const dtS = ((b.readStartMs + b.readEndMs) / 2 - (a.readStartMs + a.readEndMs) / 2) / 1000;
    expect(b.powerW).toBeCloseTo(1 / dtS, 9);
    expect(second.find((r) => r.channel === 'package-1')?.powerW).toBe(0);
  });

  it('unfolds a wrap between reads (small max_energy_range_uj)', () => {
    tree = makeRaplTree({sockets: 1, subZones: ['dram'], maxEnergyRangeUj: 10_000_000});
    const meter = createRaplMeter({root: tree.root});
    const energies: number[] = [];
    for (const uj of [9_000_000, 9_900_000, 500_000, 8_000_000, 1_000_000]) {
      tree.setUj('package-0', uj);
      energies.push(meter.read(t0Ns)[0]!.energyJ!);
    }
    expect(energies).toEqual([9, 9.9, 10.5, 18, 21]);
  });
});
