/**
 * NVIDIA GPUs through NVML (`libnvidia-ml.so.1`, shipped with the driver), called through koffi.
 *
 * Energy: `nvmlDeviceGetTotalEnergyConsumption`, millijoules since the driver loaded (Volta and
 * newer), updated about every 100 ms. Where a device does not support it the channel is
 * power-only (`nvmlDeviceGetPowerUsage`, a 1 s average on Ampere and newer) and its energy is
 * integrated from the timeline; the architecture (`nvmlDeviceGetArchitecture`) decides the
 * update period that goes into each edge's uncertainty. A counter that goes backwards between
 * reads is a reset (driver reload, GPU reset): reads keep the raw value, and phase energy marks
 * the window invalid.
 *
 * The probe also records each device's architecture and clocks (max, application, default
 * application; locked clocks have no getter in NVML), each null with the reason where NVML does
 * not give it.
 *
 * Every read also records temperature, SM clock, memory used, the clock-event (throttle) reasons
 * and the compute processes on the device, with how many are outside the server's process group
 * (energy is device-wide: theirs is included).
 *
 * Errors: a failing call on a read leaves that read's field null and says why in `error`; a GPU
 * that fell off the bus (`NVML_ERROR_GPU_IS_LOST`) throws `E_GPU_LOST`, which fails the run.
 *
 * Without a driver `koffi.load` throws: `probeNvml` then answers `available: false` with the
 * reason, and GPU energy is null, never 0.
 */
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {createRequire} from 'node:module';
import type {TypeObject} from 'koffi';

// koffi loads a native addon: required on first use, so commands that never touch a GPU start faster.
type Koffi = typeof import('koffi');
let koffiModule: Koffi | undefined;
const koffiLib = (): Koffi => (koffiModule ??= createRequire(import.meta.url)('koffi') as Koffi);
import {codedError, ExitCode} from '@lem/plugin-kit';
import {configError} from '../errors.js';
import {monoNs, msSince, type MeterRead} from '../measure/types.js';
import {DEFAULT_PROC_ROOT, parseProcStat} from '../measure/proc-stat.js';
import {MeterErrorCodes, type ChannelInfo, type Meter, type NvmlMeterConfig} from './types.js';

export const NVML_LIBRARY = 'libnvidia-ml.so.1';

/** How often the total-energy counter moves, ms (about every 100 ms on current GPUs). */
export const NVML_UPDATE_PERIOD_MS = 100;

/**
 * `nvmlDeviceGetPowerUsage` on Ampere and newer is the average of the last second, so a power-only
 * edge is only known to within a second of power. Taken for GA100 too (whose power is not such an
 * average) and for any device whose architecture NVML does not give: the larger figure is the safe one.
 */
export const NVML_POWER_AVERAGE_MS = 1000;

export const NVML_COUNTER_SOURCE = 'NVML total energy counter (mJ)';

/** `NVML_DEVICE_ARCH_*` (nvml.h); `NVML_DEVICE_ARCH_UNKNOWN` is "anything else, presumably something newer". */
export const NvmlArchitecture = {
  KEPLER: 2,
  MAXWELL: 3,
  PASCAL: 4,
  VOLTA: 5,
  TURING: 6,
  AMPERE: 7,
  ADA: 8,
  HOPPER: 9,
  BLACKWELL: 10,
  RUBIN: 13,
  UNKNOWN: 0xffffffff,
} as const;

const ARCHITECTURE_NAMES = new Map<number, string>(Object.entries(NvmlArchitecture).map(([name, id]) => [id, name.toLowerCase()]));

/** NVML's name for an architecture id, lower case (`ampere`); an id this code does not know is `arch <id>`. */
export function architectureName(id: number): string {
  return ARCHITECTURE_NAMES.get(id) ?? `arch ${id}`;
}

/**
 * Update period and source text of a power-only channel: 1 s (the average's length) on Ampere and
 * newer and where the architecture is unknown; before Ampere power is not known to be averaged,
 * and it takes the counter's 100 ms.
 */
export function powerChannelTiming(architecture: {id: number | null; reason?: string}): {updatePeriodMs: number; source: string} {
  const {id} = architecture;
  if (id === null || id === NvmlArchitecture.UNKNOWN) {
    const why = id === null ? (architecture.reason ?? 'NVML did not say') : 'NVML_DEVICE_ARCH_UNKNOWN, presumably newer';
    return {updatePeriodMs: NVML_POWER_AVERAGE_MS, source: `NVML power (mW); architecture unknown (${why}): taken as a 1 s average, as on Ampere and newer`};
  }
  // Ids grow with each architecture.
  if (id >= NvmlArchitecture.AMPERE) return {updatePeriodMs: NVML_POWER_AVERAGE_MS, source: `NVML power (mW), a 1 s average on Ampere and newer (this GPU: ${architectureName(id)})`};
  return {updatePeriodMs: NVML_UPDATE_PERIOD_MS, source: `NVML power (mW), before Ampere: updated about every 100 ms (this GPU: ${architectureName(id)})`};
}

