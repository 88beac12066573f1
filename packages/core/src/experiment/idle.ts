/**
 * The idle step (DESIGN §5 phase 3): first `measure.idle_settle_s` for the devices to settle
 * after the warm-up — a GPU stays in a high P-state for a while, and NVML's power is a 1 s
 * average — excluded from every figure; then `measure.baseline_s` with the model loaded and warm,
 * whose boundary reads give idle power and whose samples give its spread.
 */
import {setTimeout as sleep} from 'node:timers/promises';
import {abortReason, phase, type Run} from './context.js';

/** Waits `seconds`, cut short by the run's abort (then rejects with its reason). */
export async function wait(run: Run, seconds: number): Promise<void> {
  await sleep(seconds * 1000, undefined, {signal: run.abort.signal}).catch(() => {
    throw abortReason(run);
  });
}

export async function settleAndIdle(run: Run): Promise<void> {
  await phase(run, 'settle', () => wait(run, run.settings.measure.idle_settle_s));
  await phase(run, 'idle', () => wait(run, run.settings.measure.baseline_s));
}
