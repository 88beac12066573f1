import {afterEach, describe, expect, it} from 'vitest';
import {isCodedError} from '@lem/plugin-kit';
import {monoNs} from '../measure/types.js';
import {phaseEnergy} from './energy.js';
import {startSampler, type Sampler} from './sampler.js';
import {makeProcTree, makeRaplTree, type FakeProc, type FakeRapl} from './__fixtures__/fake-trees.js';

// Time-bound assertions: run one at a time with ≥ 2× margins (DESIGN §9).
describe.sequential('sampler', () => {
  let tree: FakeRapl | undefined;
  let proc: FakeProc | undefined;
  let sampler: Sampler | undefined;
  afterEach(async () => {
    await sampler?.stop();
    sampler = undefined;
    tree?.cleanup();
    proc?.cleanup();
    tree = proc = undefined;
  });

  it('ticks on the absolute schedule t0 + k·Δ without drift', async () => {
    tree = makeRaplTree({sockets: 1});
    const t0Ns = monoNs();
    sampler = await startSampler({meters: [{kind: 'rapl', root: tree.root}], intervalMs: 20, t0Ns: t0Ns.toString()}, {flushEveryMs: 200});
    await new Promise((r) => setTimeout(r, 1000));
    const result = await sampler.stop();
    const ticks = result.samples.map((s) => s.scheduledMs);
    expect(ticks.length + result.missedTicks!).toBeGreaterThanOrEqual(45);
    // Every scheduled time is exactly k·Δ, in order, with no tick taken twice.
    for (const t of ticks) expect(Number.isInteger(t / 20)).toBe(true);
    for (let i = 1; i < ticks.length; i++) expect(ticks[i]!).toBeGreaterThan(ticks[i - 1]!);
    const lastK = ticks[ticks.length - 1]! / 20;
    expect(ticks[ticks.length - 1]).toBe(lastK * 20);
    expect(lastK - ticks[0]! / 20 + 1).toBe(ticks.length + result.missedTicks!);
    // Reads start at or after their due time, and close to it.
    for (const s of result.samples) expect(s.read.readStartMs).toBeGreaterThanOrEqual(s.scheduledMs);
    expect(result.ticks).toBe(ticks.length);
    expect(result.jitterMs!.p50).toBeLessThan(2);
    expect(result.jitterMs!.max).toBeGreaterThanOrEqual(result.jitterMs!.p99);
  });

  it('boundary energy equals what was written to the counters, through a wrap', async () => {
    tree = makeRaplTree({sockets: 2, subZones: ['core', 'dram'], maxEnergyRangeUj: 100_000_000});
    tree.setUj('package-0', 90_000_000);
    tree.setUj('package-1', 1_000_000);
    tree.setUj('package-0/core', 40_000_000);
    const t0Ns = monoNs();
    sampler = await startSampler({meters: [{kind: 'rapl', root: tree.root}], intervalMs: 20, t0Ns: t0Ns.toString()});
    expect(sampler.channels.map((c) => c.channel)).toEqual(['package-0', 'package-0/core', 'package-0/dram', 'package-1', 'package-1/core', 'package-1/dram']);
    const start = await sampler.boundary('measure:start');
    expect(start.label).toBe('measure:start');
    expect(start.reads).toHaveLength(6);
    // While the sampler ticks: package-0 wraps (90 → 99.9 → 2.345678 of a 100 J range).
    await new Promise((r) => setTimeout(r, 60));
    tree.setUj('package-0', 99_900_000);
    tree.setUj('package-1', 3_000_000);
    await new Promise((r) => setTimeout(r, 60));
    tree.setUj('package-0', 2_345_678);
    tree.setUj('package-1', 7_654_321);
    tree.setUj('package-0/core', 45_000_001);
    await new Promise((r) => setTimeout(r, 60));
    const end = await sampler.boundary('measure:end');
    const result = await sampler.stop();
    const e = phaseEnergy(start, end, sampler.channels, result.samples);
    const uj = (c: string) => Math.round(e.channels.find((x) => x.channel === c)!.energyJ! * 1e6);
    expect(uj('package-0')).toBe(100_000_000 - 90_000_000 + 2_345_678);
    expect(uj('package-1')).toBe(7_654_321 - 1_000_000);
    expect(uj('package-0/core')).toBe(5_000_001);
    expect(Math.round(e.totals.energyJ! * 1e6)).toBe(12_345_678 + 6_654_321);
    // The fake counters stand still around both edges: zero edge power, zero uncertainty.
    expect(e.totals.uncertaintyJ).toBe(0);
    expect(e.totals.estimated).toBe(false);
    // Each read is timestamped before and after, inside the boundary's span.
    for (const r of end.reads) expect(r.readEndMs).toBeGreaterThanOrEqual(r.readStartMs);
    expect(end.atMs).toBeGreaterThan(start.atMs);
  });

  it('answers a boundary at once, not at the next tick', async () => {
    tree = makeRaplTree({sockets: 1});
    const t0Ns = monoNs();
    sampler = await startSampler({meters: [{kind: 'rapl', root: tree.root}], intervalMs: 1000, t0Ns: t0Ns.toString()});
    await new Promise((r) => setTimeout(r, 50));
    const askedMs = Number(monoNs() - t0Ns) / 1e6;
    const b = await sampler.boundary('now');
    expect(b.reads[0]!.readStartMs - askedMs).toBeLessThan(100);
  });

  it('attributes estimated CPU energy to the process group given later with setTarget', async () => {
    proc = makeProcTree();
    proc.set(700, {ppid: 1, pgid: 700, utime: 1000});
    const t0Ns = monoNs();
    sampler = await startSampler({meters: [{kind: 'cpu-estimate', procRoot: proc.root, cpus: 1}], intervalMs: 20, t0Ns: t0Ns.toString()});
    expect(sampler.channels).toEqual([expect.objectContaining({meter: 'cpu-estimate', estimated: true})]);
    sampler.setTarget({kind: 'process-group', pgid: 700});
    const start = await sampler.boundary('a');
    proc.set(700, {ppid: 1, pgid: 700, utime: 1100}); // 1 CPU-second
    await new Promise((r) => setTimeout(r, 100));
    const end = await sampler.boundary('b');
    const e = phaseEnergy(start, end, sampler.channels);
    const dtS = (end.reads[0]!.readStartMs + end.reads[0]!.readEndMs - start.reads[0]!.readStartMs - start.reads[0]!.readEndMs) / 2000;
    expect(e.totals.energyJ).toBeCloseTo(0.74 * dtS + 2.76, 6);
    expect(e.totals.estimated).toBe(true);
  });

  it('rejects with E_METER_UNAVAILABLE when a configured meter cannot be read', async () => {
    const error = await startSampler({meters: [{kind: 'rapl', root: '/nonexistent/powercap'}], t0Ns: monoNs().toString()}).catch((e: unknown) => e);
    expect(isCodedError(error) && error.code).toBe('E_METER_UNAVAILABLE');
  });

  it('stop is idempotent and a boundary after stop is an error', async () => {
    tree = makeRaplTree({sockets: 1});
    sampler = await startSampler({meters: [{kind: 'rapl', root: tree.root}], t0Ns: monoNs().toString()});
    const [a, b] = await Promise.all([sampler.stop(), sampler.stop()]);
    expect(a).toBe(b);
    expect(a.workerError).toBeUndefined();
    await expect(sampler.boundary('late')).rejects.toMatchObject({code: 'E_SAMPLER'});
  });
});