/** `nvmlReturn_t`. */
export const NvmlReturn = {
  SUCCESS: 0,
  ERROR_UNINITIALIZED: 1,
  ERROR_INVALID_ARGUMENT: 2,
  ERROR_NOT_SUPPORTED: 3,
  ERROR_NO_PERMISSION: 4,
  ERROR_ALREADY_INITIALIZED: 5,
  ERROR_NOT_FOUND: 6,
  ERROR_INSUFFICIENT_SIZE: 7,
  ERROR_INSUFFICIENT_POWER: 8,
  ERROR_DRIVER_NOT_LOADED: 9,
  ERROR_TIMEOUT: 10,
  ERROR_IRQ_ISSUE: 11,
  ERROR_LIBRARY_NOT_FOUND: 12,
  ERROR_FUNCTION_NOT_FOUND: 13,
  ERROR_CORRUPTED_INFOROM: 14,
  ERROR_GPU_IS_LOST: 15,
  ERROR_RESET_REQUIRED: 16,
  ERROR_OPERATING_SYSTEM: 17,
  ERROR_LIB_RM_VERSION_MISMATCH: 18,
  ERROR_IN_USE: 19,
  ERROR_MEMORY: 20,
  ERROR_NO_DATA: 21,
  ERROR_VGPU_ECC_NOT_ENABLED: 22,
  ERROR_INSUFFICIENT_RESOURCES: 23,
  ERROR_FREQ_NOT_SUPPORTED: 24,
  ERROR_ARGUMENT_VERSION_MISMATCH: 25,
  ERROR_DEPRECATED: 26,
  ERROR_NOT_READY: 27,
  ERROR_GPU_NOT_FOUND: 28,
  ERROR_INVALID_STATE: 29,
  ERROR_UNKNOWN: 999,
} as const;

const RETURN_NAMES = new Map<number, string>(Object.entries(NvmlReturn).map(([name, code]) => [code, `NVML_${name}`]));

/** `nvmlClocksEventReason*` (formerly `nvmlClocksThrottleReason*`) bits. */
export const ClockEventReasons = {
  gpuIdle: 0x1,
  applicationsClocksSetting: 0x2,
  swPowerCap: 0x4,
  hwSlowdown: 0x8,
  syncBoost: 0x10,
  swThermalSlowdown: 0x20,
  hwThermalSlowdown: 0x40,
  hwPowerBrakeSlowdown: 0x80,
  displayClockSetting: 0x100,
} as const;

/** Reasons that lower clocks below what the workload asks for (idle, application settings and sync boost do not). */
export const THROTTLE_REASON_MASK =
  ClockEventReasons.swPowerCap |
  ClockEventReasons.hwSlowdown |
  ClockEventReasons.swThermalSlowdown |
  ClockEventReasons.hwThermalSlowdown |
  ClockEventReasons.hwPowerBrakeSlowdown;

/** The names of the bits set in a clock-event reasons mask (unknown bits as hex). */
export function clockEventReasonNames(mask: number): string[] {
  const names: string[] = [];
  let rest = mask;
  for (const [name, bit] of Object.entries(ClockEventReasons)) {
    if ((mask & bit) !== 0) names.push(name);
    rest &= ~bit;
  }
  if (rest !== 0) names.push(`0x${rest.toString(16)}`);
  return names;
}

const NVML_TEMPERATURE_GPU = 0;
/** `nvmlClockType_t`. */
const NVML_CLOCK_SM = 1;
const NVML_CLOCK_MEM = 2;
const NVML_DEVICE_UUID_V2_BUFFER_SIZE = 96;
const NVML_DEVICE_NAME_V2_BUFFER_SIZE = 96;
const NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE = 80;

/** A device handle: `nvmlDevice_t`, a pointer (a bigint under koffi 3). */
type Handle = unknown;

/** `nvmlReturn_t f(nvmlDevice_t device, nvmlClockType_t type, unsigned int *clockMHz)`. */
type ClockGetter = (device: Handle, type: number, mhz: Uint32Array) => number;

/** The bound NVML functions. Outputs go through typed arrays and buffers (no per-call allocation). */
interface NvmlLib {
  path: string;
  init(): number;
  shutdown(): number;
  errorString(rc: number): string;
  driverVersion(version: Buffer, length: number): number;
  deviceCount(count: Uint32Array): number;
  handleByIndex(index: number, device: BigUint64Array): number;
  handleByUuid(uuid: string, device: BigUint64Array): number;
  uuid(device: Handle, uuid: Buffer, length: number): number;
  name(device: Handle, name: Buffer, length: number): number;
  totalEnergy(device: Handle, energyMj: BigUint64Array): number;
  power(device: Handle, powerMw: Uint32Array): number;
  temperature(device: Handle, sensor: number, tempC: Uint32Array): number;
  clockInfo(device: Handle, type: number, mhz: Uint32Array): number;
  memoryInfo(device: Handle, memory: Buffer): number;
  /** null when the library has neither the event nor the older throttle name (drivers before 2012). */
  clockEventReasons: ((device: Handle, reasons: BigUint64Array) => number) | null;
  /** null on drivers without the `_v3` entry point (before R510). */
  computeProcesses: ((device: Handle, count: Uint32Array, infos: Buffer | null) => number) | null;
  powerLimit(device: Handle, limitMw: Uint32Array): number;
  persistenceMode(device: Handle, mode: Int32Array): number;
  /** Probe-only getters, each null where the library lacks it: a missing one costs its figure, never the meter. */
  maxClock: ClockGetter | null;
  /** Deprecated in NVML 13.0 and to be removed, with the default below. */
  applicationsClock: ClockGetter | null;
  defaultApplicationsClock: ClockGetter | null;
  /** Absent from older drivers' NVML. */
  architecture: ((device: Handle, arch: Uint32Array) => number) | null;
  /** Layout of `nvmlMemory_t` and `nvmlProcessInfo_t`, from koffi's own struct layout. */
  memoryUsedOffset: number;
  memorySize: number;
  processInfoSize: number;
  processPidOffset: number;
}

