/** A report worker thread (pool.ts): runs the tasks it is sent, one at a time, and answers each by id. */
import {parentPort} from 'node:worker_threads';
import {runTask, type ReportTask} from './pool.js';
import {SvgRenderer} from './render.js';

const renderer = new SvgRenderer();
parentPort!.on('message', ({id, task}: {id: number; task: ReportTask}) => {
  runTask(task, renderer).then(
    (value) => parentPort!.postMessage({id, value}),
    (error: unknown) => parentPort!.postMessage({id, error: error instanceof Error ? error.message : String(error)}),
  );
});
