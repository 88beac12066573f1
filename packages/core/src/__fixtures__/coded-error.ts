import {isCodedError, type CodedError} from '@lem/plugin-kit';

/** The error `fn` throws, which must be a coded one (tests of refusals read its code, message and Try lines). */
export function codedErrorOf(fn: () => unknown): CodedError {
  try {
    fn();
  } catch (error) {
    if (isCodedError(error)) return error;
    throw error;
  }
  throw new Error('expected a coded error, nothing was thrown');
}