class NvmlLoadError extends Error {
  constructor(
    message: string,
    readonly notFound: boolean,
  ) {
    super(message);
  }
}

/** One binding per library path and thread (koffi type names are per thread, so types stay anonymous). */
const loaded = new Map<string, NvmlLib>();

function loadNvml(path: string): NvmlLib {
  const cached = loaded.get(path);
  if (cached) return cached;
  const koffi = koffiLib();
  let lib: ReturnType<Koffi['load']>;
  try {
    lib = koffi.load(path);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new NvmlLoadError(message, /No such file|cannot open shared object/i.test(message));
  }
  const fn = (name: string, result: string, args: Array<string | TypeObject>) => {
    try {
      return lib.func(name, result, args);
    } catch (error) {
      throw new NvmlLoadError(`${path} has no ${name} (${error instanceof Error ? error.message : String(error)}): the driver is too old`, false);
    }
  };
  const optional = (name: string, result: string, args: Array<string | TypeObject>) => {
    try {
      return lib.func(name, result, args);
    } catch {
      return null;
    }
  };
  const device = koffi.pointer(koffi.opaque()); // nvmlDevice_t
  const memory = koffi.struct({total: 'unsigned long long', free: 'unsigned long long', used: 'unsigned long long'}); // nvmlMemory_t
  // nvmlProcessInfo_t (v2 layout, what _v3 fills)
  const processInfo = koffi.struct({pid: 'unsigned int', usedGpuMemory: 'unsigned long long', gpuInstanceId: 'unsigned int', computeInstanceId: 'unsigned int'});
  const ret = 'int'; // nvmlReturn_t (an enum)

  const events =
    // nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device, unsigned long long *clocksEventReasons)
    optional('nvmlDeviceGetCurrentClocksEventReasons', ret, [device, 'unsigned long long *']) ??
    // the same function under its name before driver R535
    optional('nvmlDeviceGetCurrentClocksThrottleReasons', ret, [device, 'unsigned long long *']);
  const api: NvmlLib = {
    path,
    // nvmlReturn_t nvmlInit_v2(void)
    init: fn('nvmlInit_v2', ret, []),
    // nvmlReturn_t nvmlShutdown(void)
    shutdown: fn('nvmlShutdown', ret, []),
    // const char *nvmlErrorString(nvmlReturn_t result)
    errorString: fn('nvmlErrorString', 'const char *', [ret]),
    // nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
    driverVersion: fn('nvmlSystemGetDriverVersion', ret, ['char *', 'unsigned int']),
    // nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount)
    deviceCount: fn('nvmlDeviceGetCount_v2', ret, ['unsigned int *']),
    // nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
    handleByIndex: fn('nvmlDeviceGetHandleByIndex_v2', ret, ['unsigned int', koffi.pointer(device)]),
    // nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device)
    handleByUuid: fn('nvmlDeviceGetHandleByUUID', ret, ['const char *', koffi.pointer(device)]),
    // nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
    uuid: fn('nvmlDeviceGetUUID', ret, [device, 'char *', 'unsigned int']),
    // nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
    name: fn('nvmlDeviceGetName', ret, [device, 'char *', 'unsigned int']),
    // nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long *energy)
    totalEnergy: fn('nvmlDeviceGetTotalEnergyConsumption', ret, [device, 'unsigned long long *']),
    // nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power)
    power: fn('nvmlDeviceGetPowerUsage', ret, [device, 'unsigned int *']),
    // nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, nvmlTemperatureSensors_t sensorType, unsigned int *temp)
    temperature: fn('nvmlDeviceGetTemperature', ret, [device, 'int', 'unsigned int *']),
    // nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, nvmlClockType_t type, unsigned int *clock)
    clockInfo: fn('nvmlDeviceGetClockInfo', ret, [device, 'int', 'unsigned int *']),
    // nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
    memoryInfo: fn('nvmlDeviceGetMemoryInfo', ret, [device, koffi.pointer(memory)]),
    clockEventReasons: events,
    // nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount, nvmlProcessInfo_t *infos)
    computeProcesses: optional('nvmlDeviceGetComputeRunningProcesses_v3', ret, [device, 'unsigned int *', koffi.pointer(processInfo)]),
    // nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t device, unsigned int *limit)
    powerLimit: fn('nvmlDeviceGetPowerManagementLimit', ret, [device, 'unsigned int *']),
    // nvmlReturn_t nvmlDeviceGetPersistenceMode(nvmlDevice_t device, nvmlEnableState_t *mode)
    persistenceMode: fn('nvmlDeviceGetPersistenceMode', ret, [device, 'int *']),
    // nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t device, nvmlClockType_t type, unsigned int *clock)
    maxClock: optional('nvmlDeviceGetMaxClockInfo', ret, [device, 'int', 'unsigned int *']),
    // nvmlReturn_t nvmlDeviceGetApplicationsClock(nvmlDevice_t device, nvmlClockType_t clockType, unsigned int *clockMHz)
    applicationsClock: optional('nvmlDeviceGetApplicationsClock', ret, [device, 'int', 'unsigned int *']),
    // nvmlReturn_t nvmlDeviceGetDefaultApplicationsClock(nvmlDevice_t device, nvmlClockType_t clockType, unsigned int *clockMHz)
    defaultApplicationsClock: optional('nvmlDeviceGetDefaultApplicationsClock', ret, [device, 'int', 'unsigned int *']),
    // nvmlReturn_t nvmlDeviceGetArchitecture(nvmlDevice_t device, nvmlDeviceArchitecture_t *arch), an unsigned int
    architecture: optional('nvmlDeviceGetArchitecture', ret, [device, 'unsigned int *']),
    memoryUsedOffset: koffi.offsetof(memory, 'used'),
    memorySize: koffi.sizeof(memory),
    processInfoSize: koffi.sizeof(processInfo),
    processPidOffset: koffi.offsetof(processInfo, 'pid'),
  };
  loaded.set(path, api);
  return api;
}

