import {describe, expect, it} from 'vitest';
import type {FailureCategory} from '../errors.js';
import {adaptiveCheck, etaS, headerAt, needsRun, retryDue, thresholdCrossed} from './decisions.js';
import {applyEvents, findEntry, initialManifest} from './manifest.js';
import type {CampaignPlan, CyclesSpec, JournalEvent, Manifest, ManifestEntry, PlannedRun} from './types.js';

/** A plan of `names` × `cycles`, interleaved, with the gaps given; only what the decisions read is real. */
function planOf(names: string[], cycles: number, options: {estimates?: number[]; gaps?: [number, number]; cyclesSpec?: CyclesSpec; threshold?: Partial<CampaignPlan['failureThreshold']>} = {}): CampaignPlan {
  const [betweenExperimentsS, betweenCyclesS] = options.gaps ?? [0, 0];
  const runs: PlannedRun[] = [];
  for (let cycle = 1; cycle <= cycles; cycle++) {
    names.forEach((configuration, i) => {
      const gapKind = runs.length === 0 ? 'none' : i === 0 ? 'cycles' : 'experiments';
      const gapBeforeS = gapKind === 'none' ? 0 : gapKind === 'cycles' ? betweenCyclesS : betweenExperimentsS;
      runs.push({key: `${configuration}#${cycle}`, configuration, cycle, position: runs.length + 1, gapBeforeS, gapKind, conditional: false, keepServer: false});
    });
  }
  return {
    schemaVersion: 1,
    id: 'd-20250101T000000Z',
    name: 'd',
    file: '/tmp/d.yaml',
    createdAt: '2025-01-01T00:00:00.000Z',
    cli: [],
    cycles: options.cyclesSpec ?? {kind: 'fixed', count: cycles},
    order: 'interleaved',
    seed: 1,
    seedSource: 'file',
    gaps: {betweenExperimentsS, betweenCyclesS, cooldown: {enabled: false, deltaC: 3, timeoutS: 600}},
    retry: {maxAttempts: 1},
    failureThreshold: {ratio: 0.5, scope: 'campaign', minFinished: 4, promptTimeoutS: 1800, ...options.threshold},
    runTimeoutS: 3600,
    runner: 'local',
    containerStrategy: null,
    resultsDir: '/tmp/results/d',
    configurations: names.map((name, i) => ({name, varies: {}, entry: null, point: {}, mergedFrom: [], backend: 'llamacpp', settings: [], settingsHash: name, estimateS: options.estimates?.[i] ?? 100, serverReused: false, launchKey: 'k'})),
    varying: [],
    dropped: [],
    runs,
    campaignSettings: [],
    environment: {lemVersion: '0', plugins: [], models: {}, datasets: {}, gpus: {uuids: [], driverVersion: null}},
    etaS: 0,
    hash: 'h',
  };
}

/** The manifest after `events`, journaled in order. */
function after(manifest: Manifest, events: JournalEvent[]): Manifest {
  return applyEvents(manifest, events.map((e, i) => ({...e, seq: manifest.journalSeq + i + 1, at: new Date(Date.UTC(2025, 0, 1, 0, 0, manifest.journalSeq + i + 1)).toISOString()})));
}

type Outcome = 'completed' | 'interrupted' | FailureCategory;

/** One attempt of run `key`: start, then its end (`completed`, `interrupted`, or a failure's category). */
function attempt(key: string, n: number, outcome: Outcome, durationS = 10): JournalEvent[] {
  const status = outcome === 'completed' || outcome === 'interrupted' ? outcome : 'failed';
  const category = outcome === 'completed' ? null : outcome;
  return [
    {type: 'run-start', key, attempt: n, resultPath: `${key}-t${n}`},
    {type: 'run-end', key, attempt: n, status, category, code: category ? `E_${category.toUpperCase()}` : null, message: null, resultPath: `${key}-t${n}`, durationS},
  ];
}

function runs(manifest: Manifest, outcomes: Record<string, Outcome | Outcome[]>): Manifest {
  const events = Object.entries(outcomes).flatMap(([key, o]) => (Array.isArray(o) ? o : [o]).flatMap((outcome, i) => attempt(key, i + 1, outcome)));
  return after(manifest, events);
}

