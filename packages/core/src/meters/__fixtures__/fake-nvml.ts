/**
 * The fake NVML library (fake-nvml.c), compiled at test time into a temp folder as
 * `libnvidia-ml.so.1`, and the scripts that drive it. See fake-nvml.c for the script format.
 */
import {execFileSync} from 'node:child_process';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import koffi from 'koffi';

export interface FakeNvmlDevice {
  uuid: string;
  name?: string;
  energyStartMj?: number;
  powerW?: number;
  rampWPerS?: number;
  counterPeriodMs?: number;
  resetAtS?: number;
  noEnergyCounter?: boolean;
  /** Reported power, mW (default: the scripted power at the time of the call). */
  powerMw?: number;
  tempC?: number;
  smClockMhz?: number;
  memTotal?: number;
  memUsed?: number;
  clockReasons?: number;
  powerLimitMw?: number;
  persistence?: 0 | 1;
  /** `NVML_DEVICE_ARCH_*` (default 9, Hopper). */
  architecture?: number;
  /** Clocks by kind and domain, MHz, or `unsupported` (NOT_SUPPORTED); unset ones keep the fake's H100-like defaults. */
  clocks?: Partial<Record<FakeClockKind, Partial<Record<FakeClockType, number | 'unsupported'>>>>;
  pids?: Array<{pid: number; usedBytes: number}>;
  lostAtS?: number;
  /** Calls on this device that return `code` (from `fromS` seconds on). */
  fails?: Array<{fn: string; code: number; fromS?: number}>;
}

/** max: nvmlDeviceGetMaxClockInfo; app: nvmlDeviceGetApplicationsClock; default_app: nvmlDeviceGetDefaultApplicationsClock. */
export type FakeClockKind = 'max' | 'app' | 'default_app';
/** `nvmlClockType_t`. */
export type FakeClockType = 'graphics' | 'sm' | 'mem' | 'video';

export interface FakeNvmlScript {
  /** Time origin, `process.hrtime.bigint()` (CLOCK_MONOTONIC); default when the script is loaded. */
  originNs?: bigint;
  /**
   * A file that will hold the origin (decimal ns; write it whole, e.g. by rename): until it exists
   * the script's time stands at 0, so a test can start the clock when something happens.
   */
  originFile?: string;
  driver?: string;
  /** Global failures: nvmlInit_v2, nvmlDeviceGetCount_v2, nvmlSystemGetDriverVersion. */
  fails?: Array<{fn: string; code: number; fromS?: number}>;
  devices: FakeNvmlDevice[];
}

/** The script's text. */
export function fakeNvmlScript(script: FakeNvmlScript): string {
  const lines: string[] = [];
  const fail = (f: {fn: string; code: number; fromS?: number}) => lines.push(`fail ${f.fn} ${f.code}${f.fromS === undefined ? '' : ` ${f.fromS}`}`);
  if (script.originNs !== undefined) lines.push(`origin_ns ${script.originNs}`);
  if (script.originFile !== undefined) lines.push(`origin_file ${script.originFile}`);
  if (script.driver !== undefined) lines.push(`driver ${script.driver}`);
  script.fails?.forEach(fail);
  for (const d of script.devices) {
    lines.push(`device ${d.uuid}`);
    const put = (key: string, value: number | string | undefined) => {
      if (value !== undefined) lines.push(`${key} ${value}`);
    };
    put('name', d.name);
    put('energy_start_mj', d.energyStartMj);
    put('power_w', d.powerW);
    put('ramp_w_per_s', d.rampWPerS);
    put('counter_period_ms', d.counterPeriodMs);
    put('reset_at_s', d.resetAtS);
    if (d.noEnergyCounter) lines.push('no_energy_counter');
    put('power_mw', d.powerMw);
    put('temp_c', d.tempC);
    put('sm_clock_mhz', d.smClockMhz);
    put('mem_total', d.memTotal);
    put('mem_used', d.memUsed);
    put('clock_reasons', d.clockReasons === undefined ? undefined : `0x${d.clockReasons.toString(16)}`);
    put('power_limit_mw', d.powerLimitMw);
    put('persistence', d.persistence);
    put('arch', d.architecture);
    for (const [kind, types] of Object.entries(d.clocks ?? {})) {
      for (const [type, mhz] of Object.entries(types)) lines.push(`clock ${kind} ${type} ${mhz}`);
    }
    put('lost_at_s', d.lostAtS);
    for (const p of d.pids ?? []) lines.push(`pid ${p.pid} ${p.usedBytes}`);
    d.fails?.forEach(fail);
  }
  return lines.join('\n') + '\n';
}

export interface FakeNvml {
  dir: string;
  /** `<dir>/libnvidia-ml.so.1`. */
  libraryPath: string;
  /**
   * Writes a script and points FAKE_NVML_SCRIPT at it (in the real environment, which the
   * sampler's worker shares). The library reads it at its next first nvmlInit_v2.
   */
  use(script: FakeNvmlScript): string;
  /** The library's init reference count (0 once every user shut it down). */
  refCount(): number;
  /** NVML calls since the script was loaded. */
  calls(): number;
  cleanup(): void;
}

export interface CompileFakeNvmlOptions {
  /** Entry points to leave out of the library, as a driver without them would. */
  omit?: Array<'architecture' | 'applicationsClocks'>;
}

const OMIT_DEFINES = {architecture: '-DFAKE_NVML_OMIT_ARCH', applicationsClocks: '-DFAKE_NVML_OMIT_APP_CLOCKS'} as const;

/** Compiles fake-nvml.c with gcc into a fresh temp folder. */
export function compileFakeNvml(options: CompileFakeNvmlOptions = {}): FakeNvml {
  const dir = mkdtempSync(join(tmpdir(), 'lem-fake-nvml-'));
  const libraryPath = join(dir, 'libnvidia-ml.so.1');
  const source = fileURLToPath(new URL('./fake-nvml.c', import.meta.url));
  const defines = (options.omit ?? []).map((entry) => OMIT_DEFINES[entry]);
  execFileSync('gcc', ['-O1', '-Wall', '-Werror', ...defines, '-shared', '-fPIC', '-o', libraryPath, source], {stdio: 'pipe'});
  // The same path gives the same dlopen handle: these hooks see the state NVML callers see.
  const lib = koffi.load(libraryPath);
  const refCount = lib.func('fakeNvmlRefCount', 'int', []) as () => number;
  const calls = lib.func('fakeNvmlCalls', 'unsigned long long', []) as () => number | bigint;
  let n = 0;
  return {
    dir,
    libraryPath,
    use(script) {
      const path = join(dir, `script-${n++}.txt`);
      writeFileSync(path, fakeNvmlScript(script));
      process.env.FAKE_NVML_SCRIPT = path;
      return path;
    },
    refCount,
    calls: () => Number(calls()),
    cleanup() {
      delete process.env.FAKE_NVML_SCRIPT;
      rmSync(dir, {recursive: true, force: true});
    },
  };
}