/** `Timeout (NVML_ERROR_TIMEOUT)`. */
function describe(api: NvmlLib, rc: number): string {
  let text: string;
  try {
    text = api.errorString(rc);
  } catch {
    text = 'error';
  }
  return `${text} (${RETURN_NAMES.get(rc) ?? `NVML error ${rc}`})`;
}

const cString = (buffer: Buffer): string => {
  const end = buffer.indexOf(0);
  return buffer.toString('utf8', 0, end < 0 ? buffer.length : end);
};

function readHandle(get: (out: BigUint64Array) => number): {rc: number; handle: Handle} {
  const out = new BigUint64Array(1);
  const rc = get(out);
  return {rc, handle: out[0]};
}

function readString(get: (buffer: Buffer, length: number) => number, size: number): {rc: number; value: string} {
  const buffer = Buffer.alloc(size);
  const rc = get(buffer, size);
  return {rc, value: rc === NvmlReturn.SUCCESS ? cString(buffer) : ''};
}

/** What NVML answers in place of locked clocks: it has setters and resets for them but no getter. */
export const LOCKED_CLOCKS_REASON =
  'NVML has no getter for locked clocks: nvmlDeviceSetGpuLockedClocks and nvmlDeviceSetMemoryLockedClocks (nvidia-smi -lgc / -lmc) have only Reset counterparts';

/** A device's clocks at probe time, MHz; each null when NVML does not give it (`nullReasons` says why). */
export interface NvmlClocks {
  /** The highest SM and memory clocks the device can run at (`nvmlDeviceGetMaxClockInfo`). */
  maxSmMhz: number | null;
  maxMemoryMhz: number | null;
  /** The application clocks: what compute runs at when nothing lowers them (`nvmlDeviceGetApplicationsClock`). */
  applicationsSmMhz: number | null;
  applicationsMemoryMhz: number | null;
  /** The application clocks the device resets to (`nvmlDeviceGetDefaultApplicationsClock`): others than these were set by someone. */
  defaultApplicationsSmMhz: number | null;
  defaultApplicationsMemoryMhz: number | null;
  /** Locked clocks: not readable through NVML (see {@link LOCKED_CLOCKS_REASON}), so null today. */
  lockedSmMhz: number | null;
  lockedMemoryMhz: number | null;
}

export interface NvmlDeviceInfo {
  /** NVML's index (nvidia-smi's order: PCI bus order, which is not CUDA's default order). */
  index: number;
  uuid: string;
  name: string;
  /** The device has the total-energy counter (Volta and newer); else it is measured by power only. */
  energyCounter: boolean;
  /** Enforced power limit, W; null when the device does not say. */
  powerLimitW: number | null;
  /** Persistence mode on; null when the device does not say. */
  persistenceMode: boolean | null;
  /** NVML's architecture name, lower case (`ampere`, `hopper`, `unknown` — NVML's own word for newer parts); null when NVML does not say. */
  architecture: string | null;
  clocks: NvmlClocks;
  /** Why each null field is null, by its path (`powerLimitW`, `clocks.lockedSmMhz`, …). */
  nullReasons: Record<string, string>;
}

