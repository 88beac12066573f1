import {spawn, type ChildProcess} from 'node:child_process';
import {afterEach, describe, expect, it} from 'vitest';
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {CCF_VCPU_COEFFICIENT_RANGE, CCF_VCPU_COEFFICIENTS, CgroupCpu, createCpuEstimateMeter, linearPowerW, ProcessGroupCpu} from './cpu-estimate.js';
import {parseProcStat} from '../measure/proc-stat.js';
import {makeProcTree, type FakeProc} from './__fixtures__/fake-trees.js';

const t0Ns = process.hrtime.bigint();
let proc: FakeProc | undefined;
afterEach(() => {
  proc?.cleanup();
  proc = undefined;
});

const mid = (r: {readStartMs: number; readEndMs: number}) => (r.readStartMs + r.readEndMs) / 2;

describe('parseProcStat', () => {
  it('counts fields from the last parenthesis, whatever the command name holds', () => {
    const line = '4242 (my (odd) name) R 1 4242 4242 0 -1 4194304 10 0 0 0 150 30 7 3 20 0 4 0 5000 0 0';
    expect(parseProcStat(line)).toMatchObject({pid: 4242, ppid: 1, pgid: 4242, ownTicks: 180, childTicks: 10});
  });

  it('reads the real /proc/self/stat', async () => {
    const {readFileSync} = await import('node:fs');
    const stat = parseProcStat(readFileSync('/proc/self/stat', 'utf8'));
    expect(stat?.pid).toBe(process.pid);
    expect(stat?.ppid).toBe(process.ppid);
  });

  it('rejects a line that is not a stat line', () => {
    expect(parseProcStat('garbage')).toBeNull();
  });
});

describe('linearPowerW', () => {
  it('is cpus × idle at rest and adds (max − idle) per busy vCPU', () => {
    expect(linearPowerW(4, 0, 0.74, 3.5)).toBeCloseTo(2.96, 12);
    expect(linearPowerW(4, 1.5, 0.74, 3.5)).toBeCloseTo(2.96 + 1.5 * 2.76, 12);
  });
  it('defaults to the CCF coefficients', () => {
    expect(CCF_VCPU_COEFFICIENTS).toEqual({idleWPerVcpu: 0.74, maxWPerVcpu: 3.5, source: 'Cloud Carbon Footprint average per-vCPU coefficients (SPECpower-derived)'});
  });
});

describe('ProcessGroupCpu', () => {
  it('sums utime+stime+cutime+cstime over the group only, from a baseline', () => {
    proc = makeProcTree();
    proc.set(100, {ppid: 1, pgid: 100, utime: 50, stime: 10});
    proc.set(101, {ppid: 100, pgid: 100, utime: 5});
    proc.set(200, {ppid: 1, pgid: 200, utime: 999});
    const g = new ProcessGroupCpu(proc.root, 100);
    expect(g.sample(0)).toBe(0); // time before the tracker existed is not attributed
    proc.set(100, {ppid: 1, pgid: 100, utime: 60, stime: 12});
    proc.set(101, {ppid: 100, pgid: 100, utime: 8});
    proc.set(200, {ppid: 1, pgid: 200, utime: 5000});
    expect(g.sample(10)).toBe(15);
    // A new child of the server: all its time is new.
    proc.set(102, {ppid: 100, pgid: 100, utime: 4, stime: 1});
    expect(g.sample(20)).toBe(20);
  });

  it('counts a child reaped by a member once (it moves into cutime/cstime)', () => {
    proc = makeProcTree();
    proc.set(100, {ppid: 1, pgid: 100, utime: 10});
    proc.set(101, {ppid: 100, pgid: 100, utime: 20});
    const g = new ProcessGroupCpu(proc.root, 100);
    proc.set(101, {ppid: 100, pgid: 100, utime: 30});
    expect(g.sample(1)).toBe(10);
    // 101 ran 5 more ticks, exited, and 100 waited for it: its 35 ticks are now 100's cutime.
    proc.remove(101);
    proc.set(100, {ppid: 1, pgid: 100, utime: 10, cutime: 35});
    expect(g.sample(2)).toBe(15);
  });

  it('keeps the time of a member that left with a parent outside the group, and never goes backwards', () => {
    proc = makeProcTree();
    proc.set(100, {ppid: 1, pgid: 100, utime: 10});
    const g = new ProcessGroupCpu(proc.root, 100);
    proc.set(100, {ppid: 1, pgid: 100, utime: 40});
    expect(g.sample(1)).toBe(30);
    proc.remove(100); // the leader was reaped by lem
    expect(g.sample(2)).toBe(30);
    proc.set(300, {ppid: 1, pgid: 100, utime: 7}); // a straggler of the group
    expect(g.sample(3)).toBe(37);
  });

  it('switches group with setPgid: the new group starts from its own baseline', () => {
    proc = makeProcTree();
    const g = new ProcessGroupCpu(proc.root, 0);
    expect(g.sample(0)).toBe(0);
    proc.set(500, {ppid: 1, pgid: 500, utime: 100});
    g.setPgid(500, 1);
    proc.set(500, {ppid: 1, pgid: 500, utime: 130});
    expect(g.sample(2)).toBe(30);
  });

  it('re-checks pids it saw outside the group on a full rescan', () => {
    proc = makeProcTree();
    proc.set(100, {ppid: 1, pgid: 100, utime: 0});
    proc.set(150, {ppid: 1, pgid: 1, utime: 0});
    const g = new ProcessGroupCpu(proc.root, 100, undefined, 1000);
    proc.set(150, {ppid: 1, pgid: 100, utime: 9}); // joined the group (setpgid)
    expect(g.sample(500)).toBe(0); // remembered as outside until the next rescan
    expect(g.sample(1500)).toBe(9);
  });
});

