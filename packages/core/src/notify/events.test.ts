import {describe, expect, it} from 'vitest';
import type {CampaignReport} from '../campaign/results.js';
import type {CampaignPlan} from '../campaign/types.js';
import {campaignEndEvent, campaignStartEvent, formatDuration, formatJoules, LISTED_FAILURES, thresholdEvent} from './events.js';

const plan = {
  id: '20261203T100000Z-sweep',
  name: 'sweep',
  runner: 'docker',
  etaS: 1230,
  configurations: [{name: 'a'}, {name: 'b'}],
  runs: [1, 1, 2, 2, 3, 3].map((cycle, i) => ({cycle, gapBeforeS: i === 0 ? 0 : 60})),
} as unknown as CampaignPlan;

const stats = (mean: number, ciLow: number | null, ciHigh: number | null, n = 3) => ({n, mean, std: 0.01, cv: 0.02, ciLow, ciHigh, halfWidth: 0.01, min: mean, max: mean});

function report(failures: number): CampaignReport {
  return {
    campaign: {id: plan.id, name: plan.name, planHash: 'h', status: 'completed', stopReason: null},
    counts: {completed: 6 - Math.min(failures, 6), ...(failures ? {failed: Math.min(failures, 6)} : {})},
    totalEnergyJ: 1_920_000,
    runTimeS: 4000,
    wallTimeS: 7530,
    summary: {
      configurations: [
        {name: 'a', metrics: {energyPerOutputTokenJ: stats(0.52, 0.5, 0.54)}},
        {name: 'b', metrics: {energyPerOutputTokenJ: stats(0.412, 0.401, 0.423)}},
      ],
      comparisons: [],
      best: {energyPerOutputTokenJ: 'b'},
    },
    failures: Array.from({length: failures}, (_, i) => ({key: `a#${i}`, configuration: 'a', cycle: i + 1, category: 'resource', code: 'E_SERVER_OOM', message: 'CUDA out of memory', runDir: null, serverLog: null})),
    adaptive: {},
    envChanges: [],
  } as unknown as CampaignReport;
}

describe('campaign events', () => {
  it('formats energy and time for people', () => {
    expect([formatJoules(1_920_000), formatJoules(312), formatJoules(0.412), formatJoules(0.0041)]).toEqual(['1.92 MJ', '312 J', '412 mJ', '4.1 mJ']);
    expect([formatDuration(12), formatDuration(250), formatDuration(7530)]).toEqual(['12 s', '4 min 10 s', '2 h 05 min']);
  });

  it('announces the start with the plan size', () => {
    const e = campaignStartEvent(plan, false, new Date('2026-12-03T10:00:00Z'));
    expect(e).toMatchObject({type: 'campaign:start', at: '2026-12-03T10:00:00.000Z', title: 'Campaign sweep started: 6 runs', level: 'info'});
    expect(e.fields).toEqual([
      {name: 'Configurations', value: '2'},
      {name: 'Runs', value: '6 (3 cycles)'},
      {name: 'Runner', value: 'docker'},
      {name: 'ETA', value: "20 min 30 s (the plan's estimate, gaps included)"},
    ]);
  });

  it('ends with the counts, energy, time and the best configuration by energy per output token with its CI', () => {
    const e = campaignEndEvent(plan, report(0), 'completed');
    expect(e).toMatchObject({type: 'campaign:done', level: 'success', title: 'Campaign sweep completed: 6 of 6 runs completed'});
    expect(e.fields).toEqual([
      {name: 'Runs', value: '6 completed, 0 failed, 0 not run'},
      {name: 'Energy', value: '1.92 MJ'},
      {name: 'Time', value: '2 h 05 min'},
      {name: 'Best energy per output token', value: 'b: 412 mJ/token (95 % CI 401 mJ to 423 mJ, n = 3)'},
    ]);
    expect(e.list).toBeUndefined();
    expect(e.hint).toBeUndefined();
  });

  it('lists the first failures by name and counts them all; an interruption says how to resume', () => {
    const e = campaignEndEvent(plan, report(14), 'interrupted');
    expect(e).toMatchObject({type: 'campaign:interrupted', level: 'warning', hint: 'lem resume 20261203T100000Z-sweep'});
    expect(e.list!.items).toHaveLength(LISTED_FAILURES);
    expect(e.list).toMatchObject({title: 'Failed runs', total: 14});
    expect(e.list!.items[0]).toBe('a cycle 1: E_SERVER_OOM — CUDA out of memory');
    expect(campaignEndEvent(plan, report(2), 'stopped').type).toBe('campaign:threshold');
  });

  it('says a pause at the threshold with the ratio', () => {
    expect(thresholdEvent(plan, {scope: 'campaign', failed: 3, finished: 4, ratio: 0.75})).toMatchObject({type: 'campaign:threshold', title: 'Campaign sweep paused: 3 of 4 finished runs failed (75 %)', level: 'warning'});
  });
});
