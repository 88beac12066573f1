/**
 * The nvml meter through the real FFI path (koffi → a shared library with NVML's ABI): a fake
 * libnvidia-ml.so.1 compiled from __fixtures__/fake-nvml.c, driven by a script.
 */
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest';
import {isCodedError} from '@lem/plugin-kit';
import {monoNs, type Boundary, type MeterRead, type TimelineSample} from '../measure/types.js';
import {createMeter, isAttributing} from './create.js';
import {phaseEnergy} from './energy.js';
import {
  clockEventReasonNames,
  createNvmlMeter,
  LOCKED_CLOCKS_REASON,
  NVML_COUNTER_SOURCE,
  NvmlArchitecture,
  probeNvml,
  resolveGpus,
  THROTTLE_REASON_MASK,
  type NvmlClocks,
  type NvmlDeviceInfo,
  type NvmlProbe,
} from './nvml.js';
import type {Meter} from './types.js';
import {compileFakeNvml, type FakeNvml} from './__fixtures__/fake-nvml.js';
import {makeProcTree, type FakeProc} from './__fixtures__/fake-trees.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const boundary = (label: string, reads: MeterRead[]): Boundary => ({label, atMs: (reads[0]!.readStartMs + reads[reads.length - 1]!.readEndMs) / 2, reads});
const mid = (r: MeterRead) => (r.readStartMs + r.readEndMs) / 2;
const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (error) {
    return isCodedError(error) ? error.code : `not coded: ${String(error)}`;
  }
  return undefined;
};

/** The fake's default clocks (H100-like figures), as probeNvml reports them. */
const H100_CLOCKS: NvmlClocks = {
  maxSmMhz: 1980,
  maxMemoryMhz: 2619,
  applicationsSmMhz: 1755,
  applicationsMemoryMhz: 2619,
  defaultApplicationsSmMhz: 1755,
  defaultApplicationsMemoryMhz: 2619,
  lockedSmMhz: null,
  lockedMemoryMhz: null,
};
const LOCKED_NULL = {'clocks.lockedSmMhz': LOCKED_CLOCKS_REASON, 'clocks.lockedMemoryMhz': LOCKED_CLOCKS_REASON};

