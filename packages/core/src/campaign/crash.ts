/**
 * Fault points for the crash tests of DESIGN §1 principle 4 ("a `kill -9` at any instant leaves
 * state that `lem resume` completes"). Each marks an instant where a kill is most likely to lose or
 * duplicate a run; a test sets `LEM_TEST_CRASH_AT=<name>` in a child lem's environment and checks
 * what resume makes of what is left. Inert unless that variable names the point.
 */
import {writeSync} from 'node:fs';

export type CrashPoint =
  /** A run's result.json is written, its run-end not yet journaled (resume adopts the result). */
  | 'after-result-before-journal'
  /** The journal line is appended, manifest.json's temp file written but not renamed. */
  | 'mid-manifest-write'
  /** Waiting out a thermal gap between runs. */
  | 'in-gap'
  /** Stopping a run's server. */
  | 'in-teardown'
  /** Asking continue/stop at the failure threshold. */
  | 'in-threshold-prompt';

const counts = new Map<CrashPoint, number>();

export const CRASH_POINTS: readonly CrashPoint[] = ['after-result-before-journal', 'mid-manifest-write', 'in-gap', 'in-teardown', 'in-threshold-prompt'];

/**
 * Dies by SIGKILL — no exit handlers, no flushing, like `kill -9` — when `LEM_TEST_CRASH_AT` is
 * `name` (or `name:n`, at the n-th time). The variable is read at every call so a test can arm a point after start. The stderr
 * line (written synchronously, before the kill) tells the test the point was reached.
 */
export function crashPoint(name: CrashPoint): void {
  const armed = process.env.LEM_TEST_CRASH_AT;
  if (!armed || !armed.startsWith(name)) return;
  // `<name>:<n>` waits for the n-th time the point is reached (the 1st run-end, the 5th manifest write).
  const wanted = armed === name ? 1 : /^:(\d+)$/.exec(armed.slice(name.length))?.[1];
  if (wanted === undefined) return;
  const reached = (counts.get(name) ?? 0) + 1;
  counts.set(name, reached);
  if (reached < Number(wanted)) return;
  writeSync(2, `LEM_TEST_CRASH_AT=${name}\n`);
  process.kill(process.pid, 'SIGKILL');
}
