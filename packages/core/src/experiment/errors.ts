/** Any error of a run step as a run error with its failure category (DESIGN §7). */
import {isCodedError, isRunError, runError, type FailureCategory, type RunError} from '../errors.js';

export function toRunError(error: unknown, server: {outputTail(): string[]} | null): RunError {
  if (isRunError(error)) return error;
  if (isCodedError(error)) {
    const category: FailureCategory = error.exitCode === 2 ? 'config' : error.exitCode === 130 ? 'interrupted' : 'runtime';
    return Object.assign(error, {category});
  }
  const message = error instanceof Error ? error.message : String(error);
  return runError('E_RUN_FAILED', message, ['run again with --verbose'], 'runtime', server?.outputTail().slice(-20).map((line) => ({message: line})), error);
}
