import {describe, expect, it} from 'vitest';
import {parseYamlText} from '../config/yaml-file.js';
import {describePoint, pointData, pointFile, sweepPoints, type SweepKeys, type SweepPoint} from './sweep.js';
import {codedErrorOf as thrown} from '../__fixtures__/coded-error.js';

const BACKENDS = new Set(['llamacpp', 'handmade']);
const keys: SweepKeys = {
  isSetting: (first) => BACKENDS.has(first) || ['workload', 'measure', 'model', 'dataset', 'backend'].includes(first),
  known: ['workload', 'measure', 'model', 'dataset', 'backend', 'llamacpp', 'handmade'],
  problem: (key) => (key === 'workload.concurency' ? 'unknown key "concurency"' : null),
};

function sweepOf(text: string): {file: ReturnType<typeof parseYamlText>; points: SweepPoint[]} {
  const file = parseYamlText(text, 'c.yaml');
  return {file, points: sweepPoints((file.data as {sweep?: Record<string, unknown[]>}).sweep, keys, file)};
}

describe('sweepPoints', () => {
  it('is one empty point without a sweep', () => {
    expect(sweepOf('name: x\n').points).toEqual([{assignments: []}]);
    expect(sweepOf('name: x\nsweep: {}\n').points).toEqual([{assignments: []}]);
  });

  it('crosses the axes with the first key slowest, each value located where the file writes it', () => {
    const {points} = sweepOf('sweep:\n  workload.concurrency: [1, 2]\n  llamacpp.parallel: [1, 4, 8]\n');
    expect(points.map(describePoint)).toEqual([
      'workload.concurrency=1, llamacpp.parallel=1',
      'workload.concurrency=1, llamacpp.parallel=4',
      'workload.concurrency=1, llamacpp.parallel=8',
      'workload.concurrency=2, llamacpp.parallel=1',
      'workload.concurrency=2, llamacpp.parallel=4',
      'workload.concurrency=2, llamacpp.parallel=8',
    ]);
    expect(points[5]!.assignments.map((a) => a.at)).toEqual([
      ['sweep', 'workload.concurrency', 1],
      ['sweep', 'llamacpp.parallel', 2],
    ]);
  });

  it('unions the alternatives of a group (each may set several keys) and crosses them with the axes', () => {
    const {points} = sweepOf('sweep:\n  precision:\n    - {}\n    - {llamacpp.model_path: q8.gguf, llamacpp.flash_attention: true}\n  workload.concurrency: [1, 4]\n');
    expect(points.map(describePoint)).toEqual([
      'workload.concurrency=1',
      'workload.concurrency=4',
      'llamacpp.model_path=q8.gguf, llamacpp.flash_attention=true, workload.concurrency=1',
      'llamacpp.model_path=q8.gguf, llamacpp.flash_attention=true, workload.concurrency=4',
    ]);
    expect(points[2]!.assignments[0]!.at).toEqual(['sweep', 'precision', 1, 'llamacpp.model_path']);
  });

  it('collects every bad key, each located at the key, with suggestions', () => {
    const e = thrown(() => sweepOf('sweep:\n  workloads.concurrency: [1]\n  workload.concurency: [2]\n  g:\n    - {measur.baseline_s: 1}\n  quant: [a, b]\n'));
    expect(e.code).toBe('E_CONFIG_INVALID');
    expect(e.message).toBe('c.yaml: the sweep has 4 errors');
    expect(e.details).toEqual([
      {path: 'sweep.workloads.concurrency', message: expect.stringContaining('"workloads" is not a setting (did you mean "workload"?)'), location: {file: 'c.yaml', line: 2, col: 3}},
      {path: 'sweep.workload.concurency', message: 'unknown key "concurency"', location: {file: 'c.yaml', line: 3, col: 3}},
      {path: 'sweep.g[0].measur.baseline_s', message: expect.stringContaining('"measur" is not a setting (did you mean "measure"?)'), location: {file: 'c.yaml', line: 5, col: 8}},
      {path: 'sweep.quant', message: expect.stringContaining('"quant" is not a setting'), location: {file: 'c.yaml', line: 6, col: 3}},
    ]);
  });
});

describe('pointData', () => {
  const [point] = sweepOf('sweep:\n  g:\n    - {workload.concurrency: 2, llamacpp.parallel: 3, handmade.size: 4}\n').points;

  it('nests the dotted keys, leaving out the sections of other backends', () => {
    expect(pointData(point!, 'llamacpp', BACKENDS)).toEqual({data: {workload: {concurrency: 2}, llamacpp: {parallel: 3}}, ignored: ['handmade.size']});
    expect(pointData(point!, 'handmade', BACKENDS)).toEqual({data: {workload: {concurrency: 2}, handmade: {size: 4}}, ignored: ['llamacpp.parallel']});
  });

  it('locates each key of the layer at the sweep value that set it, or at the sweep when none did', () => {
    const text = 'name: x\nsweep:\n  workload.concurrency: [1, 2]\n  g:\n    - {llamacpp.parallel: 3}\n';
    const {file, points} = sweepOf(text);
    const layer = pointFile(points[1]!, file, pointData(points[1]!, 'llamacpp', BACKENDS).data);
    expect(layer.locate(['workload', 'concurrency'])).toEqual({file: 'c.yaml', line: 3, col: 29});
    expect(layer.locate(['llamacpp', 'parallel'])).toEqual({file: 'c.yaml', line: 5, col: 27});
    expect(layer.locate(['llamacpp'])).toEqual({file: 'c.yaml', line: 5, col: 27});
    expect(layer.locate(['measure', 'baseline_s'])).toEqual({file: 'c.yaml', line: 3, col: 3});
  });
});
