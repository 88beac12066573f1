/**
 * The measure step (DESIGN §5 phase 4): a re-warm of `concurrency` excluded requests, then the
 * workload. The meters are read right before the first measured send and right after the last
 * response end, so energy and the window T span the same interval; lem's own event-loop delay
 * and CPU time are taken over the phase.
 */
import {join} from 'node:path';
import {monitorEventLoopDelay} from 'node:perf_hooks';
import {RUN_FILES} from '../results/run-files.js';
import type {LoadMode} from '../workload/index.js';
import type {WorkloadInfo} from '../results/result.js';
import {boundary, phase, type Run} from './context.js';
import {cycle, drive, type Client} from './requests.js';
import {startEngineScraper, type EngineMetricsSummary, type EngineScraper} from './engine-metrics.js';
import type {Server} from './launch.js';

/** Period of the event-loop delay probe during measure, ms. */
const LOOP_RESOLUTION_MS = 2;

export interface Measured {
  workload: WorkloadInfo;
  eventLoopDelay: {p50Ms: number; p99Ms: number; maxMs: number} | null;
  clientCpuS: number;
  engineMetrics: EngineMetricsSummary | null;
}

function loadMode(run: Run): LoadMode {
  const {concurrency, request_rate: rate, seed} = run.settings.workload;
  return rate === undefined ? {kind: 'closed', concurrency} : rate === 'inf' ? {kind: 'burst'} : {kind: 'open', ratePerS: rate, seed};
}

/** The engine's metrics, read every second from the first measured send, when the server has them. */
function engineScraper(run: Run, server: Server | null): EngineScraper | null {
  const spec = server?.spec;
  if (!server || !spec?.metricsPath) return null;
  return startEngineScraper({baseUrl: server.baseUrl, spec, csvPath: join(run.runDir, RUN_FILES.engineMetrics), t0Ns: run.t0Ns});
}

export async function measure(run: Run, client: Client, server: Server | null = null): Promise<Measured> {
  const concurrency = run.settings.workload.concurrency;
  await phase(run, 'rewarm', () => drive(run, client, 'rewarm', cycle(client.warmup, concurrency), {kind: 'closed', concurrency}));
  const mode = loadMode(run);
  const loopDelay = monitorEventLoopDelay({resolution: LOOP_RESOLUTION_MS});
  const cpuBefore = process.cpuUsage();
  loopDelay.enable();
  let endRead: Promise<unknown> = Promise.resolve();
  let scraper: EngineScraper | null = null;
  const w = await phase(
    run,
    'measure',
    async () => {
      const result = await drive(run, client, 'measure', client.measure, mode, {
        beforeFirstSend: async () => {
          await boundary(run, 'measure:start');
          scraper = engineScraper(run, server);
        },
        onLastStreamEnd: () => {
          endRead = boundary(run, 'measure:end');
        },
      });
      await endRead;
      return result;
    },
    {manualBoundaries: true},
  ).finally(() => loopDelay.disable());
  const engineMetrics = scraper ? await (scraper as EngineScraper).stop() : null;
  const cpu = process.cpuUsage(cpuBefore);
  // The histogram records the whole interval between its timer's runs; the delay is what exceeds the resolution.
  const lag = (ns: number) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
  return {
    workload: {mode: mode.kind, steadyWindow: w.steadyState, targetRatePerS: w.targetRatePerS, achievedRatePerS: w.achievedRatePerS, sendLagMs: w.sendLagMs, maxInFlight: w.maxInFlight},
    eventLoopDelay: loopDelay.count > 0 ? {p50Ms: lag(loopDelay.percentile(50)), p99Ms: lag(loopDelay.percentile(99)), maxMs: lag(loopDelay.max)} : null,
    clientCpuS: (cpu.user + cpu.system) / 1e6,
    engineMetrics,
  };
}
