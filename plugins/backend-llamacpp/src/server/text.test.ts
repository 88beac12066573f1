import {describe, expect, it} from 'vitest';
import {StopStringMatcher, TokenTextDecoder, type Detokenize} from './text.js';

/** A byte-level "model": token n is byte n; decoding is plain UTF-8 with replacement characters. */
const bytes: Detokenize = (tokens) => Buffer.from(tokens).toString('utf8');
const utf8 = (text: string) => [...Buffer.from(text, 'utf8')];

describe('TokenTextDecoder', () => {
  it('returns ASCII token by token', () => {
    const d = new TokenTextDecoder(bytes);
    expect(utf8('abc').map((t) => d.push(t))).toEqual(['a', 'b', 'c']);
    expect(d.flush()).toBe('');
  });

  it('holds a multi-byte character until its last byte', () => {
    const d = new TokenTextDecoder(bytes);
    expect(utf8('é€x').map((t) => d.push(t))).toEqual(['', 'é', '', '', '€', 'x']);
  });

  it('releases a lone continuation byte as U+FFFD once more text follows, and at flush', () => {
    const d = new TokenTextDecoder(bytes);
    expect(d.push(0x80)).toBe('');
    expect(d.push(0x41)).toBe('\uFFFDA');
    expect(d.push(0xe2)).toBe('');
    expect(d.flush()).toBe('\uFFFD');
  });

  it('passes the prompt tail and earlier tokens as context to the detokenizer', () => {
    const seen: number[][] = [];
    const d = new TokenTextDecoder((tokens, previous) => {
      seen.push([...previous]);
      return tokens.map((t) => `<${t}>`).join('');
    }, [1, 2, 3]);
    d.push(10);
    d.push(11);
    expect(seen).toEqual([[1, 2, 3], [1, 2, 3, 10]]);
  });
});

describe('StopStringMatcher', () => {
  it('emits text up to a stop string and never the stop string', () => {
    const m = new StopStringMatcher(['STOP']);
    expect(m.push('hello ')).toEqual({emit: 'hello ', stopped: false});
    expect(m.push('woST')).toEqual({emit: 'wo', stopped: false});
    expect(m.push('OP and more')).toEqual({emit: '', stopped: true});
  });

  it('releases held text that turns out not to be a stop', () => {
    const m = new StopStringMatcher(['STOP']);
    expect(m.push('aST')).toEqual({emit: 'a', stopped: false});
    expect(m.push('x')).toEqual({emit: 'STx', stopped: false});
    expect(m.push('S')).toEqual({emit: '', stopped: false});
    expect(m.flush()).toBe('S');
  });

  it('stops at the earliest of several stop strings, even inside one piece', () => {
    const m = new StopStringMatcher(['bb', 'a', '']);
    expect(m.push('xxbbya')).toEqual({emit: 'xx', stopped: true});
  });

  it('is a pass-through without stop strings', () => {
    const m = new StopStringMatcher([]);
    expect(m.push('anything')).toEqual({emit: 'anything', stopped: false});
    expect(m.flush()).toBe('');
  });
});
