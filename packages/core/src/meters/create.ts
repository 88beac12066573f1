import {createCpuEstimateMeter} from './cpu-estimate.js';
import {createNvmlMeter} from './nvml.js';
import {createRaplMeter} from './rapl.js';
import type {Meter, MeterConfig} from './types.js';

/** A meter that attributes to a process group, whose group can change (the server starts later). */
export type AttributingMeter = Meter & {setPgid(pgid: number): void};

export function isAttributing(meter: Meter): meter is AttributingMeter {
  return typeof (meter as Partial<AttributingMeter>).setPgid === 'function';
}

/** Builds a meter from its serialisable config (in the sampler's worker, or directly in tests and benchmarks). */
export function createMeter(config: MeterConfig): Meter {
  switch (config.kind) {
    case 'rapl':
      return createRaplMeter(config.root === undefined ? {} : {root: config.root});
    case 'cpu-estimate': {
      const {kind: _kind, ...options} = config;
      return createCpuEstimateMeter(options);
    }
    case 'nvml': {
      const {kind: _kind, ...options} = config;
      return createNvmlMeter(options);
    }
    default:
      throw new RangeError(`unknown meter kind ${JSON.stringify((config as {kind: unknown}).kind)}`);
  }
}
