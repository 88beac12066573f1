import {createCpuEstimateMeter} from './cpu-estimate.js';
import {createNvmlMeter} from './nvml.js';
import {createRaplMeter} from './rapl.js';
import type {Meter, MeterConfig, MeterTarget} from './types.js';

/** A meter that attributes to the server, whose target is set once the server exists. */
export type AttributingMeter = Meter & {setTarget(target: MeterTarget): void};

export function isAttributing(meter: Meter): meter is AttributingMeter {
  return typeof (meter as Partial<AttributingMeter>).setTarget === 'function';
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
      const meter = createNvmlMeter(options);
      // NVML tells the server's processes by process group; a container target gives none to compare
      // with, so every process on the GPU then counts as foreign (and the foreign-process warning says so).
      return Object.assign(meter, {setTarget: (target: MeterTarget) => meter.setPgid(target.kind === 'process-group' ? target.pgid : 0)});
    }
    default:
      throw new RangeError(`unknown meter kind ${JSON.stringify((config as {kind: unknown}).kind)}`);
  }
}
