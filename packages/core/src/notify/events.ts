/**
 * The events a campaign announces to notifiers, built from what the campaign already knows: its
 * plan at the start, its report at the end. Pure; every text is formatted here once, so each
 * notifier only lays it out in its service's own format.
 */
import type {LemEvent} from '@lem/plugin-kit';
import type {CampaignReport} from '../campaign/results.js';
import type {CampaignPlan, CampaignStatus} from '../campaign/types.js';

/** How many failed runs an event lists by name; the rest are counted. */
export const LISTED_FAILURES = 10;

const ref = (plan: Pick<CampaignPlan, 'id' | 'name'>) => ({campaign: {id: plan.id, name: plan.name}});

/** `1.92 MJ`, `312 J`, `4.1 mJ`: three significant digits in the SI prefix that fits. */
export function formatJoules(j: number): string {
  const prefixes: Array<[number, string]> = [[1e9, 'G'], [1e6, 'M'], [1e3, 'k'], [1, ''], [1e-3, 'm'], [1e-6, 'µ']];
  const [scale, prefix] = prefixes.find(([s]) => Math.abs(j) >= s) ?? [1e-6, 'µ'];
  return `${Number((j / scale).toPrecision(3))} ${prefix}J`;
}

/** `2 h 05 min`, `4 min 10 s`, `12 s`. */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

function event(type: LemEvent['type'], rest: Omit<LemEvent, 'type' | 'at'>, at: Date): LemEvent {
  return {type, at: at.toISOString(), ...rest};
}

export function campaignStartEvent(plan: CampaignPlan, resumed: boolean, at = new Date()): LemEvent {
  const cycles = new Set(plan.runs.map((r) => r.cycle)).size;
  const gapsS = plan.runs.reduce((sum, r) => sum + r.gapBeforeS, 0);
  return event(
    'campaign:start',
    {
      title: `Campaign ${plan.name} ${resumed ? 'resumed' : 'started'}: ${plan.runs.length} runs`,
      level: 'info',
      fields: [
        {name: 'Configurations', value: String(plan.configurations.length)},
        {name: 'Runs', value: `${plan.runs.length} (${cycles} cycle${cycles === 1 ? '' : 's'})`},
        {name: 'Runner', value: plan.runner},
        {name: 'ETA', value: `${formatDuration(plan.etaS)} (the plan's estimate, gaps included)`},
      ],
      data: {...ref(plan), configurations: plan.configurations.length, runs: plan.runs.length, cycles, gapsS, resumed},
    },
    at,
  );
}

/** The configuration with the lowest mean energy per output token, with its 95 % CI. */
function bestField(report: CampaignReport): {name: string; value: string} | null {
  const name = report.summary.best.energyPerOutputTokenJ;
  const stats = report.summary.configurations.find((c) => c.name === name)?.metrics.energyPerOutputTokenJ;
  if (!name || !stats) return null;
  const ci = stats.ciLow !== null && stats.ciHigh !== null ? ` (95 % CI ${formatJoules(stats.ciLow)} to ${formatJoules(stats.ciHigh)}, n = ${stats.n})` : ` (n = ${stats.n})`;
  return {name: 'Best energy per output token', value: `${name}: ${formatJoules(stats.mean)}/token${ci}`};
}

function failureList(report: CampaignReport): LemEvent['list'] {
  if (report.failures.length === 0) return undefined;
  const items = report.failures.slice(0, LISTED_FAILURES).map((f) => `${f.configuration} cycle ${f.cycle}: ${f.code ?? f.category ?? 'failed'}${f.message ? ` — ${f.message}` : ''}`);
  return {title: 'Failed runs', items, total: report.failures.length};
}

const STATUS_TITLE: Record<CampaignStatus, string> = {
  completed: 'completed',
  stopped: 'stopped at the failure threshold',
  interrupted: 'interrupted',
  running: 'running',
  pending: 'pending',
};

/** The end of a campaign: `campaign:done`, or `campaign:interrupted` / `campaign:threshold` when it stopped early. */
export function campaignEndEvent(plan: CampaignPlan, report: CampaignReport, status: CampaignStatus, at = new Date()): LemEvent {
  const done = report.counts.completed ?? 0;
  const failed = report.counts.failed ?? 0;
  const type = status === 'interrupted' ? 'campaign:interrupted' : status === 'stopped' ? 'campaign:threshold' : 'campaign:done';
  const best = bestField(report);
  const list = failureList(report);
  return event(
    type,
    {
      title: `Campaign ${plan.name} ${STATUS_TITLE[status]}: ${done} of ${plan.runs.length} runs completed${failed ? `, ${failed} failed` : ''}`,
      level: status === 'completed' && failed === 0 ? 'success' : status === 'interrupted' || status === 'stopped' ? 'warning' : 'error',
      fields: [
        {name: 'Runs', value: `${done} completed, ${failed} failed, ${plan.runs.length - done - failed} not run`},
        {name: 'Energy', value: report.totalEnergyJ === null ? 'not measured' : formatJoules(report.totalEnergyJ)},
        {name: 'Time', value: report.wallTimeS === null ? '—' : formatDuration(report.wallTimeS)},
        ...(best ? [best] : []),
        ...(report.campaign.stopReason ? [{name: 'Reason', value: report.campaign.stopReason}] : []),
      ],
      ...(list ? {list} : {}),
      ...(status === 'interrupted' || status === 'stopped' ? {hint: `lem resume ${plan.id}`} : {}),
      data: {...ref(plan), status, counts: report.counts, totalEnergyJ: report.totalEnergyJ, wallTimeS: report.wallTimeS, best: report.summary.best.energyPerOutputTokenJ},
    },
    at,
  );
}

/** The failure threshold was crossed and the campaign paused to ask (or stopped). */
export function thresholdEvent(plan: CampaignPlan, t: {scope: string; failed: number; finished: number; ratio: number}, at = new Date()): LemEvent {
  return event(
    'campaign:threshold',
    {
      title: `Campaign ${plan.name} paused: ${t.failed} of ${t.finished} finished runs failed (${Math.round(t.ratio * 100)} %)`,
      level: 'warning',
      fields: [
        {name: 'Scope', value: t.scope},
        {name: 'Failed', value: `${t.failed} of ${t.finished}`},
      ],
      hint: `lem resume ${plan.id}`,
      data: {...ref(plan), ...t},
    },
    at,
  );
}

export function runFailedEvent(plan: CampaignPlan, run: {configuration: string; cycle: number; attempt: number; code: string | null; category: string | null; message: string | null}, at = new Date()): LemEvent {
  return event(
    'campaign:run-failed',
    {
      title: `Campaign ${plan.name}: run ${run.configuration} cycle ${run.cycle} failed (${run.code ?? run.category ?? 'failed'})`,
      level: 'error',
      fields: [
        {name: 'Configuration', value: run.configuration},
        {name: 'Cycle', value: String(run.cycle)},
        {name: 'Attempt', value: String(run.attempt)},
        ...(run.message ? [{name: 'Error', value: run.message}] : []),
      ],
      data: {...ref(plan), run},
    },
    at,
  );
}

export function cycleDoneEvent(plan: CampaignPlan, cycle: number, cycles: number, at = new Date()): LemEvent {
  return event('campaign:cycle-done', {title: `Campaign ${plan.name}: cycle ${cycle} of ${cycles} done`, level: 'info', fields: [{name: 'Cycle', value: `${cycle} of ${cycles}`}], data: {...ref(plan), cycle, cycles}}, at);
}
