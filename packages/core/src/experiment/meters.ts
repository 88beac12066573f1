/**
 * The meters step: starts the sampler (a worker thread on an absolute schedule, DESIGN §5) before
 * the server, so that launch energy is measured too. The worker appends each tick to
 * timeline.csv as it reads it; the server is pointed out to it the moment it exists (launch.ts).
 */
import {availableParallelism} from 'node:os';
import {join} from 'node:path';
import {startSampler, type SamplerConfig} from '../meters/index.js';
import {RUN_FILES} from '../results/run-files.js';
import type {MeterTarget, Runner} from '../runner/types.js';
import type {Run} from './context.js';
import type {Devices} from './devices.js';
import type {RunPlan} from './preflight.js';

/** The meters' configurations; `targetKind` is what the runner's servers are measured as. */
export function meterConfigs(run: Run, plan: RunPlan, devices: Devices, targetKind: MeterTarget['kind']): SamplerConfig['meters'] {
  const {meters} = plan;
  const target = plan.endpoint?.target ?? undefined;
  const serverCpus = devices.pinning?.serverCpus.length ?? 0;
  const procRoot = run.opts.meterRoots?.procRoot;
  const configs: SamplerConfig['meters'] = [];
  if (meters.rapl) configs.push({kind: 'rapl', root: meters.raplRoot});
  // Attributed vCPUs: the server's pinned set, else every CPU (it may use them all).
  if (meters.estimate) configs.push({kind: 'cpu-estimate', procRoot, cpus: serverCpus || availableParallelism(), ...(target ? {target} : {targetKind})});
  if (meters.nvml) configs.push({kind: 'nvml', uuids: plan.gpus.uuids, pgid: target?.kind === 'process-group' ? target.pgid : 0, libraryPath: meters.nvmlLibrary, procRoot});
  return configs;
}

/** Starts the sampler, or says why energy is null for this run (`run.energyNullReason`). */
export async function startMeters(run: Run, plan: RunPlan, devices: Devices, runner: Pick<Runner, 'targetKind' | 'energyNullReason'>): Promise<void> {
  const unmeasurable = plan.endpoint?.energyNullReason ?? (plan.server ? runner.energyNullReason : undefined);
  if (unmeasurable) {
    run.energyNullReason = unmeasurable;
    return;
  }
  const targetKind = runner.targetKind;
  const meters = meterConfigs(run, plan, devices, targetKind);
  if (meters.length === 0) {
    run.energyNullReason = 'no-meter';
    return;
  }
  run.sampler = await startSampler({
    meters,
    intervalMs: run.settings.measure.sample_interval_ms,
    t0Ns: run.t0Ns.toString(),
    timeline: {path: join(run.runDir, RUN_FILES.timeline), extended: plan.meters.nvml},
  });
}
