/** timeline.csv with the GPU extras: extra columns at the end, old 7-column files still read. */
import fc from 'fast-check';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {isCodedError} from '@lem/plugin-kit';
import {monoNs, type MeterRead, type TimelineSample} from '../measure/types.js';
import {createNvmlMeter} from './nvml.js';
import {parseTimelineCsv, TIMELINE_CSV_EXTENDED_HEADER, timelineCsv} from './timeline-csv.js';
import {compileFakeNvml, type FakeNvml} from './__fixtures__/fake-nvml.js';

const OLD_HEADER = 'scheduled_ms,read_start_ms,read_end_ms,meter,channel,energy_j,power_w';
const NEW_HEADER = `${OLD_HEADER},temperature_c,sm_clock_mhz,memory_used_bytes,clock_event_reasons,processes,foreign_processes,error`;

const read = (extra: Partial<MeterRead>): MeterRead => ({meter: 'nvml', channel: 'GPU-1', energyJ: 12.5, powerW: 250.25, readStartMs: 100.012, readEndMs: 100.034, ...extra});

describe('timeline.csv GPU extras', () => {
  it('writes the extra columns at the end when a read carries one', () => {
    const samples: TimelineSample[] = [
      {scheduledMs: 100, read: read({temperatureC: 71, smClockMhz: 1980, memoryUsedBytes: 71_000_000_000, clockEventReasons: 0x44, processes: 3, foreignProcesses: 1})},
      {scheduledMs: 100, read: {meter: 'rapl', channel: 'package-0', energyJ: 1, powerW: null, readStartMs: 100.1, readEndMs: 100.2}},
      {scheduledMs: 200, read: read({powerW: null, temperatureC: 72, processes: null, foreignProcesses: null, error: 'nvmlDeviceGetPowerUsage: Timeout, "x"; y'})},
    ];
    const text = timelineCsv(samples);
    expect(TIMELINE_CSV_EXTENDED_HEADER.join(',')).toBe(NEW_HEADER);
    expect(text).toBe(
      `${NEW_HEADER}\n` +
        '100,100.012,100.034,nvml,GPU-1,12.5,250.25,71,1980,71000000000,68,3,1,\n' +
        '100,100.1,100.2,rapl,package-0,1,,,,,,,,\n' +
        '200,100.012,100.034,nvml,GPU-1,12.5,,72,,,,,,"nvmlDeviceGetPowerUsage: Timeout, ""x""; y"\n',
    );
    // Null extras read back as absent; the error says why.
    const back = parseTimelineCsv(text);
    expect(back[0]).toEqual(samples[0]);
    expect(back[1]).toEqual(samples[1]);
    expect(back[1]!.read).not.toHaveProperty('temperatureC');
    expect(back[2]!.read).toEqual({...read({powerW: null, temperatureC: 72}), error: 'nvmlDeviceGetPowerUsage: Timeout, "x"; y'});
    expect(back[2]!.read).not.toHaveProperty('processes');
  });

  it('keeps the 7-column file when no read has extras, and reads old files', () => {
    const plain: TimelineSample[] = [{scheduledMs: 0, read: {meter: 'rapl', channel: 'package-0', energyJ: 1, powerW: 2, readStartMs: 0.1, readEndMs: 0.2}}];
    expect(timelineCsv(plain)).toBe(`${OLD_HEADER}\n0,0.1,0.2,rapl,package-0,1,2\n`);
    const old = `${OLD_HEADER}\n0,0.1,0.2,nvml,GPU-1,,300\n100,100.1,100.2,nvml,GPU-1,,301\n`;
    const samples = parseTimelineCsv(old);
    expect(samples).toEqual([
      {scheduledMs: 0, read: {meter: 'nvml', channel: 'GPU-1', energyJ: null, powerW: 300, readStartMs: 0.1, readEndMs: 0.2}},
      {scheduledMs: 100, read: {meter: 'nvml', channel: 'GPU-1', energyJ: null, powerW: 301, readStartMs: 100.1, readEndMs: 100.2}},
    ]);
    expect(Object.keys(samples[0]!.read)).toEqual(['meter', 'channel', 'energyJ', 'powerW', 'readStartMs', 'readEndMs']);
  });

  it('rejects rows that do not match their header, and bad numbers, naming the line and column', () => {
    const cases: Array<[string, RegExp]> = [
      [`${NEW_HEADER}\n0,0,0,nvml,g,1,2\n`, /line 2: expected 14 fields, found 7/],
      [`${OLD_HEADER}\n0,0,0,nvml,g,1,2,71,,,,,,\n`, /line 2: expected 7 fields, found 14/],
      [`${NEW_HEADER}\n0,0,0,nvml,g,1,2,hot,,,,,,\n`, /line 2: temperature_c is not a number/],
      [`${OLD_HEADER},temperature_c\n`, /line 1: expected header/],
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

  it('property: parse(write(samples)) gives back samples with extras exactly', () => {
    const num = fc.double({noNaN: true, noDefaultInfinity: true});
    const opt = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, {nil: undefined});
    const readArb = fc
      .record({
        meter: fc.string(),
        channel: fc.string(),
        energyJ: fc.option(num, {nil: null}),
        powerW: fc.option(num, {nil: null}),
        readStartMs: num,
        readEndMs: num,
        temperatureC: opt(num),
        smClockMhz: opt(fc.nat()),
        memoryUsedBytes: opt(fc.maxSafeNat()),
        clockEventReasons: opt(fc.nat({max: 0x1ff})),
        processes: opt(fc.nat()),
        foreignProcesses: opt(fc.nat()),
        error: opt(fc.string({minLength: 1})),
      })
      .map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as unknown as MeterRead);
    fc.assert(
      fc.property(fc.array(fc.record({scheduledMs: num, read: readArb}), {maxLength: 20}), (samples) => {
        // -0 writes as "0": compare by value.
        expect(parseTimelineCsv(timelineCsv(samples))).toEqual(samples.map((x) => JSON.parse(JSON.stringify(x)) as TimelineSample));
      }),
    );
  });

  describe('with reads from the nvml meter', () => {
    let fake: FakeNvml;
    beforeAll(() => {
      fake = compileFakeNvml();
    });
    afterAll(() => fake.cleanup());

    it('round-trips real reads, errors included', () => {
      fake.use({
        devices: [
          {uuid: 'GPU-a', powerW: 300, tempC: 66, clockReasons: 0x4, memUsed: 123_456_789, pids: [{pid: 1, usedBytes: 1}]},
          {uuid: 'GPU-b', noEnergyCounter: true, fails: [{fn: 'nvmlDeviceGetPowerUsage', code: 10}]},
        ],
      });
      const meter = createNvmlMeter({libraryPath: fake.libraryPath, uuids: ['GPU-a', 'GPU-b']});
      try {
        const t0Ns = monoNs();
        const samples = [0, 100].flatMap((scheduledMs) => meter.read(t0Ns).map((r) => ({scheduledMs, read: r})));
        const text = timelineCsv(samples);
        expect(text.split('\n')[0]).toBe(NEW_HEADER);
        // No extra is null in these reads (a failed power read nulls only powerW), so all come back.
        expect(parseTimelineCsv(text)).toStrictEqual(samples);
        const b = parseTimelineCsv(text)[1]!.read;
        expect(b).toMatchObject({channel: 'GPU-b', energyJ: null, powerW: null, error: 'nvmlDeviceGetPowerUsage: Timeout (NVML_ERROR_TIMEOUT)'});
      } finally {
        meter.close?.();
      }
    });
  });
});
