import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {isCodedError} from '@lem/plugin-kit';
import type {TimelineSample} from '../measure/types.js';
import {mkdtempSync, readFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {parseTimelineCsv, readTimelineCsv, TimelineCsvAppender, timelineCsv, timelineSamples} from './timeline-csv.js';

const s = (scheduledMs: number, meter: string, channel: string, energyJ: number | null, powerW: number | null): TimelineSample => ({
  scheduledMs,
  read: {meter, channel, energyJ, powerW, readStartMs: scheduledMs + 0.012, readEndMs: scheduledMs + 0.034},
});

describe('timelineCsv', () => {
  it('writes the header and one row per sample, empty for null', () => {
    expect(timelineCsv([s(100, 'rapl', 'package-0', 12.5, null), s(100, 'nvml', 'GPU-1,"x"', null, 250.25)])).toBe(
      'scheduled_ms,read_start_ms,read_end_ms,meter,channel,energy_j,power_w\n' +
        '100,100.012,100.034,rapl,package-0,12.5,\n' +
        '100,100.012,100.034,nvml,"GPU-1,""x""",,250.25\n',
    );
    expect(timelineCsv([])).toBe('scheduled_ms,read_start_ms,read_end_ms,meter,channel,energy_j,power_w\n');
  });

  it('property: parse(write(samples)) gives the samples back exactly', () => {
    const num = fc.double({noNaN: true, noDefaultInfinity: true});
    const sampleArb = fc.record({
      scheduledMs: num,
      read: fc.record({meter: fc.string(), channel: fc.string(), energyJ: fc.option(num, {nil: null}), powerW: fc.option(num, {nil: null}), readStartMs: num, readEndMs: num}),
    });
    fc.assert(
      fc.property(fc.array(sampleArb, {maxLength: 20}), (samples) => {
        const back = parseTimelineCsv(timelineCsv(samples));
        // -0 writes as "0": compare by value.
        expect(back).toEqual(samples.map((x) => JSON.parse(JSON.stringify(x)) as TimelineSample));
      }),
    );
  });

  it('reads CRLF files and blank lines', () => {
    const text = 'scheduled_ms,read_start_ms,read_end_ms,meter,channel,energy_j,power_w\r\n0,0.1,0.2,rapl,package-0,1,2\r\n\r\n';
    expect(parseTimelineCsv(text)).toEqual([s(0, 'rapl', 'package-0', 1, 2)].map((x) => ({...x, read: {...x.read, readStartMs: 0.1, readEndMs: 0.2}})));
  });

  it('rejects a bad header, a short row or a non-number with the line and E_TIMELINE_CSV', () => {
    const header = 'scheduled_ms,read_start_ms,read_end_ms,meter,channel,energy_j,power_w\n';
    const cases: Array<[string, RegExp]> = [
      ['', /line 1: empty file/],
      ['a,b\n', /line 1: expected header/],
      [header + '0,0,0,rapl,p,1,2\n0,0,0,rapl\n', /line 3: expected 7 fields, found 4/],
      [header + '0,0,zero,rapl,p,1,2\n', /line 2: read_end_ms is not a number/],
      [header + ',0,0,rapl,p,1,2\n', /line 2: scheduled_ms is empty/],
      [header + '0,0,0,"rapl,p,1,2\n', /unterminated/],
    ];
    for (const [text, message] of cases) {
      try {
        parseTimelineCsv(text);
        expect.unreachable(text);
      } catch (error) {
        expect(isCodedError(error) && error.code).toBe('E_TIMELINE_CSV');
        expect((error as Error).message).toMatch(message);
      }
    }
  });

  it('property: the text cut into pieces anywhere (a file read chunk by chunk) parses as the whole does', () => {
    const text =
      'scheduled_ms,read_start_ms,read_end_ms,meter,channel,energy_j,power_w\r\n' +
      '0,0.1,0.2,rapl,package-0,1,2\r\n' +
      '100,100.1,100.2,nvml,"GPU-1,""x""\nsecond line",,250.25\r' +
      '200,200.1,200.2,rapl,package-0,3,\n\n';
    const whole = parseTimelineCsv(text);
    expect(whole).toHaveLength(3);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({min: 1, max: text.length - 1}), {maxLength: 12}), (cuts) => {
        const at = [0, ...cuts.sort((a, b) => a - b), text.length];
        const pieces = at.slice(1).map((end, i) => text.slice(at[i], end));
        expect([...timelineSamples(pieces)]).toEqual(whole);
      }),
    );
  });

  it('the appender writes what parse reads back, row by row, and a file is readable while it grows', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'lem-timeline-')), 'timeline.csv');
    const appender = new TimelineCsvAppender(path, false);
    appender.append([s(0, 'rapl', 'package-0', 1, null)]);
    // Nothing is buffered by lem: what was appended is in the file before close.
    expect([...readTimelineCsv(path)]).toEqual([s(0, 'rapl', 'package-0', 1, null)]);
    appender.append([s(100, 'rapl', 'package-0', 2, 10), s(200, 'rapl', 'package-0', 3, 10)]);
    appender.close();
    expect(appender.rows).toBe(3);
    expect(readFileSync(path, 'utf8')).toBe(timelineCsv([s(0, 'rapl', 'package-0', 1, null), s(100, 'rapl', 'package-0', 2, 10), s(200, 'rapl', 'package-0', 3, 10)]));
  });
});