const entry = (manifest: Manifest, key: string): ManifestEntry => findEntry(manifest, key)!;

describe('thresholdCrossed', () => {
  const plan = planOf(['a', 'b', 'c'], 3);

  it('waits for min_finished, then compares failed ÷ finished with the ratio (crossed only above it)', () => {
    let m = runs(initialManifest(plan), {'a#1': 'runtime', 'b#1': 'runtime', 'c#1': 'completed'});
    expect(thresholdCrossed(plan, m, entry(m, 'c#1'))).toBeNull(); // 3 finished < 4
    m = runs(m, {'a#2': 'completed'});
    expect(thresholdCrossed(plan, m, entry(m, 'a#2'))).toBeNull(); // 2 of 4 = 0.5, not above
    m = runs(m, {'b#2': 'resource'});
    expect(thresholdCrossed(plan, m, entry(m, 'b#2'))).toEqual({scope: 'campaign', failed: 3, finished: 5, ratio: 0.6});
  });

  it('counts only final outcomes: interruptions are not finished, a retry that completed is not a failure', () => {
    const m = runs(initialManifest(plan), {'a#1': ['runtime', 'completed'], 'b#1': 'runtime', 'c#1': 'interrupted', 'a#2': 'runtime', 'b#2': 'interrupted', 'c#2': 'completed'});
    expect(entry(m, 'a#1').status).toBe('completed');
    // 2 failed of 4 finished (a#1 and c#2 completed): not above 0.5.
    expect(thresholdCrossed(plan, m, entry(m, 'c#2'))).toBeNull();
    const worse = runs(m, {'c#3': 'config'});
    expect(thresholdCrossed(plan, worse, entry(worse, 'c#3'))).toEqual({scope: 'campaign', failed: 3, finished: 5, ratio: 0.6});
  });

  it('is disarmed for a scope once the user chose to continue', () => {
    let m = runs(initialManifest(plan), {'a#1': 'runtime', 'b#1': 'runtime', 'c#1': 'runtime', 'a#2': 'completed'});
    expect(thresholdCrossed(plan, m, entry(m, 'a#2'))?.scope).toBe('campaign');
    m = after(m, [{type: 'threshold', scope: 'campaign', failed: 3, finished: 4, decision: 'continue'}]);
    expect(thresholdCrossed(plan, m, entry(m, 'a#2'))).toBeNull();
  });

  it('per_cycle: counts the entry\'s cycle only, and disarming one cycle leaves the others armed', () => {
    const perCycle = planOf(['a', 'b', 'c', 'd', 'e'], 2, {threshold: {scope: 'per_cycle', minFinished: 2}});
    let m = runs(initialManifest(perCycle), {'a#1': 'runtime', 'b#1': 'runtime', 'c#1': 'completed', 'a#2': 'completed', 'b#2': 'runtime'});
    expect(thresholdCrossed(perCycle, m, entry(m, 'c#1'))).toEqual({scope: 'cycle:1', failed: 2, finished: 3, ratio: 2 / 3});
    expect(thresholdCrossed(perCycle, m, entry(m, 'b#2'))).toBeNull(); // 1 of 2 in cycle 2
    m = runs(m, {'c#2': 'resource'});
    expect(thresholdCrossed(perCycle, m, entry(m, 'c#2'))).toEqual({scope: 'cycle:2', failed: 2, finished: 3, ratio: 2 / 3});
    m = after(m, [{type: 'threshold', scope: 'cycle:1', failed: 2, finished: 3, decision: 'continue'}]);
    expect(thresholdCrossed(perCycle, m, entry(m, 'c#1'))).toBeNull();
    expect(thresholdCrossed(perCycle, m, entry(m, 'c#2'))?.scope).toBe('cycle:2');
  });

  it('takes min_finished from the plan', () => {
    const eager = planOf(['a', 'b'], 2, {threshold: {minFinished: 1, ratio: 0}});
    const m = runs(initialManifest(eager), {'a#1': 'runtime'});
    expect(thresholdCrossed(eager, m, entry(m, 'a#1'))).toEqual({scope: 'campaign', failed: 1, finished: 1, ratio: 1});
  });
});

