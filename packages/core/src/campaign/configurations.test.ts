import {createHash} from 'node:crypto';
import fc from 'fast-check';
import stableStringify from 'fast-json-stable-stringify';
import {afterEach, describe, expect, it} from 'vitest';
import type {ResolvedExperiment, Setting} from '../config/resolve.js';
import {project, settingOf, type Project} from './__fixtures__/planning.js';
import {hashSettings, isMeasured, varyingKeys} from './configurations.js';

let p: Project;
afterEach(() => p?.remove());

const KEYS = ['model', 'workload.concurrency', 'workload.api', 'llamacpp.parallel', 'gpus', 'name', 'description', 'gaps.between_cycles_s', 'results_dir', 'measure.meters', 'a.b.c'];
const value = fc.oneof(fc.integer(), fc.double(), fc.constant(-0), fc.string(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.array(fc.oneof(fc.integer(), fc.string())), fc.dictionary(fc.string(), fc.integer()));
const settings = fc.array(fc.record({key: fc.constantFrom(...KEYS), value}), {maxLength: 12}).map((list) => list.map((s): Setting => ({...s, source: {kind: 'default'}})));

/** What the hash is defined as: sha256 of the measured values, keys sorted (the last of a repeated key wins). */
function referenceHash(sources: readonly Setting[]): string {
  const values: Record<string, unknown> = {};
  for (const s of sources) if (isMeasured(s.key)) values[s.key] = s.value;
  return createHash('sha256').update(stableStringify(values)).digest('hex');
}

/** The measured keys whose values differ between configurations, by a plain reading of the definition. */
function referenceVarying(resolved: ResolvedExperiment[]): string[] {
  if (resolved.length < 2) return [];
  const order: string[] = [];
  const texts = resolved.map((r) => new Map(r.sources.filter((s) => isMeasured(s.key)).map((s) => [s.key, JSON.stringify(s.value)])));
  for (const t of texts) for (const key of t.keys()) if (!order.includes(key)) order.push(key);
  return order.filter((key) => texts.some((t) => t.has(key) !== texts[0]!.has(key) || t.get(key) !== texts[0]!.get(key)));
}

describe('hashSettings', () => {
  it('is sha256 of the measured settings with keys sorted, whatever their order', () => {
    fc.assert(
      fc.property(settings, (list) => {
        expect(hashSettings(list)).toBe(referenceHash(list));
        const reversed = [...list].reverse();
        if (new Set(list.map((s) => s.key)).size === list.length) expect(hashSettings(reversed)).toBe(hashSettings(list));
      }),
      {numRuns: 300},
    );
  });

  it('ignores the settings that do not change what is measured', () => {
    const base: Setting[] = [{key: 'workload.concurrency', value: 2, source: {kind: 'default'}}];
    const named = [...base, {key: 'name', value: 'x', source: {kind: 'default'}}, {key: 'gaps.between_cycles_s', value: 9, source: {kind: 'default'}}] as Setting[];
    expect(hashSettings(named)).toBe(hashSettings(base));
    expect(hashSettings([{...base[0]!, value: 3}])).not.toBe(hashSettings(base));
  });
});

describe('varyingKeys', () => {
  const asResolved = (sources: Setting[]) => ({sources}) as unknown as ResolvedExperiment;

  it('finds the measured keys whose values differ, or that some configurations lack, in first-seen order', () => {
    fc.assert(
      fc.property(fc.array(settings, {minLength: 0, maxLength: 5}), (lists) => {
        // Unique keys per configuration, as resolved settings have; some objects shared between them.
        const shared = new Map<string, Setting>();
        const resolved = lists.map((list) => asResolved([...new Map(list.map((s) => [s.key, shared.get(`${s.key}=${JSON.stringify(s.value)}`) ?? (shared.set(`${s.key}=${JSON.stringify(s.value)}`, s), s)])).values()]));
        expect(varyingKeys(resolved)).toEqual(referenceVarying(resolved));
      }),
      {numRuns: 300},
    );
  });
});

describe('settings in a plan', () => {
  it('shows a secret from the environment redacted while the run gets the value', async () => {
    p = project({'c.yaml': 'name: s\nmodel: m.gguf\ndescription: "key ${LEM_TEST_KEY} here"\nsweep:\n  workload.concurrency: [1, 2]\n'});
    const {plan, resolved} = await p.plan('c.yaml', {env: {LEM_TEST_KEY: 'sekrit-value'}});
    for (const c of plan.configurations) expect(settingOf(c, 'description').value).toBe('key ${LEM_TEST_KEY} here');
    expect(JSON.stringify(plan)).not.toContain('sekrit-value');
    expect([...resolved.values()].map((r) => r.settings.description)).toEqual(['key sekrit-value here', 'key sekrit-value here']);
  });

  it('keeps each configuration\'s own values and sources apart though they share the common ones', async () => {
    p = project({'c.yaml': 'name: s\nmodel: m.gguf\nsweep:\n  workload.concurrency: [1, 2, 3]\n  workload.max_output_tokens: [8, 9]\n'});
    const {plan, resolved} = await p.plan('c.yaml');
    expect(plan.configurations.map((c) => [settingOf(c, 'workload.concurrency').value, settingOf(c, 'workload.max_output_tokens').value])).toEqual([[1, 8], [1, 9], [2, 8], [2, 9], [3, 8], [3, 9]]);
    expect(plan.configurations.map((c) => settingOf(c, 'workload.max_output_tokens').from)).toEqual(['c.yaml:5:32', 'c.yaml:5:35', 'c.yaml:5:32', 'c.yaml:5:35', 'c.yaml:5:32', 'c.yaml:5:35']);
    for (const c of plan.configurations) expect(resolved.get(c.name)!.settings.workload.concurrency).toBe(c.point['workload.concurrency']);
    // A plan of another file resolves its own sources, not the ones a previous plan located.
    p.write('d.yaml', 'name: s\n\nmodel: m.gguf\nsweep:\n\n  workload.max_output_tokens: [8]\n');
    expect(settingOf((await p.plan('d.yaml')).plan.configurations[0], 'workload.max_output_tokens').from).toBe('d.yaml:6:32');
    expect(settingOf((await p.plan('d.yaml')).plan.configurations[0], 'model').from).toBe('d.yaml:3:8');
  });
});
