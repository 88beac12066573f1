import {Listr, type ListrTaskWrapper} from 'listr2';
import type {ExperimentEvent, PhaseName} from '@lem/core';

const TITLES: Record<PhaseName, string> = {
  launch: 'Launch the server',
  warmup: 'Warm up (excluded)',
  settle: 'Settle (excluded)',
  idle: 'Idle baseline',
  rewarm: 'Re-warm (excluded)',
  measure: 'Measure',
  teardown: 'Tear down',
};
const ORDER: PhaseName[] = ['launch', 'warmup', 'settle', 'idle', 'rewarm', 'measure', 'teardown'];

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return {promise, resolve, reject};
}

/**
 * Turns core's experiment events into Listr2 tasks, one per phase, with live request and token
 * counters in the title. Core never prints; this is the only place that draws progress.
 */
export class PhaseDisplay {
  private readonly ends = new Map<PhaseName, Deferred>(ORDER.map((p) => [p, deferred()]));
  private readonly tasks = new Map<PhaseName, ListrTaskWrapper<unknown, any, any>>();
  private listr: Listr | null = null;
  /**
   * The phase that ended last, not yet marked: core ends a phase whether its body succeeded or
   * threw, so a phase is marked done only when the run goes on to a later one (teardown follows
   * a failed phase at once, and measure when all went well).
   */
  private ended: PhaseName | null = null;

  /**
   * Warnings are not drawn here: the result table shows them (`lem experiment`), or the campaign
   * display once the run is over. `tty` overrides the terminal check.
   */
  constructor(private readonly options: {quiet: boolean; verbose: boolean; tty?: boolean}) {}

  start(): Promise<void> {
    if (this.options.quiet) return Promise.resolve();
    const tty = this.options.tty ?? (Boolean(process.stdout.isTTY) && !process.env.CI);
    this.listr = new Listr(
      ORDER.map((phase) => ({
        title: TITLES[phase],
        task: async (_ctx: unknown, task: ListrTaskWrapper<unknown, any, any>) => {
          this.tasks.set(phase, task);
          await this.ends.get(phase)!.promise;
        },
      })),
      {
        concurrent: false,
        exitOnError: true,
        // lem handles Ctrl+C itself (stop the run, save state, exit 130); Listr2's own handler would exit 127 at once.
        registerSignalListeners: false,
        renderer: tty ? 'default' : 'simple',
        rendererOptions: tty ? {lazy: false} : {},
      } as never,
    );
    return this.listr.run().then(
      () => undefined,
      () => undefined,
    );
  }

  handle(event: ExperimentEvent): void {
    if (event.type === 'phase') {
      if (event.state === 'end') this.ended = event.phase;
      else if (this.ended) {
        this.settle(event.phase !== 'teardown' || this.ended === 'measure');
      }
      return;
    }
    const task = (phase: PhaseName) => this.tasks.get(phase);
    if (event.type === 'progress') {
      const t = task(event.phase);
      if (t) t.title = `${TITLES[event.phase]} — ${event.done}/${event.target} requests${event.failed ? `, ${event.failed} failed` : ''}, ${event.outputTokens} tokens`;
    } else if (event.type === 'server-line' && this.options.verbose) {
      const t = task('launch');
      if (t) t.output = event.line;
    }
  }

  /** Called when the run is over: phases that never ended are marked failed or skipped. */
  finish(): void {
    if (this.ended) this.settle(this.ended === 'teardown');
    const error = new Error('stopped');
    for (const phase of ORDER) this.ends.get(phase)!.reject(error);
  }

  private settle(ok: boolean): void {
    const phase = this.ended!;
    this.ended = null;
    if (ok) this.ends.get(phase)!.resolve();
    else this.ends.get(phase)!.reject(new Error('failed'));
  }
}