describe('retryDue and needsRun', () => {
  const plan = planOf(['a'], 1);
  const fresh = initialManifest(plan);

  it('retries runtime and resource failures up to max_attempts more times, never config ones', () => {
    const once = runs(fresh, {'a#1': 'runtime'});
    expect(entry(once, 'a#1').attempts).toBe(1);
    expect(retryDue(entry(once, 'a#1'), 1)).toBe(true);
    expect(retryDue(entry(once, 'a#1'), 0)).toBe(false);
    const twice = runs(fresh, {'a#1': ['runtime', 'resource']});
    expect(entry(twice, 'a#1').attempts).toBe(2);
    expect(retryDue(entry(twice, 'a#1'), 1)).toBe(false);
    expect(retryDue(entry(twice, 'a#1'), 2)).toBe(true);
    expect(retryDue(entry(runs(fresh, {'a#1': 'resource'}), 'a#1'), 1)).toBe(true);
    expect(retryDue(entry(runs(fresh, {'a#1': 'config'}), 'a#1'), 5)).toBe(false);
    expect(retryDue(entry(runs(fresh, {'a#1': 'completed'}), 'a#1'), 5)).toBe(false);
  });

  it('does not count interruptions as attempts', () => {
    const m = runs(fresh, {'a#1': ['interrupted', 'interrupted', 'runtime']});
    expect(entry(m, 'a#1').attempts).toBe(1);
    expect(retryDue(entry(m, 'a#1'), 1)).toBe(true);
    expect(retryDue(entry(runs(fresh, {'a#1': 'interrupted'}), 'a#1'), 1)).toBe(false);
  });

  it('runs pending, interrupted and left-running entries, and failed ones unless the failure is config or retrying is off', () => {
    const started = after(fresh, [{type: 'run-start', key: 'a#1', attempt: 1, resultPath: 'x'}]);
    expect(needsRun(entry(fresh, 'a#1'), false)).toBe(true);
    expect(needsRun(entry(started, 'a#1'), false)).toBe(true);
    expect(needsRun(entry(runs(fresh, {'a#1': 'interrupted'}), 'a#1'), false)).toBe(true);
    expect(needsRun(entry(runs(fresh, {'a#1': 'runtime'}), 'a#1'), true)).toBe(true);
    expect(needsRun(entry(runs(fresh, {'a#1': 'runtime'}), 'a#1'), false)).toBe(false);
    expect(needsRun(entry(runs(fresh, {'a#1': 'config'}), 'a#1'), true)).toBe(false);
    expect(needsRun(entry(runs(fresh, {'a#1': 'completed'}), 'a#1'), true)).toBe(false);
    expect(needsRun(entry(after(fresh, [{type: 'skip', keys: ['a#1'], reason: 'r'}]), 'a#1'), true)).toBe(false);
  });
});