describe('cpu-estimate meter', () => {
  it('accumulates cpus × idle × T + (max − idle) × CPU-seconds, labelled estimated', async () => {
    proc = makeProcTree();
    proc.set(100, {ppid: 1, pgid: 100, utime: 0});
    const meter = createCpuEstimateMeter({procRoot: proc.root, target: {kind: 'process-group', pgid: 100}, cpus: 2});
    expect(meter.channels).toEqual([
      expect.objectContaining({meter: 'cpu-estimate', channel: 'server', kind: 'counter', estimated: true, updatePeriodMs: 10}),
    ]);
    expect(meter.channels[0]!.source).toContain('Cloud Carbon Footprint');
    const a = meter.read(t0Ns)[0]!;
    await new Promise((r) => setTimeout(r, 30));
    proc.set(100, {ppid: 1, pgid: 100, utime: 40, stime: 10}); // 0.5 CPU-seconds
    const b = meter.read(t0Ns)[0]!;
    const dtS = (mid(b) - mid(a)) / 1000;
    const expected = 2 * 0.74 * dtS + (3.5 - 0.74) * 0.5;
    // Equal up to the ns → ms rounding of the read timestamps.
    expect(Math.abs(b.energyJ! - a.energyJ! - expected) / expected).toBeLessThan(1e-6);
    expect(Math.abs(b.powerW! - expected / dtS) / (expected / dtS)).toBeLessThan(1e-6);
  });

  it('is pointed at the server once it exists: CPU time the group used before is its baseline, and what follows is attributed', () => {
    proc = makeProcTree();
    proc.set(100, {ppid: 1, pgid: 100, utime: 500}); // 5 CPU-seconds before the meter knew the group
    const meter = createCpuEstimateMeter({procRoot: proc.root, cpus: 1, idleWPerVcpu: 0, maxWPerVcpu: 1});
    expect(meter.channels[0]!.scope).toBe('process-group');
    const a = meter.read(t0Ns)[0]!;
    meter.setTarget({kind: 'process-group', pgid: 100});
    proc.set(100, {ppid: 1, pgid: 100, utime: 700}); // 2 CPU-seconds after
    const b = meter.read(t0Ns)[0]!;
    expect(b.energyJ! - a.energyJ!).toBeCloseTo(2, 9);
  });

  it("measures a container's cgroup (v2 cpu.stat, else v1 cpuacct.usage), scoped as a container", () => {
    const root = mkdtempSync(join(tmpdir(), 'lem-cgroup-'));
    try {
      mkdirSync(join(root, 'docker', 'v2'), {recursive: true});
      mkdirSync(join(root, 'cpuacct', 'docker', 'v1'), {recursive: true});
      writeFileSync(join(root, 'docker', 'v2', 'cpu.stat'), 'usage_usec 1000000\nuser_usec 800000\n');
      writeFileSync(join(root, 'cpuacct', 'docker', 'v1', 'cpuacct.usage'), '3000000000\n');
      const v2 = new CgroupCpu(root, '/docker/v2');
      const v1 = new CgroupCpu(root, '/docker/v1');
      writeFileSync(join(root, 'docker', 'v2', 'cpu.stat'), 'usage_usec 3500000\n');
      writeFileSync(join(root, 'cpuacct', 'docker', 'v1', 'cpuacct.usage'), '3250000000\n');
      expect(v2.sampleS()).toBeCloseTo(2.5, 12);
      expect(v1.sampleS()).toBeCloseTo(0.25, 12);
      rmSync(join(root, 'docker', 'v2'), {recursive: true}); // the container is gone: its time stays
      expect(v2.sampleS()).toBeCloseTo(2.5, 12);
      const meter = createCpuEstimateMeter({cgroupRoot: root, targetKind: 'cgroup', cpus: 1, idleWPerVcpu: 0, maxWPerVcpu: 1});
      expect(meter.channels[0]!.scope).toBe('container');
      const a = meter.read(t0Ns)[0]!;
      meter.setTarget({kind: 'cgroup', path: '/docker/v1'});
      writeFileSync(join(root, 'cpuacct', 'docker', 'v1', 'cpuacct.usage'), '4250000000\n');
      expect(meter.read(t0Ns)[0]!.energyJ! - a.energyJ!).toBeCloseTo(1, 9);
      expect(() => meter.setTarget({kind: 'process-group', pgid: 1})).toThrow(/measures a cgroup/);
    } finally {
      rmSync(root, {recursive: true, force: true});
    }
  });

  it("carries its model's coefficients and their published spread, for the energy's model range", () => {
    proc = makeProcTree();
    const meter = createCpuEstimateMeter({procRoot: proc.root, cpus: 4});
    expect(meter.channels[0]!.model).toEqual({cpus: 4, idleWPerVcpu: 0.74, maxWPerVcpu: 3.5, range: {...CCF_VCPU_COEFFICIENT_RANGE, idleWPerVcpu: [0.4556, 3.6824], maxWPerVcpu: [1.693, 8.9614]}});
    const configured = createCpuEstimateMeter({procRoot: proc.root, cpus: 1, idleWPerVcpu: 1, maxWPerVcpu: 5});
    expect(configured.channels[0]!.model!.range.idleWPerVcpu).toEqual([1, 1]);
  });

  it('uses configured coefficients and says so', () => {
    proc = makeProcTree();
    const meter = createCpuEstimateMeter({procRoot: proc.root, cpus: 1, idleWPerVcpu: 1, maxWPerVcpu: 5});
    expect(meter.channels[0]!.source).toContain('configured');
    expect(() => createCpuEstimateMeter({procRoot: proc!.root, cpus: 0})).toThrow(/cpus/);
    expect(() => createCpuEstimateMeter({procRoot: proc!.root, cpus: 1, idleWPerVcpu: 4, maxWPerVcpu: 3})).toThrow(/idleWPerVcpu/);
  });

  // The real /proc: a child that burns 0.8 CPU-seconds against one that sleeps, side by side. The
  // busy child spins on its own CPU time (not the wall clock), so a loaded machine only stretches
  // the test instead of shrinking the difference.
  it('shows a busy process group clearly above an idle one on the real /proc', async () => {
    const start = (code: string): ChildProcess => spawn(process.execPath, ['-e', code], {detached: true, stdio: ['pipe', 'pipe', 'ignore']});
    const line = (child: ChildProcess, text: string) =>
      new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d: Buffer) => (out += d.toString()).includes(text) && resolve());
        child.once('exit', () => reject(new Error(`child exited before printing ${text}`)));
      });
    const busy = start(
      "process.stdout.write('ready\\n'); process.stdin.once('data', () => { const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; }; const end = cpu() + 0.8; while (cpu() < end) {} process.stdout.write('done\\n'); setTimeout(() => {}, 30000); });",
    );
    const idle = start("process.stdout.write('ready\\n'); setTimeout(() => {}, 30000);");
    try {
      await Promise.all([line(busy, 'ready'), line(idle, 'ready')]);
      const busyMeter = createCpuEstimateMeter({target: {kind: 'process-group', pgid: busy.pid!}, cpus: 1});
      const idleMeter = createCpuEstimateMeter({target: {kind: 'process-group', pgid: idle.pid!}, cpus: 1});
      const b0 = busyMeter.read(t0Ns)[0]!;
      const i0 = idleMeter.read(t0Ns)[0]!;
      const done = line(busy, 'done');
      busy.stdin!.write('go\n');
      await done;
      const b1 = busyMeter.read(t0Ns)[0]!;
      const i1 = idleMeter.read(t0Ns)[0]!;
      const busyJ = b1.energyJ! - b0.energyJ!;
      const idleJ = i1.energyJ! - i0.energyJ!;
      const windowS = (mid(i1) - mid(i0)) / 1000;
      // Idle: 0.74 W × the window (plus a tick or two of timer wake-ups).
      expect(idleJ).toBeGreaterThanOrEqual(0.74 * windowS * 0.99);
      expect(idleJ).toBeLessThan(0.74 * windowS + 0.1);
      // Busy: + (3.5 − 0.74) W × 0.8 s ≈ 2.2 J.
      expect(busyJ - idleJ).toBeGreaterThan(1.5);
      expect(busyJ - idleJ).toBeLessThan(3);
    } finally {
      process.kill(-busy.pid!, 'SIGKILL');
      process.kill(-idle.pid!, 'SIGKILL');
    }
  });
});
