import enquirer from 'enquirer';
import type {ThresholdDecision, ThresholdQuestion} from '@lem/core';

/**
 * Asks continue or stop when the failure threshold is crossed (a pseudo-terminal is enough).
 * Core times the question out (`prompt_timeout_s`) and aborts `signal`; the prompt is then
 * cancelled and counts as stop.
 */
export async function askThreshold(question: ThresholdQuestion): Promise<ThresholdDecision> {
  const {Select} = enquirer as unknown as {Select: new (options: object) => {run(): Promise<string>; cancel(error?: unknown): Promise<void>}};
  const prompt = new Select({
    name: 'decision',
    message: `${question.failed} of ${question.finished} runs failed (${(question.ratio * 100).toFixed(0)} % > ${(question.threshold * 100).toFixed(0)} %) in scope ${question.scope}. Continue the campaign? (stops by itself in ${Math.round(question.timeoutS)} s)`,
    choices: [
      {name: 'stop', message: 'stop (resumable: lem resume)'},
      {name: 'continue', message: 'continue (do not ask again for this scope)'},
    ],
  });
  const onAbort = () => void prompt.cancel().catch(() => undefined);
  question.signal.addEventListener('abort', onAbort, {once: true});
  try {
    return (await prompt.run()) === 'continue' ? 'continue' : 'stop';
  } catch {
    return 'stop';
  } finally {
    question.signal.removeEventListener('abort', onAbort);
  }
}