describe('adaptiveCheck', () => {
  const plan = planOf(['a', 'b'], 4, {cyclesSpec: {kind: 'adaptive', min: 2, max: 4, targetCiPct: 5, metric: 'energyPerOutputTokenJ'}});
  const values: Record<string, number> = {'a#1': 10, 'a#2': 10.01, 'b#1': 10, 'b#2': 12, 'a#3': 10, 'b#3': 12, 'a#4': 10.01, 'b#4': 12};
  const metricOf = (e: ManifestEntry) => values[e.key] ?? null;
  const done = (m: Manifest, keys: string[]) => runs(m, Object.fromEntries(keys.map((k) => [k, 'completed' as const])));

  it('says nothing before min cycles, nor while a cycle up to the one asked is unsettled', () => {
    const m = done(initialManifest(plan), ['a#1', 'b#1', 'a#2']);
    expect(adaptiveCheck(plan, m, 1, metricOf)).toBeNull();
    expect(adaptiveCheck(plan, m, 2, metricOf)).toBeNull();
    expect(adaptiveCheck(planOf(['a', 'b'], 2), done(m, ['b#2']), 2, metricOf)).toBeNull(); // fixed cycles
  });

  it('reports each configuration\'s CI half-width against the target, done only when all reach it', () => {
    const m = done(initialManifest(plan), ['a#1', 'b#1', 'a#2', 'b#2']);
    const check = adaptiveCheck(plan, m, 2, metricOf)!;
    expect(check.done).toBe(false);
    expect(check.configurations.a).toMatchObject({reached: true, atCycle: 2});
    expect(check.configurations.a!.halfWidthPct).toBeCloseTo((12.706 * 0.005 / 10.005) * 100, 1);
    expect(check.configurations.b).toMatchObject({reached: false, atCycle: null});
    expect(check.configurations.b!.halfWidthPct).toBeGreaterThan(100);
  });

  it('is done at max cycles whatever the width, keeping the cycle at which a configuration first reached the target', () => {
    let m = done(initialManifest(plan), ['a#1', 'b#1', 'a#2', 'b#2']);
    m = after(m, [{type: 'adaptive', cycle: 2, configurations: adaptiveCheck(plan, m, 2, metricOf)!.configurations}]);
    m = done(m, ['a#3', 'b#3', 'a#4', 'b#4']);
    const check = adaptiveCheck(plan, m, 4, metricOf)!;
    expect(check.done).toBe(true);
    expect(check.configurations.a).toMatchObject({reached: true, atCycle: 2});
    expect(check.configurations.b!.reached).toBe(false);
  });

  it('counts failed and skipped entries as settled but leaves them out of the interval', () => {
    const m = runs(initialManifest(plan), {'a#1': 'completed', 'b#1': 'completed', 'a#2': 'completed', 'b#2': 'runtime'});
    const check = adaptiveCheck(plan, m, 2, metricOf)!;
    expect(check.configurations.b).toEqual({reached: false, atCycle: null, halfWidthPct: null});
  });
});

describe('etaS and headerAt', () => {
  // a (estimate 100 s) and b (200 s), 2 cycles: a#1, b#1 (+5 s), a#2 (+50 s), b#2 (+5 s).
  const plan = planOf(['a', 'b'], 2, {estimates: [100, 200], gaps: [5, 50]});
  const fresh = initialManifest(plan);
  const ended = (m: Manifest, key: string, status: 'completed' | 'runtime', durationS: number) => after(m, attempt(key, 1, status, durationS));

  it('uses the plan\'s estimates before any run has finished', () => {
    expect(etaS(plan, fresh, 1)).toBe(0 + 100 + 5 + 200 + 50 + 100 + 5 + 200);
  });

  it('uses the mean duration of the completed runs of the configuration, else of all completed runs', () => {
    const m = ended(fresh, 'a#1', 'completed', 10);
    // b has none yet: all completed runs' mean (10).
    expect(etaS(plan, m, 2)).toBe(5 + 10 + 50 + 10 + 5 + 10);
    const both = ended(m, 'b#1', 'completed', 30);
    expect(etaS(plan, both, 3)).toBe(50 + 10 + 5 + 30);
    const slower = ended(ended(fresh, 'a#1', 'completed', 10), 'a#2', 'completed', 20);
    expect(etaS(plan, slower, 2)).toBe(5 + 15 + 5 + 15);
  });

  it('leaves out completed and skipped runs and those before the position, keeps failed ones', () => {
    let m = ended(fresh, 'a#1', 'completed', 10);
    m = ended(m, 'b#1', 'runtime', 99);
    m = after(m, [{type: 'skip', keys: ['b#2'], reason: 'adaptive'}]);
    expect(etaS(plan, m, 1)).toBe(5 + 10 + 50 + 10);
    expect(etaS(plan, m, 3)).toBe(50 + 10);
  });

  it('puts a header at the first run and at each cycle change (grouped: each configuration change)', () => {
    const [a1, b1, a2] = plan.runs;
    expect(headerAt(plan, a1!, null)).toBe(true);
    expect(headerAt(plan, b1!, a1!)).toBe(false);
    expect(headerAt(plan, a2!, b1!)).toBe(true);
    const grouped = {...plan, order: 'grouped' as const};
    expect(headerAt(grouped, a2!, a1!)).toBe(false);
    expect(headerAt(grouped, b1!, a2!)).toBe(true);
  });
});
