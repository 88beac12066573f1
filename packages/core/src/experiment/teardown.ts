/**
 * The teardown step (DESIGN §5 phase 5): stop the server, read the meters one last time, stop
 * the sampler (which closes timeline.csv), give the devices back and remove the launch's work
 * folder. It runs whatever happened before, and records what it could not do instead of
 * throwing, so that nothing already measured is lost.
 */
import {msSince} from '../measure/types.js';
import type {SamplerResult} from '../meters/index.js';
import type {SamplingInfo} from '../results/result.js';
import {toRunError} from './errors.js';
import {boundary, type Run} from './context.js';
import {releaseDevices, type Devices} from './devices.js';
import {removeWorkdir, type Server} from './launch.js';
import type {Client} from './requests.js';
import type {RunError} from '../errors.js';

/** What the steps hold until teardown. */
export interface Held {
  devices: Devices | null;
  server: Server | null;
  client: Client | null;
}

export interface TornDown {
  sampling: SamplingInfo | null;
  /** A failure of the teardown itself (a server that would not stop, a sampler that broke). */
  failure?: RunError;
}

export async function teardown(run: Run, held: Held): Promise<TornDown> {
  if (!held.devices && !held.server && !run.sampler) {
    run.requestLog.close();
    return {sampling: null}; // nothing was started
  }
  const startMs = msSince(run.t0Ns);
  run.emit({type: 'phase', phase: 'teardown', state: 'start'});
  let failure: RunError | undefined;
  await boundary(run, 'teardown:start').catch(() => undefined); // a broken sampler is reported when it stops
  try {
    await held.server?.stop();
  } catch (error) {
    failure = toRunError(error, held.server);
  }
  held.client?.agent.destroy();
  let sampling: SamplingInfo | null = null;
  if (run.sampler) {
    try {
      await boundary(run, 'teardown:end');
      sampling = samplingInfo(run, await run.sampler.stop());
    } catch (error) {
      failure ??= toRunError(error, null);
    }
  }
  if (held.devices) releaseDevices(held.devices);
  removeWorkdir(held.server);
  run.requestLog.close();
  const endMs = msSince(run.t0Ns);
  run.phases.push({name: 'teardown', startMs, endMs, durationMs: endMs - startMs});
  run.emit({type: 'phase', phase: 'teardown', state: 'end'});
  return {sampling, ...(failure ? {failure} : {})};
}

function samplingInfo(run: Run, stopped: SamplerResult): SamplingInfo {
  const nullReasons: Record<string, string> = {};
  if (stopped.workerError) {
    nullReasons.jitterMs = `sampler-died: ${stopped.workerError}`;
    nullReasons.missedTicks = nullReasons.jitterMs;
    run.warn({code: 'W_SAMPLER_DIED', message: `the meters' sampler stopped during the run (${stopped.workerError}): the timeline ends there, and figures that need it are null`});
  } else if (stopped.jitterMs === null) nullReasons.jitterMs = 'no-ticks';
  for (const e of stopped.readErrors) run.warn({code: 'W_METER_READ_FAILED', message: `${e.meter}: ${e.count} read(s) failed: ${e.message}`});
  return {
    intervalMs: run.settings.measure.sample_interval_ms,
    samples: stopped.timelineRows ?? stopped.samples.length,
    jitterMs: stopped.jitterMs,
    missedTicks: stopped.missedTicks,
    readErrors: stopped.readErrors,
    nullReasons,
  };
}