/** An `unsigned int` from an optional NVML getter, or null and why: never throws. */
function readUint(api: NvmlLib, fnName: string, call: ((out: Uint32Array) => number) | null): {value: number} | {value: null; reason: string} {
  if (!call) return {value: null, reason: `this driver's NVML has no ${fnName}`};
  const out = new Uint32Array(1);
  try {
    const rc = call(out);
    return rc === NvmlReturn.SUCCESS ? {value: out[0] as number} : {value: null, reason: `${fnName}: ${describe(api, rc)}`};
  } catch (error) {
    return {value: null, reason: `${fnName}: ${error instanceof Error ? error.message : String(error)}`};
  }
}

/** The device's architecture id, or null and why. */
function readArchitecture(api: NvmlLib, handle: Handle): {id: number | null; reason?: string} {
  const architecture = api.architecture;
  const read = readUint(api, 'nvmlDeviceGetArchitecture', architecture && ((out) => architecture(handle, out)));
  return read.value === null ? {id: null, reason: read.reason} : {id: read.value};
}

function readClocks(api: NvmlLib, handle: Handle, nullReasons: Record<string, string>): NvmlClocks {
  const get = (field: keyof NvmlClocks, fnName: string, getter: ClockGetter | null, type: number): number | null => {
    const read = readUint(api, fnName, getter && ((out) => getter(handle, type, out)));
    if (read.value === null) nullReasons[`clocks.${field}`] = read.reason;
    return read.value;
  };
  nullReasons['clocks.lockedSmMhz'] = LOCKED_CLOCKS_REASON;
  nullReasons['clocks.lockedMemoryMhz'] = LOCKED_CLOCKS_REASON;
  return {
    maxSmMhz: get('maxSmMhz', 'nvmlDeviceGetMaxClockInfo', api.maxClock, NVML_CLOCK_SM),
    maxMemoryMhz: get('maxMemoryMhz', 'nvmlDeviceGetMaxClockInfo', api.maxClock, NVML_CLOCK_MEM),
    applicationsSmMhz: get('applicationsSmMhz', 'nvmlDeviceGetApplicationsClock', api.applicationsClock, NVML_CLOCK_SM),
    applicationsMemoryMhz: get('applicationsMemoryMhz', 'nvmlDeviceGetApplicationsClock', api.applicationsClock, NVML_CLOCK_MEM),
    defaultApplicationsSmMhz: get('defaultApplicationsSmMhz', 'nvmlDeviceGetDefaultApplicationsClock', api.defaultApplicationsClock, NVML_CLOCK_SM),
    defaultApplicationsMemoryMhz: get('defaultApplicationsMemoryMhz', 'nvmlDeviceGetDefaultApplicationsClock', api.defaultApplicationsClock, NVML_CLOCK_MEM),
    lockedSmMhz: null,
    lockedMemoryMhz: null,
  };
}

export type NvmlProbe =
  | {available: true; driverVersion: string; devices: NvmlDeviceInfo[]; warnings: string[]}
  | {available: false; reason: string};

export interface NvmlOptions {
  /** The NVML library, default `libnvidia-ml.so.1` (found by the dynamic loader). */
  libraryPath?: string;
}

function loadFailure(path: string, error: unknown): {available: false; reason: string} {
  if (error instanceof NvmlLoadError && error.notFound) return {available: false, reason: `no NVIDIA driver (${path} not found)`};
  return {available: false, reason: `${path} cannot be used: ${error instanceof Error ? error.message : String(error)}`};
}

/**
 * What NVML sees on this machine: driver version and every device with what it can measure.
 * Never throws: no driver, a driver that does not initialise or no device is `{available: false}`
 * with the reason.
 */
