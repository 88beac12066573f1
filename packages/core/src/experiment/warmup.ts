/**
 * The warm-up step (DESIGN §5 phase 2): requests excluded from every figure, on prompts disjoint
 * from the measured ones, until per-request ITL settles (convergence: CV below the threshold over
 * the last `window`, at least `min_requests`, at most `max_requests` ATTEMPTS) or a fixed count;
 * at least `concurrency` requests. It always ends: every attempt counts, failed ones included,
 * failures back off, and a workload with no ITL (one-token outputs, no token counts) stops as
 * soon as that is clear, with `warmupConverged: false`.
 */
import {setTimeout as sleep} from 'node:timers/promises';
import {runError} from '../errors.js';
import {msSince} from '../measure/types.js';
import {requestMetrics} from '../workload/stats.js';
import {sendRequest} from '../workload/index.js';
import type {WarmupInfo} from '../results/result.js';
import {abortReason, phase, type Run} from './context.js';
import {cycle, drive, progress, type Client} from './requests.js';

/** Failures in a row, with no success yet, after which the warm-up gives up (the run then fails with the first error). */
const MAX_FAILURES_BEFORE_ANY_SUCCESS = 3;
/** Back-off after a failed attempt: doubling from this, ms, up to {@link MAX_BACKOFF_MS}. */
const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 2_000;

/** Coefficient of variation (sample std / mean); null when it is undefined (fewer than 2 values, or a mean of 0). */
export function coefficientOfVariation(values: readonly number[]): number | null {
  if (values.length < 2) return null;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  if (!(mean > 0)) return null;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1);
  return Math.sqrt(variance) / mean;
}

export async function warmUp(run: Run, client: Client): Promise<WarmupInfo> {
  const info = await phase(run, 'warmup', () => (run.settings.warmup.mode === 'fixed' ? fixedWarmup(run, client) : convergenceWarmup(run, client)));
  const warmup = run.records.filter((r) => r.phase === 'warmup');
  if (warmup.length > 0 && warmup.every((r) => !r.ok)) {
    // Nothing works: say why now rather than after a measure phase of failures.
    const first = warmup[0]!.error;
    throw runError('E_WARMUP_FAILED', `every warm-up request failed: ${first?.kind ?? 'error'}: ${first?.message ?? 'unknown'}`, [
      run.resolved.backend ? 'read the server output in result.json (failure.serverOutput)' : `check that ${client.template.baseUrl} is up and serves the model "${run.settings.model}"`,
    ], 'runtime');
  }
  if (info.warmupConverged === false) {
    run.warn({code: 'W_WARMUP_NOT_CONVERGED', message: `warm-up stopped after ${info.requests} requests without ITL settling (${info.finalCv === null ? (info.finalCvReason ?? 'no CV') : `last CV ${(info.finalCv * 100).toFixed(1)} % ≥ ${run.settings.warmup.cv_threshold * 100} %`})`});
  }
  return info;
}

async function fixedWarmup(run: Run, client: Client): Promise<WarmupInfo> {
  const concurrency = run.settings.workload.concurrency;
  const n = Math.max(run.settings.warmup.requests, concurrency);
  await drive(run, client, 'warmup', cycle(client.warmup, n), {kind: 'closed', concurrency});
  return {mode: 'fixed', requests: n, warmupConverged: null, finalCv: null, finalCvReason: 'fixed-mode'};
}

/** One request at a time on one fixed warm-up prompt, until ITL settles or the attempts run out. */
async function convergenceWarmup(run: Run, client: Client): Promise<WarmupInfo> {
  const w = run.settings.warmup;
  const concurrency = run.settings.workload.concurrency;
  const fixed = client.warmup[0]!;
  const itls: number[] = [];
  const p = progress(run, 'warmup', w.max_requests);
  let attempts = 0;
  let successes = 0;
  let failuresInRow = 0;
  let cv: number | null = null;
  let cvReason = 'too-few-requests';
  let converged = false;
  while (attempts < w.max_requests) {
    attempts++;
    p.onStart();
    const r = await sendRequest(client.template, fixed, {t0Ns: run.t0Ns, id: run.nextId++, phase: 'warmup', scheduledMs: msSince(run.t0Ns), agent: client.agent, signal: run.abort.signal});
    p.onDone(r);
    if (run.abort.signal.aborted) throw abortReason(run);
    if (!r.ok) {
      failuresInRow++;
      if (successes === 0 && failuresInRow >= MAX_FAILURES_BEFORE_ANY_SUCCESS) break;
      await sleep(Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (failuresInRow - 1)), undefined, {signal: run.abort.signal}).catch(() => undefined);
      if (run.abort.signal.aborted) throw abortReason(run);
      continue;
    }
    failuresInRow = 0;
    successes++;
    const itl = requestMetrics(r).itlMs;
    if (itl !== null) itls.push(itl);
    else if (itls.length === 0 && successes >= w.min_requests) {
      cvReason = 'no-itl: one-token outputs or no token counts';
      break;
    }
    if (itls.length >= Math.max(w.min_requests, w.window)) {
      cv = coefficientOfVariation(itls.slice(-w.window));
      cvReason = cv === null ? 'zero-mean-itl' : '';
      if (cv !== null && cv < w.cv_threshold) {
        converged = true;
        break;
      }
    }
  }
  // At least `concurrency` warm-up requests, the last of them together, so every slot has served once.
  if (successes > 0 && attempts < concurrency) await drive(run, client, 'warmup', cycle(client.warmup, concurrency - attempts), {kind: 'closed', concurrency});
  const requests = run.records.filter((r) => r.phase === 'warmup').length;
  return {mode: 'convergence', requests, warmupConverged: converged, finalCv: cv, ...(cv === null ? {finalCvReason: cvReason} : {})};
}
