import {describe, expect, it} from 'vitest';
import {nodeCheck} from './diagnose.js';

describe('nodeCheck', () => {
  it('accepts Node 20.17 and newer, and refuses older ones with the floor and a fix', () => {
    for (const ok of ['20.17.0', '20.20.2', '22.9.0', '24.1.0']) expect(nodeCheck(ok).verdict, ok).toBe('ok');
    for (const old of ['20.12.2', '18.20.4']) {
      const check = nodeCheck(old);
      expect(check.verdict, old).toBe('problem');
      expect(check.detail).toBe(`Node ${old}; lem needs Node 20.17 or newer`);
      expect(check.try[0]).toMatch(/Node 22 LTS, or Node 20\.17 or newer/);
    }
  });
});
