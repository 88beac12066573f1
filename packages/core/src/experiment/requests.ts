/**
 * How the steps send requests: one request template and prompt lists per run (prompts.ts builds
 * them), driven phase by phase with live progress, every record kept as it completes.
 */
import type {Agent} from 'node:http';
import {monoNs, type PhaseName, type RequestRecord} from '../measure/types.js';
import {runWorkload, type LoadMode, type Prompt, type RequestTemplate, type WorkloadOptions, type WorkloadResult} from '../workload/index.js';
import type {PromptsInfo} from '../results/result.js';
import {abortReason, type Run} from './context.js';

/** What the warm-up and measure steps send, and how. */
export interface Client {
  template: RequestTemplate;
  /** The measured prompts, in send order. */
  measure: Prompt[];
  /** Warm-up and re-warm prompts, disjoint from the measured ones. */
  warmup: Prompt[];
  info: PromptsInfo;
  /**
   * Keep-alive agent for requests sent one by one (the convergence warm-up). A driven phase makes
   * its own, sized to its in-flight count, so that no send waits unseen for a socket.
   */
  agent: Agent;
}

/** Counts a phase's requests for the display, at most 10 updates a second (it cannot show more, and each costs the event loop). */
export function progress(run: Run, name: PhaseName, target: number): {onStart(): void; onDone(r: RequestRecord): void} {
  let sent = 0;
  let done = 0;
  let failed = 0;
  let outputTokens = 0;
  let lastEmitNs = 0n;
  const push = (force = false) => {
    const now = monoNs();
    if (!force && now - lastEmitNs < 100_000_000n) return;
    lastEmitNs = now;
    run.emit({type: 'progress', phase: name, sent, done, failed, outputTokens, target});
  };
  return {
    onStart: () => {
      sent++;
      push();
    },
    onDone: (r) => {
      done++;
      if (!r.ok) failed++;
      outputTokens += r.outputTokens ?? 0;
      run.record(r);
      push(done === target);
    },
  };
}

/** Drives `prompts` in one phase; rejects with the run's abort reason when it was aborted. */
export async function drive(
  run: Run,
  client: Client,
  name: PhaseName,
  prompts: readonly Prompt[],
  mode: LoadMode,
  hooks: Pick<WorkloadOptions, 'beforeFirstSend' | 'onLastStreamEnd'> = {},
): Promise<WorkloadResult> {
  const p = progress(run, name, prompts.length);
  const result = await runWorkload({
    template: client.template,
    prompts,
    mode,
    phase: name,
    t0Ns: run.t0Ns,
    firstId: run.nextId,
    onStart: p.onStart,
    onDone: p.onDone,
    signal: run.abort.signal,
    ...hooks,
  });
  run.nextId += prompts.length;
  if (run.abort.signal.aborted) throw abortReason(run);
  return result;
}

/** `count` prompts from `list`, cycling (warm-up prompts may repeat among themselves: they are never measured). */
export function cycle(list: readonly Prompt[], count: number): Prompt[] {
  return Array.from({length: count}, (_, i) => list[i % list.length]!);
}