describe.sequential('nvml', () => {
  let fake: FakeNvml;
  let proc: FakeProc | undefined;
  const meters: Meter[] = [];
  const open = <M extends Meter>(meter: M): M => {
    meters.push(meter);
    return meter;
  };

  beforeAll(() => {
    fake = compileFakeNvml();
  });
  afterAll(() => fake.cleanup());
  afterEach(() => {
    for (const m of meters.splice(0)) m.close?.();
    proc?.cleanup();
    proc = undefined;
    // Every probe and meter shut NVML down again: the fake reloads its script at the next init.
    expect(fake.refCount()).toBe(0);
  });

  describe('probeNvml', () => {
    it('lists devices, driver version and what each can measure', () => {
      fake.use({
        driver: '565.57.01',
        devices: [
          {uuid: 'GPU-11111111-aaaa', name: 'NVIDIA H200', powerLimitMw: 700_000},
          {uuid: 'GPU-22222222-bbbb', name: 'Tesla P100-PCIE-16GB', noEnergyCounter: true, powerLimitMw: 250_000, persistence: 0},
          {uuid: 'GPU-33333333-cccc', fails: [{fn: 'nvmlDeviceGetPowerManagementLimit', code: 3}]},
        ],
      });
      const probe = probeNvml({libraryPath: fake.libraryPath});
      const hopper = {architecture: 'hopper', clocks: H100_CLOCKS};
      expect(probe).toEqual({
        available: true,
        driverVersion: '565.57.01',
        devices: [
          {index: 0, uuid: 'GPU-11111111-aaaa', name: 'NVIDIA H200', energyCounter: true, powerLimitW: 700, persistenceMode: true, ...hopper, nullReasons: LOCKED_NULL},
          {index: 1, uuid: 'GPU-22222222-bbbb', name: 'Tesla P100-PCIE-16GB', energyCounter: false, powerLimitW: 250, persistenceMode: false, ...hopper, nullReasons: LOCKED_NULL},
          {
            index: 2,
            uuid: 'GPU-33333333-cccc',
            name: 'Fake GPU 2',
            energyCounter: true,
            powerLimitW: null,
            persistenceMode: true,
            ...hopper,
            nullReasons: {powerLimitW: 'nvmlDeviceGetPowerManagementLimit: Not Supported (NVML_ERROR_NOT_SUPPORTED)', ...LOCKED_NULL},
          },
        ],
        warnings: [],
      });
    });

    it('records the architecture and the max, application and default application clocks; each one NVML does not give is null with why', () => {
      fake.use({
        devices: [
          {
            uuid: 'GPU-a100',
            architecture: NvmlArchitecture.AMPERE,
            clocks: {max: {sm: 1410, mem: 1593}, app: {sm: 1275, mem: 1593}, default_app: {sm: 1095, mem: 1593}},
          },
          {
            uuid: 'GPU-partial',
            architecture: NvmlArchitecture.UNKNOWN,
            clocks: {max: {mem: 'unsupported'}, app: {sm: 'unsupported', mem: 'unsupported'}},
            fails: [
              {fn: 'nvmlDeviceGetDefaultApplicationsClock', code: 999},
              {fn: 'nvmlDeviceGetPersistenceMode', code: 3},
            ],
          },
          // Off the bus by the time its clocks are asked for: those figures null, the probe still answers.
          {uuid: 'GPU-lost', fails: ['nvmlDeviceGetMaxClockInfo', 'nvmlDeviceGetApplicationsClock', 'nvmlDeviceGetDefaultApplicationsClock', 'nvmlDeviceGetArchitecture'].map((fn) => ({fn, code: 15}))},
        ],
      });
      const probe = probeNvml({libraryPath: fake.libraryPath});
      expect(probe.available).toBe(true);
      const [a100, partial, lost] = (probe as {devices: NvmlDeviceInfo[]}).devices;
      expect(a100).toMatchObject({
        architecture: 'ampere',
        clocks: {maxSmMhz: 1410, maxMemoryMhz: 1593, applicationsSmMhz: 1275, applicationsMemoryMhz: 1593, defaultApplicationsSmMhz: 1095, defaultApplicationsMemoryMhz: 1593, lockedSmMhz: null, lockedMemoryMhz: null},
        nullReasons: LOCKED_NULL,
      });
      const notSupported = 'Not Supported (NVML_ERROR_NOT_SUPPORTED)';
      expect(partial).toMatchObject({
        architecture: 'unknown',
        persistenceMode: null,
        clocks: {maxSmMhz: 1980, maxMemoryMhz: null, applicationsSmMhz: null, applicationsMemoryMhz: null, defaultApplicationsSmMhz: null, defaultApplicationsMemoryMhz: null},
      });
      expect(partial!.nullReasons).toEqual({
        persistenceMode: `nvmlDeviceGetPersistenceMode: ${notSupported}`,
        'clocks.maxMemoryMhz': `nvmlDeviceGetMaxClockInfo: ${notSupported}`,
        'clocks.applicationsSmMhz': `nvmlDeviceGetApplicationsClock: ${notSupported}`,
        'clocks.applicationsMemoryMhz': `nvmlDeviceGetApplicationsClock: ${notSupported}`,
        'clocks.defaultApplicationsSmMhz': 'nvmlDeviceGetDefaultApplicationsClock: Unknown Error (NVML_ERROR_UNKNOWN)',
        'clocks.defaultApplicationsMemoryMhz': 'nvmlDeviceGetDefaultApplicationsClock: Unknown Error (NVML_ERROR_UNKNOWN)',
        ...LOCKED_NULL,
      });
      expect(lost).toMatchObject({architecture: null, clocks: Object.fromEntries(Object.keys(H100_CLOCKS).map((k) => [k, null]))});
      expect(lost!.nullReasons).toMatchObject({architecture: 'nvmlDeviceGetArchitecture: GPU is lost (NVML_ERROR_GPU_IS_LOST)', 'clocks.maxSmMhz': 'nvmlDeviceGetMaxClockInfo: GPU is lost (NVML_ERROR_GPU_IS_LOST)'});
      // Plain data for provenance: it survives JSON unchanged.
      expect(JSON.parse(JSON.stringify(probe))).toEqual(probe);
    });

    it('a driver without the architecture and application-clock entry points: those figures are null with why, the rest is read', () => {
      const older = compileFakeNvml({omit: ['architecture', 'applicationsClocks']});
      try {
        older.use({devices: [{uuid: 'GPU-old-driver', noEnergyCounter: true, powerW: 80}]});
        const probe = probeNvml({libraryPath: older.libraryPath});
        expect(probe.available).toBe(true);
        const [device] = (probe as {devices: NvmlDeviceInfo[]}).devices;
        expect(device).toMatchObject({architecture: null, clocks: {maxSmMhz: 1980, maxMemoryMhz: 2619, applicationsSmMhz: null, defaultApplicationsMemoryMhz: null}});
        expect(device!.nullReasons).toMatchObject({
          architecture: "this driver's NVML has no nvmlDeviceGetArchitecture",
          'clocks.applicationsSmMhz': "this driver's NVML has no nvmlDeviceGetApplicationsClock",
          'clocks.defaultApplicationsMemoryMhz': "this driver's NVML has no nvmlDeviceGetDefaultApplicationsClock",
        });
        // The meter works without them; its power-only channel takes the conservative period.
        const meter = open(createNvmlMeter({libraryPath: older.libraryPath, uuids: ['GPU-old-driver']}));
        expect(meter.channels[0]).toMatchObject({kind: 'power', updatePeriodMs: 1000, source: expect.stringContaining("architecture unknown (this driver's NVML has no nvmlDeviceGetArchitecture)")});
        expect(meter.read(monoNs())[0]!.powerW).toBe(80);
        meter.close?.();
        expect(older.refCount()).toBe(0);
      } finally {
        older.cleanup();
      }
    });

    it('is unavailable, with the reason, without a driver; never throws', () => {
      const missing = `${fake.dir}/nowhere/libnvidia-ml.so.1`;
      expect(probeNvml({libraryPath: missing})).toEqual({available: false, reason: `no NVIDIA driver (${missing} not found)`});
      // The default library: this machine may or may not have a driver; either way an answer, not an exception.
      const here = probeNvml();
      if (here.available) expect(here.devices.length).toBeGreaterThan(0);
      else expect(here.reason).toMatch(/^no NVIDIA driver \(libnvidia-ml\.so\.1 not found\)$|NVML/);
      // A library that is not NVML.
      const notNvml = probeNvml({libraryPath: 'libc.so.6'});
      expect(notNvml).toMatchObject({available: false, reason: expect.stringMatching(/libc\.so\.6 cannot be used: .*nvmlInit_v2/)});
    });

    it('is unavailable when NVML does not initialise or sees no GPU', () => {
      fake.use({fails: [{fn: 'nvmlInit_v2', code: 9}], devices: [{uuid: 'GPU-x'}]});
      expect(probeNvml({libraryPath: fake.libraryPath})).toEqual({
        available: false,
        reason: 'NVML did not initialise: Driver Not Loaded (NVML_ERROR_DRIVER_NOT_LOADED)',
      });
      fake.use({devices: []});
      expect(probeNvml({libraryPath: fake.libraryPath})).toEqual({available: false, reason: 'NVML found no GPU'});
    });

    it('a meter on a missing library is E_METER_UNAVAILABLE with the reason', () => {
      const missing = `${fake.dir}/nowhere/libnvidia-ml.so.1`;
      expect(() => createNvmlMeter({libraryPath: missing, uuids: ['GPU-x']})).toThrow(`NVML meter unavailable: no NVIDIA driver (${missing} not found)`);
      expect(codeOf(() => createMeter({kind: 'nvml', libraryPath: missing, uuids: ['GPU-x']}))).toBe('E_METER_UNAVAILABLE');
    });
  });

  describe('resolveGpus', () => {
    const h100 = {name: 'NVIDIA H100 80GB HBM3', energyCounter: true, powerLimitW: 700, persistenceMode: true, architecture: 'hopper', clocks: H100_CLOCKS, nullReasons: LOCKED_NULL};
    const probe: NvmlProbe = {
      available: true,
      driverVersion: '550.54.15',
      warnings: [],
      devices: [
        {index: 0, uuid: 'GPU-aaaa', ...h100},
        {index: 1, uuid: 'GPU-bbbb', ...h100},
      ],
    };

    it('maps indices to UUIDs, keeps UUIDs, in the order asked, each once', () => {
      expect(resolveGpus([1, 'GPU-aaaa'], probe)).toEqual(['GPU-bbbb', 'GPU-aaaa']);
      expect(resolveGpus(['0', 0, 'GPU-aaaa'], probe)).toEqual(['GPU-aaaa']);
      expect(resolveGpus([], probe)).toEqual([]);
    });

    it('an unknown index or UUID is E_GPU_NOT_FOUND naming the devices that exist', () => {
      for (const wanted of [2, 'GPU-cccc']) {
        try {
          resolveGpus([0, wanted], probe);
          expect.unreachable();
        } catch (error) {
          expect(isCodedError(error) && error.code).toBe('E_GPU_NOT_FOUND');
          expect((error as Error).message).toContain(JSON.stringify(wanted));
          expect((error as Error).message).toContain('0: GPU-aaaa (NVIDIA H100 80GB HBM3), 1: GPU-bbbb (NVIDIA H100 80GB HBM3)');
        }
      }
      try {
        resolveGpus([0], {available: false, reason: 'no NVIDIA driver (libnvidia-ml.so.1 not found)'});
        expect.unreachable();
      } catch (error) {
        expect(isCodedError(error) && error.code).toBe('E_GPU_NOT_FOUND');
        expect((error as Error).message).toContain('no NVIDIA driver (libnvidia-ml.so.1 not found)');
      }
    });

    it('resolves against a real probe, and the meter refuses a UUID NVML does not know', () => {
      fake.use({devices: [{uuid: 'GPU-first'}, {uuid: 'GPU-second'}]});
      const probed = probeNvml({libraryPath: fake.libraryPath});
      expect(resolveGpus([1], probed)).toEqual(['GPU-second']);
      expect(codeOf(() => createNvmlMeter({libraryPath: fake.libraryPath, uuids: ['GPU-first', 'GPU-third']}))).toBe('E_GPU_NOT_FOUND');
    });
  });

  describe('createNvmlMeter', () => {
    it('a counter channel per GPU that has the counter, a power channel otherwise', () => {
      fake.use({devices: [{uuid: 'GPU-c', powerW: 100}, {uuid: 'GPU-p', noEnergyCounter: true, powerW: 50}]});
      const meter = open(createMeter({kind: 'nvml', libraryPath: fake.libraryPath, uuids: ['GPU-p', 'GPU-c']}));
      expect(isAttributing(meter)).toBe(true);
      expect(meter.channels).toEqual([
        {meter: 'nvml', channel: 'GPU-p', kind: 'power', estimated: false, scope: 'device', source: 'NVML power (mW), a 1 s average on Ampere and newer (this GPU: hopper)', updatePeriodMs: 1000},
        {meter: 'nvml', channel: 'GPU-c', kind: 'counter', estimated: false, scope: 'device', source: NVML_COUNTER_SOURCE, updatePeriodMs: 100},
      ]);
      const reads = meter.read(monoNs());
      expect(reads.map((r) => [r.channel, r.energyJ === null, r.powerW])).toEqual([
        ['GPU-p', true, 50],
        ['GPU-c', false, 100],
      ]);
    });

    it('steady power: each counter read is the scripted energy at its time, and Δ ≈ P·Δt', async () => {
      const originNs = monoNs();
      fake.use({originNs, devices: [{uuid: 'GPU-s', energyStartMj: 5_000_000, powerW: 250}]});
      const meter = open(createNvmlMeter({libraryPath: fake.libraryPath, uuids: ['GPU-s']}));
      // t0 = the script's origin, so read times are the fake's t in ms.
      const expected = (ms: number) => 5000 + 250 * (ms / 1000);
      const a = meter.read(originNs)[0]!;
      await sleep(200);
      const b = meter.read(originNs)[0]!;
      for (const r of [a, b]) {
        expect(r.energyJ!).toBeGreaterThanOrEqual(expected(r.readStartMs) - 0.001); // mJ truncation
        expect(r.energyJ!).toBeLessThanOrEqual(expected(r.readEndMs));
        expect(r.powerW).toBeCloseTo(250, 3);
      }
      const dtS = (mid(b) - mid(a)) / 1000;
      expect(dtS).toBeGreaterThan(0.15);
      expect(Math.abs(b.energyJ! - a.energyJ! - 250 * dtS)).toBeLessThan(250 * ((a.readEndMs - a.readStartMs + b.readEndMs - b.readStartMs) / 1000) + 0.002);
    });

    it('a counter that moves every 100 ms: phase energy within its uncertainty of P·Δt', async () => {
      const originNs = monoNs();
      fake.use({originNs, devices: [{uuid: 'GPU-q', energyStartMj: 1_000_000, powerW: 300, counterPeriodMs: 100}]});
      const meter = open(createNvmlMeter({libraryPath: fake.libraryPath, uuids: ['GPU-q']}));
      const start = boundary('a', meter.read(originNs));
      await sleep(350);
      const end = boundary('b', meter.read(originNs));
      // The counter only takes values start + 300 W × k·0.1 s = 1000 + 30·k J.
      for (const b of [start, end]) expect(Number.isInteger(Math.round((b.reads[0]!.energyJ! - 1000) * 1000) / 30_000)).toBe(true);
      const e = phaseEnergy(start, end, meter.channels);
      const c = e.channels[0]!;
      expect(c.method).toBe('counter');
      const truth = 300 * ((end.atMs - start.atMs) / 1000);
      // Σ over both edges of (read time + 100 ms) × 300 W, from the reads' own durations (a read
      // preempted under load takes longer, and says so).
      const readS = (b: typeof start) => (b.reads[0]!.readEndMs - b.reads[0]!.readStartMs) / 1000;
      expect(c.uncertaintyJ!).toBeCloseTo(300 * (0.2 + readS(start) + readS(end)), 6);
      expect(Math.abs(c.energyJ! - truth)).toBeLessThanOrEqual(c.uncertaintyJ!);
      expect(e.byMeter.nvml?.energyJ).toBe(c.energyJ);
    });

    it('a power-only device is integrated from the timeline', async () => {
      const originNs = monoNs();
      fake.use({originNs, devices: [{uuid: 'GPU-old', noEnergyCounter: true, powerW: 100, rampWPerS: 200}]});
      const meter = open(createNvmlMeter({libraryPath: fake.libraryPath, uuids: ['GPU-old']}));
      const samples: TimelineSample[] = [];
      const start = boundary('a', meter.read(originNs));
      for (let i = 0; i < 15; i++) {
        await sleep(20);
        const read = meter.read(originNs)[0]!;
        samples.push({scheduledMs: read.readStartMs, read});
      }
      const end = boundary('b', meter.read(originNs));
      expect(start.reads[0]!.energyJ).toBeNull();
      const e = phaseEnergy(start, end, meter.channels, samples);
      const c = e.channels[0]!;
      expect(c.method).toBe('integrated');
      // ∫ (100 + 200 t) dt: the trapezoid is exact for a linear ramp, up to mW rounding and to where
      // inside each read the power was taken (its midpoint is the read's time): at most 200 W/s ×
      // the read's duration off per point.
      const energyAt = (ms: number) => 100 * (ms / 1000) + 100 * (ms / 1000) ** 2;
      const truth = energyAt(mid(end.reads[0]!)) - energyAt(mid(start.reads[0]!));
      expect(truth).toBeGreaterThan(30);
      const reads = [start.reads[0]!, ...samples.map((x) => x.read), end.reads[0]!];
      const longestReadS = Math.max(...reads.map((r) => (r.readEndMs - r.readStartMs) / 1000));
      const windowS = (mid(end.reads[0]!) - mid(start.reads[0]!)) / 1000;
      expect(Math.abs(c.energyJ! - truth)).toBeLessThanOrEqual(200 * (longestReadS / 2) * windowS + 0.001 * windowS + 1e-6);
      expect(e.totals.energyJ).toBe(c.energyJ);
    });

    it('a counter reset is kept as read, and makes the phase invalid with null energy and a reason', async () => {
      const originNs = monoNs();
      fake.use({originNs, devices: [{uuid: 'GPU-r', energyStartMj: 10_000_000, powerW: 300, resetAtS: 0.1}, {uuid: 'GPU-ok', powerW: 10}]});
      const meter = open(createNvmlMeter({libraryPath: fake.libraryPath, uuids: ['GPU-r', 'GPU-ok']}));
      const start = boundary('measure:start', meter.read(originNs));
      await sleep(200);
      const end = boundary('measure:end', meter.read(originNs));
      const [a, b] = [start.reads[0]!, end.reads[0]!];
      expect(a.energyJ!).toBeGreaterThan(10_000);
      // Not unfolded: the raw counter restarted near 0.
      expect(b.energyJ!).toBeLessThan(100);
      const e = phaseEnergy(start, end, meter.channels);
      const r = e.channels.find((c) => c.channel === 'GPU-r')!;
      expect(r.energyJ).toBeNull();
      expect(r.uncertaintyJ).toBeNull();
      expect(r.invalid).toMatch(/^counter reset: GPU-r went from [\d.]+ J to [\d.]+ J$/);
      expect(r.reason).toBe(r.invalid);
      expect(e.channels.find((c) => c.channel === 'GPU-ok')!.energyJ!).toBeGreaterThan(0);
      expect(e.byMeter.nvml).toMatchObject({energyJ: null, reason: `nvml/GPU-r: ${r.invalid}`});
      expect(e.energyJ).toBeNull();
    });

    it('reads temperature, SM clock, memory, throttle reasons and the processes, foreign ones apart', () => {
      proc = makeProcTree();
      const serverPids = [100, 101, 102, 103, 104, 105, 106, 107];
      for (const pid of serverPids) proc.set(pid, {ppid: 1, pgid: 100});
      proc.set(200, {ppid: 1, pgid: 200});
      proc.set(201, {ppid: 200, pgid: 200});
      // pid 300: on the GPU but not visible in this /proc (another pid namespace, or gone).
      const pids = [...serverPids, 200, 201, 300].map((pid) => ({pid, usedBytes: 1 << 30}));
      fake.use({
        devices: [
          {uuid: 'GPU-hot', tempC: 87, smClockMhz: 1410, memUsed: 71_000_000_000, memTotal: 80_000_000_000, clockReasons: 0x44, pids},
          {uuid: 'GPU-bare', fails: [{fn: 'nvmlDeviceGetTemperature', code: 3}]},
        ],
      });
      const meter = open(createNvmlMeter({libraryPath: fake.libraryPath, uuids: ['GPU-hot', 'GPU-bare'], pgid: 100, procRoot: proc.root}));
      const [hot, bare] = meter.read(monoNs());
      expect(hot).toMatchObject({temperatureC: 87, smClockMhz: 1410, memoryUsedBytes: 71_000_000_000, clockEventReasons: 0x44, processes: 11, foreignProcesses: 3});
      expect(hot!.error).toBeUndefined();
      expect(clockEventReasonNames(hot!.clockEventReasons!)).toEqual(['swPowerCap', 'hwThermalSlowdown']);
      expect(hot!.clockEventReasons! & THROTTLE_REASON_MASK).not.toBe(0);
      // Temperature not supported on this device: absent, and not an error.
      expect(bare).not.toHaveProperty('temperatureC');
      expect(bare).toMatchObject({processes: 0, foreignProcesses: 0, clockEventReasons: 0});
      expect(bare!.error).toBeUndefined();
      // Another group: now the eight are foreign and the two are not.
      meter.setPgid(200);
      expect(meter.read(monoNs())[0]).toMatchObject({processes: 11, foreignProcesses: 9});
      // Before the server exists every process is foreign.
      meter.setPgid(0);
      expect(meter.read(monoNs())[0]).toMatchObject({foreignProcesses: 11});
    });

    it('an NVML error on a call leaves that field null and says why; other devices are untouched', async () => {
      const originNs = monoNs();
      fake.use({
        originNs,
        devices: [
          {
            uuid: 'GPU-flaky',
            powerW: 200,
            fails: [
              {fn: 'nvmlDeviceGetPowerUsage', code: 10},
              {fn: 'nvmlDeviceGetComputeRunningProcesses_v3', code: 4},
              {fn: 'nvmlDeviceGetTotalEnergyConsumption', code: 999, fromS: 0.15},
            ],
          },
          {uuid: 'GPU-fine', powerW: 100},
        ],
      });
      const meter = open(createNvmlMeter({libraryPath: fake.libraryPath, uuids: ['GPU-flaky', 'GPU-fine']}));
      const [first, fine] = meter.read(originNs);
      expect(first!.energyJ).toEqual(expect.any(Number));
      expect(first).toMatchObject({powerW: null, processes: null, foreignProcesses: null, temperatureC: 40});
      expect(first!.error).toBe(
        'nvmlDeviceGetPowerUsage: Timeout (NVML_ERROR_TIMEOUT); nvmlDeviceGetComputeRunningProcesses_v3: Insufficient Permissions (NVML_ERROR_NO_PERMISSION)',
      );
      expect(fine!.error).toBeUndefined();
      expect(fine!.powerW).toBe(100);
      await sleep(200);
      const later = meter.read(originNs)[0]!;
      expect(later.energyJ).toBeNull();
      expect(later.error).toMatch(/^nvmlDeviceGetTotalEnergyConsumption: Unknown Error \(NVML_ERROR_UNKNOWN\); nvmlDeviceGetPowerUsage/);
      const e = phaseEnergy(boundary('a', [first!, fine!]), boundary('b', meter.read(originNs)), meter.channels);
      expect(e.channels[0]).toMatchObject({energyJ: null, reason: 'no counter read at b'});
    });

    it('a GPU that falls off the bus throws E_GPU_LOST', async () => {
      fake.use({originNs: monoNs(), devices: [{uuid: 'GPU-gone', powerW: 100, lostAtS: 0.1}]});
      const meter = open(createNvmlMeter({libraryPath: fake.libraryPath, uuids: ['GPU-gone']}));
      expect(meter.read(monoNs())[0]!.energyJ).toEqual(expect.any(Number));
      await sleep(150);
      expect(codeOf(() => meter.read(monoNs()))).toBe('E_GPU_LOST');
      expect(() => meter.read(monoNs())).toThrow(/GPU GPU-gone is lost .*NVML_ERROR_GPU_IS_LOST/);
    });

    it('a device that fails its energy counter at creation makes the meter unavailable, and NVML is shut down again', () => {
      fake.use({devices: [{uuid: 'GPU-bad', fails: [{fn: 'nvmlDeviceGetTotalEnergyConsumption', code: 999}]}]});
      expect(codeOf(() => createNvmlMeter({libraryPath: fake.libraryPath, uuids: ['GPU-bad']}))).toBe('E_METER_UNAVAILABLE');
      expect(fake.refCount()).toBe(0);
    });

    it('close shuts NVML down once; a read after close is an error', () => {
      fake.use({devices: [{uuid: 'GPU-a'}]});
      const meter = createNvmlMeter({libraryPath: fake.libraryPath, uuids: ['GPU-a']});
      expect(fake.refCount()).toBe(1);
      meter.close?.();
      meter.close?.();
      expect(fake.refCount()).toBe(0);
      expect(() => meter.read(monoNs())).toThrow(/after close/);
    });

    it('a power-only channel\'s update period follows the architecture: 1 s on Ampere and newer and when unknown, 100 ms before; counters keep 100 ms', () => {
      const {AMPERE, BLACKWELL, PASCAL, TURING, UNKNOWN, VOLTA} = NvmlArchitecture;
      fake.use({
        devices: [
          {uuid: 'GPU-ampere', noEnergyCounter: true, architecture: AMPERE},
          {uuid: 'GPU-blackwell', noEnergyCounter: true, architecture: BLACKWELL},
          {uuid: 'GPU-pascal', noEnergyCounter: true, architecture: PASCAL},
          {uuid: 'GPU-turing', noEnergyCounter: true, architecture: TURING},
          {uuid: 'GPU-newer', noEnergyCounter: true, architecture: UNKNOWN},
          {uuid: 'GPU-unsaid', noEnergyCounter: true, fails: [{fn: 'nvmlDeviceGetArchitecture', code: 3}]},
          {uuid: 'GPU-counter-volta', architecture: VOLTA},
          {uuid: 'GPU-counter-ampere', architecture: AMPERE},
        ],
      });
      const uuids = ['GPU-ampere', 'GPU-blackwell', 'GPU-pascal', 'GPU-turing', 'GPU-newer', 'GPU-unsaid', 'GPU-counter-volta', 'GPU-counter-ampere'];
      const meter = open(createNvmlMeter({libraryPath: fake.libraryPath, uuids}));
      expect(meter.channels.map((c) => [c.channel, c.kind, c.updatePeriodMs, c.source])).toEqual([
        ['GPU-ampere', 'power', 1000, 'NVML power (mW), a 1 s average on Ampere and newer (this GPU: ampere)'],
        ['GPU-blackwell', 'power', 1000, 'NVML power (mW), a 1 s average on Ampere and newer (this GPU: blackwell)'],
        ['GPU-pascal', 'power', 100, 'NVML power (mW), before Ampere: updated about every 100 ms (this GPU: pascal)'],
        ['GPU-turing', 'power', 100, 'NVML power (mW), before Ampere: updated about every 100 ms (this GPU: turing)'],
        ['GPU-newer', 'power', 1000, 'NVML power (mW); architecture unknown (NVML_DEVICE_ARCH_UNKNOWN, presumably newer): taken as a 1 s average, as on Ampere and newer'],
        ['GPU-unsaid', 'power', 1000, 'NVML power (mW); architecture unknown (nvmlDeviceGetArchitecture: Not Supported (NVML_ERROR_NOT_SUPPORTED)): taken as a 1 s average, as on Ampere and newer'],
        ['GPU-counter-volta', 'counter', 100, NVML_COUNTER_SOURCE],
        ['GPU-counter-ampere', 'counter', 100, NVML_COUNTER_SOURCE],
      ]);
    });

    it('a power-only edge is uncertain by its update period: (read time + 1 s) × power on Ampere, (read time + 100 ms) × power on Pascal', () => {
      fake.use({
        devices: [
          {uuid: 'GPU-ampere', noEnergyCounter: true, powerW: 200, architecture: NvmlArchitecture.AMPERE},
          {uuid: 'GPU-pascal', noEnergyCounter: true, powerW: 200, architecture: NvmlArchitecture.PASCAL},
        ],
      });
      const meter = open(createNvmlMeter({libraryPath: fake.libraryPath, uuids: ['GPU-ampere', 'GPU-pascal']}));
      const originNs = monoNs();
      const start = boundary('a', meter.read(originNs));
      const samples: TimelineSample[] = [];
      for (let i = 0; i < 3; i++) {
        const read = meter.read(originNs);
        for (const r of read) samples.push({scheduledMs: r.readStartMs, read: r});
      }
      const end = boundary('b', meter.read(originNs));
      const e = phaseEnergy(start, end, meter.channels, samples);
      const readS = (b: Boundary, channel: string) => {
        const r = b.reads.find((x) => x.channel === channel)!;
        return (r.readEndMs - r.readStartMs) / 1000;
      };
      for (const [channel, periodS] of [['GPU-ampere', 1], ['GPU-pascal', 0.1]] as const) {
        const c = e.channels.find((x) => x.channel === channel)!;
        expect(c.method).toBe('integrated');
        expect(c.uncertaintyJ).toBeCloseTo((readS(start, channel) + periodS) * 200 + (readS(end, channel) + periodS) * 200, 6);
      }
    });
  });
});
