import {describe, expect, it} from 'vitest';
import {codedError, codedErrorToJson, formatCodedError, isCodedError} from './errors.js';

describe('coded errors', () => {
  it('are recognised by shape, whichever copy of the module made them', () => {
    const own = codedError({code: 'E_X', message: 'bad', try: ['fix it']});
    expect(isCodedError(own)).toBe(true);
    expect(own.exitCode).toBe(2);
    const foreign = Object.assign(new Error('from another copy'), {code: 'E_FOREIGN', try: ['x'], exitCode: 1});
    expect(isCodedError(foreign)).toBe(true);
    expect(isCodedError(Object.assign(new Error('node'), {code: 'ENOENT'}))).toBe(false);
    expect(isCodedError({code: 'E_X', message: 'no try'})).toBe(false);
  });

  it('render the code, each detail with its location, and Try lines', () => {
    const e = codedError({
      code: 'E_CONFIG_INVALID',
      message: 'e.yaml has 2 errors',
      try: ['fix the keys shown'],
      details: [
        {path: 'workload.concurrency', message: 'expected number', location: {file: 'e.yaml', line: 3, col: 16}},
        {path: 'runner', message: 'invalid option'},
      ],
    });
    expect(formatCodedError(e)).toBe(
      ['Error E_CONFIG_INVALID: e.yaml has 2 errors', '  e.yaml:3:16 workload.concurrency: expected number', '  runner: invalid option', 'Try: fix the keys shown'].join('\n'),
    );
    expect(codedErrorToJson(e).error).toMatchObject({code: 'E_CONFIG_INVALID', exitCode: 2, try: ['fix the keys shown']});
  });
});
