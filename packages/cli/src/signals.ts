import {ExitCode, killAllServersNow} from '@lem/core';

/**
 * Ctrl+C, SIGTERM and SIGHUP alike: the first aborts the returned signal (core stops what runs,
 * saves state and returns), a second exits at once with 130. However lem ends, no server it
 * started outlives it (the exit hook kills them; local servers also die by pdeathsig).
 */
export function interruptible(note: (message: string) => void, what: string): {signal: AbortSignal; dispose(): void} {
  const abort = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts > 1) process.exit(ExitCode.interrupted);
    note(`\n${signal}: stopping ${what} (Ctrl+C again to kill at once)`);
    abort.abort();
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);
  process.on('exit', killAllServersNow);
  return {
    signal: abort.signal,
    dispose: () => {
      for (const s of signals) process.off(s, onSignal);
    },
  };
}
