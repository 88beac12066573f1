/**
 * Where a report's heavy work runs: reading run folders and rendering figures. A large report
 * spreads both over worker threads (one per CPU, at most 8), so 500 runs take seconds, not tens
 * of seconds; a small one runs them in this thread, where starting workers (each imports Vega,
 * ~0.3 s) would cost more than it saves. Tasks and answers are plain data.
 */
import {availableParallelism} from 'node:os';
import {Worker} from 'node:worker_threads';
import type {RunView} from './model.js';
import {SvgRenderer} from './render.js';
import {loadRun} from './runs.js';
import type {VegaLiteSpec} from './specs/common.js';

export type ReportTask = {kind: 'load'; runDir: string; source: string | null} | {kind: 'render'; spec: VegaLiteSpec};
export type TaskAnswer<T extends ReportTask> = T extends {kind: 'load'} ? RunView : {svg: string; warnings: string[]};

/** Runs below which a report stays in one thread. */
export const WORKER_THRESHOLD_RUNS = 40;

export interface TaskRunner {
  run<T extends ReportTask>(task: T): Promise<TaskAnswer<T>>;
  close(): Promise<void>;
}

/** A task in this thread (the worker runs the same function). */
export async function runTask(task: ReportTask, renderer: SvgRenderer): Promise<unknown> {
  if (task.kind === 'load') return loadRun(task.runDir, task.source);
  const before = renderer.warnings.length;
  const svg = await renderer.render(task.spec);
  return {svg, warnings: renderer.warnings.slice(before)};
}

function inThread(): TaskRunner {
  const renderer = new SvgRenderer();
  return {run: (task) => runTask(task, renderer) as Promise<never>, close: async () => {}};
}

interface Job {
  id: number;
  task: ReportTask;
  resolve: (value: never) => void;
  reject: (error: Error) => void;
}

/** Tasks in flight per worker: two, so a worker never waits for this thread between tasks. */
const IN_FLIGHT = 2;

/**
 * A pool that hands each task to a worker with room for it, so a worker that drew heavy tasks
 * (timelines cost twice what latency plots do) gets fewer, not its share in turn.
 */
function workers(count: number, script: URL): TaskRunner {
  const queue: Job[] = [];
  const running = new Map<number, Job>();
  const pool = Array.from({length: count}, () => ({worker: new Worker(script), inFlight: 0}));
  const pump = () => {
    for (const slot of pool) {
      while (slot.inFlight < IN_FLIGHT && queue.length > 0) {
        const job = queue.shift()!;
        running.set(job.id, job);
        slot.inFlight++;
        slot.worker.postMessage({id: job.id, task: job.task});
      }
    }
  };
  for (const slot of pool) {
    slot.worker.on('message', ({id, value, error}: {id: number; value?: never; error?: string}) => {
      const job = running.get(id)!;
      running.delete(id);
      slot.inFlight--;
      if (error === undefined) job.resolve(value!);
      else job.reject(new Error(`report worker: ${error}`));
      pump();
    });
    slot.worker.on('error', (error) => [...running.values(), ...queue.splice(0)].forEach((j) => j.reject(error)));
  }
  let next = 0;
  return {
    run: (task) =>
      new Promise((resolve, reject) => {
        queue.push({id: next++, task, resolve, reject});
        pump();
      }),
    close: async () => void (await Promise.all(pool.map((s) => s.worker.terminate()))),
  };
}

/**
 * Workers for `runs` runs when it is worth it, else this thread. `threads` (else
 * $LEM_REPORT_THREADS) sets the count; 0 is this thread. Workers need the compiled worker
 * script: from TypeScript sources (unit tests) the report runs in this thread.
 */
export function taskRunner(runs: number, threads?: number, env: NodeJS.ProcessEnv = process.env): TaskRunner {
  const script = new URL('./worker.js', import.meta.url);
  const fromEnv = env.LEM_REPORT_THREADS === undefined ? undefined : Number(env.LEM_REPORT_THREADS);
  const count = threads ?? fromEnv ?? (runs >= WORKER_THRESHOLD_RUNS ? Math.min(8, availableParallelism()) : 0);
  return count > 0 && import.meta.url.endsWith('.js') ? workers(count, script) : inThread();
}
