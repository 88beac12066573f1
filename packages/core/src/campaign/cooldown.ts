/**
 * The optional cool-down of a campaign's gaps (`gaps.cooldown`): after the timed gap, wait until
 * the campaign's GPUs are back within `delta_c` of the temperature they had when the campaign
 * started, bounded by `timeout_s`. Without a GPU temperature to read, the gaps stay time-only
 * (and the campaign says so once).
 */
import {hottestGpuC} from '../meters/index.js';
import {waitForCooldown, type CooldownResult} from '../provenance/index.js';
import type {CampaignPlan} from './types.js';

export interface Cooler {
  /** The hottest GPU's temperature at the campaign's start, °C. */
  idleC: number;
  /** Waits for the cool-down (never throws); the result says whether it cooled down or why not. */
  wait(signal: AbortSignal): Promise<CooldownResult>;
}

/** A cooler for the plan's GPUs, or null with why when cool-down is off or cannot work here. */
export function makeCooler(plan: CampaignPlan, nvmlLibrary: string | undefined): {cooler: Cooler | null; note: string | null} {
  const {enabled, deltaC, timeoutS} = plan.gaps.cooldown;
  if (!enabled) return {cooler: null, note: null};
  const uuids = plan.environment.gpus.uuids;
  const read = () => hottestGpuC(uuids, {libraryPath: nvmlLibrary});
  const idleC = read();
  if (idleC === null) {
    return {cooler: null, note: `gaps.cooldown is enabled but no GPU temperature can be read${uuids.length === 0 ? ' (the campaign uses no GPU)' : ''}: the gaps are time only`};
  }
  return {
    cooler: {idleC, wait: (signal) => waitForCooldown({readTemperatureC: read, idleTemperatureC: idleC, deltaC, timeoutS, signal})},
    note: null,
  };
}
