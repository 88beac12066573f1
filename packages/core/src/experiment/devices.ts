/**
 * The devices step: what this run holds of the machine. Two lem runs must never measure the same
 * device at once, so the run locks, machine-wide, each GPU it measures and — only when a CPU meter
 * is measured — the CPU (an 8-GPU node runs one experiment per GPU at a time, not one in all).
 * With a server on this host, lem and the server get disjoint CPUs (DESIGN §5).
 */
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {acquireDeviceLocks, type DeviceLocks} from '../provenance/index.js';
import type {Run} from './context.js';
import {pinLem, unpinLem, type Pinning} from './environment.js';
import type {RunPlan} from './preflight.js';

export interface Devices {
  locks: DeviceLocks | null;
  /** lem's and the server's CPUs; null when lem starts no server (an endpoint). */
  pinning: Pinning | null;
}

/** The devices this run's meters measure: the GPUs, and the CPU when a CPU meter is active. */
export function measuredDevices(plan: RunPlan): string[] {
  const measuredHere = plan.endpoint === null || plan.endpoint.energyNullReason === null;
  if (!measuredHere) return [];
  return [...(plan.meters.cpu ? ['cpu'] : []), ...(plan.meters.nvml ? plan.gpus.uuids : [])];
}

export async function acquireDevices(run: Run, plan: RunPlan): Promise<Devices> {
  const devices = measuredDevices(plan);
  let locks: DeviceLocks | null = null;
  if (devices.length > 0) {
    locks = await acquireDeviceLocks(devices, {
      lockDir: run.opts.lockDir ?? run.env.LEM_LOCK_DIR ?? join(tmpdir(), 'lem-device-locks'),
      waitS: run.opts.waitForDevicesS ?? 0,
      signal: run.abort.signal,
    });
    for (const device of locks.tookOver) run.warn({code: 'W_STALE_LOCK', message: `took over the lock of ${device} left by a lem process that is gone`});
  }
  return {locks, pinning: plan.server ? pinLem() : null};
}

/** Gives the devices back (teardown). */
export function releaseDevices(devices: Devices): void {
  const p = devices.pinning;
  if (p?.applied) unpinLem([...p.lemCpus, ...p.serverCpus].sort((a, b) => a - b));
  devices.locks?.release();
}
