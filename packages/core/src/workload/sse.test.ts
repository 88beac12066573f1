import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {parseSse, SseParser, type SseEvent} from './sse.js';

const ev = (data: string, event = 'message', id = ''): SseEvent => ({data, event, id});

/** Feeds `bytes` cut at the given (sorted, in-range) positions. */
function parseSplit(bytes: Buffer, cuts: number[]): SseEvent[] {
  const events: SseEvent[] = [];
  const parser = new SseParser((e) => events.push(e));
  let from = 0;
  for (const cut of cuts) {
    parser.push(bytes.subarray(from, cut));
    from = cut;
  }
  parser.push(bytes.subarray(from));
  parser.end();
  return events;
}

describe('SseParser', () => {
  const cases: Array<[string, string, SseEvent[]]> = [
    ['one event, LF', 'data: a\n\n', [ev('a')]],
    ['CRLF line ends', 'data: a\r\n\r\ndata: b\r\n\r\n', [ev('a'), ev('b')]],
    ['CR line ends', 'data: a\r\rdata: b\r\r', [ev('a'), ev('b')]],
    ['mixed line ends in one stream', 'data: a\r\n\ndata: b\r\rdata: c\n\r\n', [ev('a'), ev('b'), ev('c')]],
    ['comment lines are ignored', ': ping\n\n: ping\ndata: x\n\n', [ev('x')]],
    ['event, id and retry fields', 'retry: 3000\nevent: delta\nid: 7\ndata: x\n\ndata: y\n\n', [ev('x', 'delta', '7'), ev('y', 'message', '7')]],
    ['multi-line data joins with LF', 'data: a\ndata: b\ndata:\n\n', [ev('a\nb\n')]],
    ['data with no space after the colon', 'data:x\n\ndata:  two spaces\n\n', [ev('x'), ev(' two spaces')]],
    ['a lone `data` line is empty data', 'data\n\ndata:\n\n', [ev(''), ev('')]],
    ['[DONE] is passed through as data', 'data: {"a":1}\n\ndata: [DONE]\n\n', [ev('{"a":1}'), ev('[DONE]')]],
    ['final event without a blank line', 'data: a\n\ndata: [DONE]\n', [ev('a'), ev('[DONE]')]],
    ['final event without any line end', 'data: a\n\ndata: [DONE]', [ev('a'), ev('[DONE]')]],
    ['final event ending in CR', 'data: [DONE]\r', [ev('[DONE]')]],
    ['an event with no data is not dispatched and its type resets', 'event: x\n\ndata: y\n\n', [ev('y')]],
    ['unknown fields are ignored', 'foo: bar\nbaz\ndata: y\n\n', [ev('y')]],
    ['an id containing NUL is ignored', 'id: 1\ndata: a\n\nid: 2\0\ndata: b\n\n', [ev('a', 'message', '1'), ev('b', 'message', '1')]],
    ['an empty id resets the last id', 'id: 1\ndata: a\n\nid\ndata: b\n\n', [ev('a', 'message', '1'), ev('b', 'message', '')]],
    ['a leading BOM is dropped', '\ufeffdata: a\n\n', [ev('a')]],
    ['multi-byte UTF-8', 'data: héllo 日本語 🎉\n\n', [ev('héllo 日本語 🎉')]],
    ['colon inside the value', 'data: {"a":"b:c"}\n\n', [ev('{"a":"b:c"}')]],
    ['blank lines between events dispatch nothing', '\n\n\r\n: c\n\ndata: a\n\n\n\n', [ev('a')]],
    ['empty input', '', []],
  ];

  it.each(cases)('%s', (_name, input, expected) => {
    expect(parseSse(input)).toEqual(expected);
    expect(parseSse(Buffer.from(input, 'utf8'))).toEqual(expected);
  });

  it('keeps retry from a digits-only value and ignores others', () => {
    const parser = new SseParser(() => {});
    parser.push('retry: 1500\n\n');
    expect(parser.retryMs).toBe(1500);
    parser.push('retry: 15x\nretry: -1\n\n');
    expect(parser.retryMs).toBe(1500);
  });

  // A stream exercising every feature: every split of it must parse as the whole does.
  const sample = Buffer.from(
    '\ufeff: ping\r\n' +
      'data: {"choices":[{"text":"é日🎉"}]}\r\n\r\n' +
      'event: two\r\ndata: x\r\ndata: y\r\n\r\n' +
      'event: delta\nid: 42\ndata: line one\ndata:line two\n\n' +
      'retry: 10\rdata: cr\r\r' +
      'data: {"choices":[],"usage":{"completion_tokens":3}}\n\n' +
      'data: [DONE]',
    'utf8',
  );
  const expected = [
    ev('{"choices":[{"text":"é日🎉"}]}'),
    ev('x\ny', 'two'),
    ev('line one\nline two', 'delta', '42'),
    ev('cr', 'message', '42'),
    ev('{"choices":[],"usage":{"completion_tokens":3}}', 'message', '42'),
    ev('[DONE]', 'message', '42'),
  ];

  it('parses the sample stream whole', () => {
    expect(parseSplit(sample, [])).toEqual(expected);
  });

  it('gives the same events for every single split position (inside UTF-8 characters and CRLF included)', () => {
    for (let cut = 0; cut <= sample.length; cut++) expect(parseSplit(sample, [cut])).toEqual(expected);
  });

  it('gives the same events for every pair of split positions', () => {
    for (let a = 0; a <= sample.length; a++) {
      for (let b = a; b <= sample.length; b++) {
        const got = parseSplit(sample, [a, b]);
        if (JSON.stringify(got) !== JSON.stringify(expected)) expect({a, b, got}).toEqual({a, b, got: expected});
      }
    }
  });

  it('gives the same events byte by byte', () => {
    expect(
      parseSplit(
        sample,
        Array.from({length: sample.length}, (_, i) => i),
      ),
    ).toEqual(expected);
  });

  it('gives the same events for any set of split positions (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({min: 0, max: sample.length}), {maxLength: 40}), (cuts) => {
        expect(parseSplit(sample, [...cuts].sort((x, y) => x - y))).toEqual(expected);
      }),
      {numRuns: 500},
    );
  });

  it('round-trips any events with any line ends, split anywhere (property)', () => {
    // Data lines: any text without line ends; a leading space would be eaten by the one-space rule, so prefix one.
    const line = fc.string({unit: 'grapheme', maxLength: 20}).map((s) => s.replace(/[\r\n]/g, ''));
    const event = fc.record({lines: fc.array(line, {minLength: 1, maxLength: 3}), type: fc.constantFrom('', 'delta', 'message')});
    const eol = fc.constantFrom('\n', '\r\n', '\r');
    fc.assert(
      fc.property(fc.array(event, {maxLength: 6}), eol, fc.array(fc.nat(), {maxLength: 10}), (events, nl, rawCuts) => {
        const text = events
          .map((e) => (e.type ? `event: ${e.type}${nl}` : '') + e.lines.map((l) => `data: ${l}${nl}`).join('') + nl)
          .join('');
        const bytes = Buffer.from(text, 'utf8');
        const cuts = [...new Set(rawCuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
        const want = events.map((e) => ev(e.lines.join('\n'), e.type || 'message'));
        expect(parseSplit(bytes, cuts)).toEqual(want);
      }),
      {numRuns: 300},
    );
  });
});