export function probeNvml(options: NvmlOptions = {}): NvmlProbe {
  const path = options.libraryPath ?? NVML_LIBRARY;
  let api: NvmlLib;
  try {
    api = loadNvml(path);
  } catch (error) {
    return loadFailure(path, error);
  }
  try {
    const rc = api.init();
    if (rc !== NvmlReturn.SUCCESS) return {available: false, reason: `NVML did not initialise: ${describe(api, rc)}`};
  } catch (error) {
    return {available: false, reason: `NVML did not initialise: ${error instanceof Error ? error.message : String(error)}`};
  }
  try {
    const warnings: string[] = [];
    const driver = readString((b, n) => api.driverVersion(b, n), NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE);
    if (driver.rc !== NvmlReturn.SUCCESS) warnings.push(`nvmlSystemGetDriverVersion: ${describe(api, driver.rc)}`);
    const count = new Uint32Array(1);
    const rcCount = api.deviceCount(count);
    if (rcCount !== NvmlReturn.SUCCESS) return {available: false, reason: `nvmlDeviceGetCount_v2: ${describe(api, rcCount)}`};
    const devices: NvmlDeviceInfo[] = [];
    for (let index = 0; index < (count[0] as number); index++) {
      const {rc, handle} = readHandle((out) => api.handleByIndex(index, out));
      if (rc !== NvmlReturn.SUCCESS) {
        warnings.push(`GPU ${index} skipped: nvmlDeviceGetHandleByIndex_v2: ${describe(api, rc)}`);
        continue;
      }
      const uuid = readString((b, n) => api.uuid(handle, b, n), NVML_DEVICE_UUID_V2_BUFFER_SIZE);
      if (uuid.rc !== NvmlReturn.SUCCESS) {
        warnings.push(`GPU ${index} skipped: nvmlDeviceGetUUID: ${describe(api, uuid.rc)}`);
        continue;
      }
      const name = readString((b, n) => api.name(handle, b, n), NVML_DEVICE_NAME_V2_BUFFER_SIZE);
      const energy = api.totalEnergy(handle, new BigUint64Array(1));
      if (energy !== NvmlReturn.SUCCESS && energy !== NvmlReturn.ERROR_NOT_SUPPORTED) {
        warnings.push(`GPU ${index} (${uuid.value}): nvmlDeviceGetTotalEnergyConsumption: ${describe(api, energy)}`);
      }
      const nullReasons: Record<string, string> = {};
      const limit = readUint(api, 'nvmlDeviceGetPowerManagementLimit', (out) => api.powerLimit(handle, out));
      if (limit.value === null) nullReasons.powerLimitW = limit.reason;
      const mode = new Int32Array(1);
      const rcMode = api.persistenceMode(handle, mode);
      if (rcMode !== NvmlReturn.SUCCESS) nullReasons.persistenceMode = `nvmlDeviceGetPersistenceMode: ${describe(api, rcMode)}`;
      const architecture = readArchitecture(api, handle);
      if (architecture.id === null) nullReasons.architecture = architecture.reason ?? 'NVML did not say';
      const clocks = readClocks(api, handle, nullReasons);
      devices.push({
        index,
        uuid: uuid.value,
        name: name.rc === NvmlReturn.SUCCESS ? name.value : '',
        energyCounter: energy === NvmlReturn.SUCCESS,
        powerLimitW: limit.value === null ? null : limit.value / 1000,
        persistenceMode: rcMode === NvmlReturn.SUCCESS ? mode[0] === 1 : null,
        architecture: architecture.id === null ? null : architectureName(architecture.id),
        clocks,
        nullReasons,
      });
    }
    if (devices.length === 0) {
      return {available: false, reason: (count[0] as number) === 0 ? 'NVML found no GPU' : `no usable GPU: ${warnings.join('; ')}`};
    }
    return {available: true, driverVersion: driver.value, devices, warnings};
  } catch (error) {
    return {available: false, reason: `NVML probe failed: ${error instanceof Error ? error.message : String(error)}`};
  } finally {
    try {
      api.shutdown();
    } catch {
      // nothing left to release
    }
  }
}

/**
 * The UUIDs of the requested GPUs, in the order asked, each once. An entry is an NVML index (a
 * number or a decimal string) or a UUID (`GPU-…`, `MIG-…`). Throws `E_GPU_NOT_FOUND` naming the
 * devices that exist when one is not on this machine (or NVML is unavailable).
 */
/**
 * The hottest of the given GPUs now, °C, or null when none can be read (no NVML, no sensor):
 * what a campaign's cool-down gap waits on. One init/shutdown per call; never throws.
 */
export function hottestGpuC(uuids: readonly string[], options: NvmlOptions = {}): number | null {
  if (uuids.length === 0) return null;
  let api: NvmlLib;
  try {
    api = loadNvml(options.libraryPath ?? NVML_LIBRARY);
    if (api.init() !== NvmlReturn.SUCCESS) return null;
  } catch {
    return null;
  }
  try {
    let hottest: number | null = null;
    const out = new Uint32Array(1);
    for (const uuid of uuids) {
      const {rc, handle} = readHandle((h) => api.handleByUuid(uuid, h));
      if (rc !== NvmlReturn.SUCCESS || api.temperature(handle, NVML_TEMPERATURE_GPU, out) !== NvmlReturn.SUCCESS) continue;
      hottest = Math.max(hottest ?? -Infinity, out[0] as number);
    }
    return hottest;
  } catch {
    return null;
  } finally {
    api.shutdown();
  }
}

export function resolveGpus(requested: Array<number | string>, probe: NvmlProbe): string[] {
  const existing = probe.available ? probe.devices : [];
  const listing = existing.length === 0 ? 'none' : existing.map((d) => `${d.index}: ${d.uuid} (${d.name})`).join(', ');
  const uuids: string[] = [];
  for (const entry of requested) {
    const text = typeof entry === 'string' ? entry.trim() : null;
    const asIndex = text === null ? (entry as number) : /^\d+$/.test(text) ? Number(text) : null;
    const device = asIndex !== null ? existing.find((d) => d.index === asIndex) : existing.find((d) => d.uuid === text);
    if (!device) {
      const what = asIndex !== null ? `GPU index ${JSON.stringify(entry)}` : `GPU ${JSON.stringify(entry)}`;
      const why = probe.available ? `this machine's GPUs are ${listing}` : `NVML is unavailable: ${probe.reason}`;
      throw configError(MeterErrorCodes.gpuNotFound, `${what} not found: ${why}.`, [
        probe.available ? `Select one of ${existing.map((d) => d.index).join(', ')} or a UUID listed by nvidia-smi -L.` : 'Install the NVIDIA driver, or run without GPU meters.',
      ]);
    }
    if (!uuids.includes(device.uuid)) uuids.push(device.uuid);
  }
  return uuids;
}

