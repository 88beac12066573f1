import {describe, expect, it} from 'vitest';
import type {ResolvedExperiment} from '../config/resolve.js';
import {launchKey, planReuse} from './reuse.js';

/** A resolved configuration with just what the reuse decision reads. */
function conf(name: string, over: {concurrency?: number; threads?: number; reuse?: boolean} = {}): [string, ResolvedExperiment] {
  const settings = {name, backend: 'llamacpp', model: '/m.gguf', gpus: [], runner: 'local', docker: {strategy: 'ephemeral'}, reuse_server: over.reuse ?? true, workload: {concurrency: over.concurrency ?? 1}};
  return [name, {settings, backendConfig: {threads: over.threads ?? 1}, backend: {}} as unknown as ResolvedExperiment];
}
const runs = (names: string[]) => names.map((configuration, i) => ({key: `${configuration}#${i}`, configuration}));

describe('server reuse, decided at plan time', () => {
  it('the launch key ignores the workload and sees the backend settings', () => {
    expect(launchKey(conf('a', {concurrency: 1})[1])).toBe(launchKey(conf('b', {concurrency: 8})[1]));
    expect(launchKey(conf('a', {threads: 1})[1])).not.toBe(launchKey(conf('b', {threads: 2})[1]));
  });

  it('a configuration reuses only when its predecessor is an identical launch in every cycle', () => {
    const resolved = new Map([conf('a'), conf('b', {concurrency: 2})]);
    // Interleaved over 2 cycles: a b a b. b follows a each time; a follows nothing, then b.
    const plan = planReuse(runs(['a', 'b', 'a', 'b']), resolved);
    expect([...plan.reusing]).toEqual(['b']);
    expect([...plan.keeping].sort()).toEqual(['a#0', 'a#2']);
  });

  it('one cycle whose predecessor differs makes the whole configuration fresh, so its CI never mixes', () => {
    const resolved = new Map([conf('a'), conf('b', {concurrency: 2}), conf('c', {threads: 4})]);
    // b follows a in cycle 1 but c in cycle 2: b is fresh everywhere.
    const plan = planReuse(runs(['a', 'b', 'c', 'b', 'a']), resolved);
    expect(plan.reusing.has('b')).toBe(false);
    expect([...plan.keeping]).toEqual([]);
  });

  it('reuse_server false keeps every server fresh', () => {
    const resolved = new Map([conf('a', {reuse: false}), conf('b', {concurrency: 2, reuse: false})]);
    const {reusing, keeping} = planReuse(runs(['a', 'b', 'a', 'b']), resolved);
    expect({reusing, keeping}).toEqual({reusing: new Set(), keeping: new Set()});
  });
});