/** The procfs seam for process-group lookups. */
export interface NvmlProcFs {
  readFile(path: string): string;
}

export interface NvmlMeterOptions extends Omit<NvmlMeterConfig, 'kind'> {
  fs?: NvmlProcFs;
}

type Extra = 'temperature' | 'smClock' | 'memory' | 'clockEventReasons' | 'processes';

interface Gpu {
  uuid: string;
  handle: Handle;
  counter: boolean;
  /** Only a power-only channel's period depends on it. */
  architecture: {id: number | null; reason?: string};
  /** Extras the device answered something other than NOT_SUPPORTED for, at creation. */
  extras: Set<Extra>;
}

/** Initial room for compute processes per device; grows when NVML says it is too small. */
const INITIAL_PROCESS_CAPACITY = 8;

/**
 * The nvml meter: one channel per GPU (channel = UUID), `counter` where the device has the
 * total-energy counter, else `power`. Throws `E_METER_UNAVAILABLE` when NVML cannot be loaded or
 * initialised, and `E_GPU_NOT_FOUND` when a UUID is not on this machine.
 */
export function createNvmlMeter(options: NvmlMeterOptions): Meter & {setPgid(pgid: number): void} {
  const path = options.libraryPath ?? NVML_LIBRARY;
  const procRoot = options.procRoot ?? DEFAULT_PROC_ROOT;
  const fs: NvmlProcFs = options.fs ?? {readFile: (p) => readFileSync(p, 'utf8')};
  let pgid = options.pgid ?? 0;
  const unavailable = (reason: string) =>
    codedError({
      code: MeterErrorCodes.unavailable,
      message: `NVML meter unavailable: ${reason}`,
      try: ['Check that the NVIDIA driver is installed (nvidia-smi works); inside a container the driver capability must include `utility`.'],
      exitCode: ExitCode.runsFailed,
    });
  if (options.uuids.length === 0) throw unavailable('no GPU selected');

  let api: NvmlLib;
  try {
    api = loadNvml(path);
  } catch (error) {
    throw unavailable(loadFailure(path, error).reason);
  }
  const rcInit = api.init();
  if (rcInit !== NvmlReturn.SUCCESS) throw unavailable(`nvmlInit_v2: ${describe(api, rcInit)}`);
  let open = true;
  const shutdown = () => {
    if (open) {
      open = false;
      api.shutdown();
    }
  };

  // Output buffers, reused by every read (reads are sequential within the sampler's thread).
  const u64 = new BigUint64Array(1);
  const u32 = new Uint32Array(1);
  const memory = Buffer.alloc(api.memorySize);
  const count = new Uint32Array(1);
  let processBuffer = Buffer.alloc(INITIAL_PROCESS_CAPACITY * api.processInfoSize);

  const gpus: Gpu[] = [];
  try {
    for (const uuid of options.uuids) {
      const {rc, handle} = readHandle((out) => api.handleByUuid(uuid, out));
      if (rc === NvmlReturn.ERROR_NOT_FOUND || rc === NvmlReturn.ERROR_INVALID_ARGUMENT) {
        throw codedError({
          code: MeterErrorCodes.gpuNotFound,
          message: `GPU ${uuid} not found by NVML (${describe(api, rc)})`,
          try: ['List the GPUs with nvidia-smi -L; select them by index or UUID.'],
          exitCode: ExitCode.runsFailed,
        });
      }
      if (rc !== NvmlReturn.SUCCESS) throw unavailable(`nvmlDeviceGetHandleByUUID(${uuid}): ${describe(api, rc)}`);
      const energy = api.totalEnergy(handle, u64);
      if (energy !== NvmlReturn.SUCCESS && energy !== NvmlReturn.ERROR_NOT_SUPPORTED) {
        throw unavailable(`GPU ${uuid}: nvmlDeviceGetTotalEnergyConsumption: ${describe(api, energy)}`);
      }
      const extras = new Set<Extra>();
      const supported = (extra: Extra, rc: number) => {
        if (rc !== NvmlReturn.ERROR_NOT_SUPPORTED) extras.add(extra);
      };
      supported('temperature', api.temperature(handle, NVML_TEMPERATURE_GPU, u32));
      supported('smClock', api.clockInfo(handle, NVML_CLOCK_SM, u32));
      supported('memory', api.memoryInfo(handle, memory));
      if (api.clockEventReasons) supported('clockEventReasons', api.clockEventReasons(handle, u64));
      if (api.computeProcesses) {
        count[0] = 0;
        supported('processes', api.computeProcesses(handle, count, null));
      }
      gpus.push({uuid, handle, counter: energy === NvmlReturn.SUCCESS, architecture: readArchitecture(api, handle), extras});
    }
  } catch (error) {
    shutdown();
    throw error;
  }

  const channels: ChannelInfo[] = gpus.map((g) => ({
    meter: 'nvml',
    channel: g.uuid,
    kind: g.counter ? 'counter' : 'power',
    estimated: false,
    scope: 'device',
    ...(g.counter ? {source: NVML_COUNTER_SOURCE, updatePeriodMs: NVML_UPDATE_PERIOD_MS} : powerChannelTiming(g.architecture)),
  }));

  /** Process group of a pid, null when it cannot be read (gone, or another pid namespace). */
  const pgidOf = (pid: number): number | null => {
    try {
      return parseProcStat(fs.readFile(join(procRoot, String(pid), 'stat')))?.pgid ?? null;
    } catch {
      return null;
    }
  };

  /** The compute processes' pids, or an NVML return code. */
  const processPids = (handle: Handle): number[] | number => {
    const computeProcesses = api.computeProcesses as NonNullable<NvmlLib['computeProcesses']>;
    for (let attempt = 0; ; attempt++) {
      const capacity = processBuffer.length / api.processInfoSize;
      count[0] = capacity;
      const rc = computeProcesses(handle, count, processBuffer);
      if (rc === NvmlReturn.ERROR_INSUFFICIENT_SIZE && attempt < 3) {
        // Room for the count NVML asked for and a few that may start before the next call.
        processBuffer = Buffer.alloc(Math.max((count[0] as number) + 4, capacity * 2) * api.processInfoSize);
        continue;
      }
      if (rc !== NvmlReturn.SUCCESS) return rc;
      const pids: number[] = [];
      for (let i = 0; i < (count[0] as number); i++) pids.push(processBuffer.readUInt32LE(i * api.processInfoSize + api.processPidOffset));
      return pids;
    }
  };

  return {
    channels,
    setPgid(next: number) {
      pgid = next;
    },
    read(t0Ns: bigint): MeterRead[] {
      if (!open) throw new Error('nvml meter read after close');
      const reads: MeterRead[] = [];
      for (const g of gpus) {
        const errors: string[] = [];
        /** True when the call succeeded; else records why (and throws when the GPU is gone). */
        const ok = (rc: number, fn: string): boolean => {
          if (rc === NvmlReturn.SUCCESS) return true;
          if (rc === NvmlReturn.ERROR_GPU_IS_LOST) {
            throw codedError({
              code: MeterErrorCodes.gpuLost,
              message: `GPU ${g.uuid} is lost (${fn}: ${describe(api, rc)}): it fell off the bus or was reset; its energy for this run is unknown`,
              try: ['Check the GPU with nvidia-smi and the kernel log (dmesg: Xid errors); it may need a reset or a reboot.'],
              exitCode: ExitCode.runsFailed,
            });
          }
          errors.push(`${fn}: ${describe(api, rc)}`);
          return false;
        };
        // The timestamps bracket the energy and power calls; the slower-moving extras follow.
        const startNs = monoNs();
        const energyRc = g.counter ? api.totalEnergy(g.handle, u64) : NvmlReturn.SUCCESS;
        const energyMj = u64[0] as bigint;
        const powerRc = api.power(g.handle, u32);
        const endNs = monoNs();
        const read: MeterRead = {
          meter: 'nvml',
          channel: g.uuid,
          energyJ: g.counter && ok(energyRc, 'nvmlDeviceGetTotalEnergyConsumption') ? Number(energyMj) / 1000 : null,
          powerW: ok(powerRc, 'nvmlDeviceGetPowerUsage') ? (u32[0] as number) / 1000 : null,
          readStartMs: msSince(t0Ns, startNs),
          readEndMs: msSince(t0Ns, endNs),
        };
        if (g.extras.has('temperature')) {
          read.temperatureC = ok(api.temperature(g.handle, NVML_TEMPERATURE_GPU, u32), 'nvmlDeviceGetTemperature') ? (u32[0] as number) : null;
        }
        if (g.extras.has('smClock')) read.smClockMhz = ok(api.clockInfo(g.handle, NVML_CLOCK_SM, u32), 'nvmlDeviceGetClockInfo') ? (u32[0] as number) : null;
        if (g.extras.has('memory')) {
          read.memoryUsedBytes = ok(api.memoryInfo(g.handle, memory), 'nvmlDeviceGetMemoryInfo') ? Number(memory.readBigUInt64LE(api.memoryUsedOffset)) : null;
        }
        if (g.extras.has('clockEventReasons') && api.clockEventReasons) {
          read.clockEventReasons = ok(api.clockEventReasons(g.handle, u64), 'nvmlDeviceGetCurrentClocksEventReasons') ? Number(u64[0] as bigint) : null;
        }
        if (g.extras.has('processes')) {
          const pids = processPids(g.handle);
          if (typeof pids === 'number') {
            ok(pids, 'nvmlDeviceGetComputeRunningProcesses_v3');
            read.processes = null;
            read.foreignProcesses = null;
          } else {
            read.processes = pids.length;
            // A pid not visible here (gone, or in another pid namespace) counts as foreign.
            read.foreignProcesses = pids.filter((pid) => pgid <= 0 || pgidOf(pid) !== pgid).length;
          }
        }
        if (errors.length > 0) read.error = errors.join('; ');
        reads.push(read);
      }
      return reads;
    },
    close() {
      shutdown();
    },
  };
}
