import type {CampaignPlan} from '@lem/core';
import {duration} from './campaign-display.js';
import {bold, dim, formatValue, table, yellow} from './render.js';

/**
 * `lem campaign run --dry-run`: every run in order with its cycle, configuration and the gap
 * before it; the settings that vary; every effective setting with its source (the campaign's
 * own, then each configuration's); dropped points; and the ETA.
 */
export function renderPlan(plan: CampaignPlan, notes: string[]): string {
  const lines: string[] = [];
  lines.push(bold(`Campaign ${plan.name}`) + dim(`  (${plan.file})`));
  for (const note of notes) lines.push(yellow(`note: ${note}`));
  lines.push('', bold('Campaign settings'), table(['SETTING', 'VALUE', 'SOURCE'], plan.campaignSettings.map((s) => [s.key, formatValue(s.value), s.from])));
  lines.push(dim(`seed ${plan.seed} (${plan.seedSource})`));
  lines.push(`runner ${plan.runner}${plan.containerStrategy ? ` (containers: ${plan.containerStrategy})` : ''}`);
  lines.push('', bold(`Configurations (${plan.configurations.length})`));
  if (plan.varying.length > 0) {
    lines.push(table(['CONFIGURATION', ...plan.varying.map((k) => k.toUpperCase())], plan.configurations.map((c) => [c.name, ...plan.varying.map((k) => formatValue(c.varies[k]))])));
  } else lines.push(plan.configurations.map((c) => c.name).join('\n'));
  for (const c of plan.configurations.filter((x) => x.mergedFrom.length > 0)) lines.push(dim(`${c.name} also stands for ${c.mergedFrom.join('; ')} (identical settings)`));
  if (plan.dropped.length > 0) {
    lines.push('', yellow(`Dropped grid points (${plan.dropped.length})`));
    for (const d of plan.dropped) lines.push(`  ${d.point}\n    ${d.reasons.join('\n    ')}`);
  }
  lines.push('', bold('Runs'));
  const rows: string[][] = [];
  const reused = new Set(plan.configurations.filter((c) => c.serverReused).map((c) => c.name));
  for (const r of plan.runs) {
    if (r.gapBeforeS > 0) rows.push(['', dim(`gap ${duration(r.gapBeforeS)} (${r.gapKind === 'cycles' ? 'between cycles' : 'between experiments'})`), '', '', '']);
    const server = reused.has(r.configuration) ? 'reused' : r.keepServer ? 'fresh, kept' : 'fresh';
    rows.push([String(r.position), r.configuration, `${r.cycle}`, server, r.conditional ? 'if CI not reached' : '']);
  }
  lines.push(table(['#', 'CONFIGURATION', 'CYCLE', 'SERVER', ''], rows));
  lines.push('', `ETA ${duration(plan.etaS)} (gaps ${duration(plan.runs.reduce((s, r) => s + r.gapBeforeS, 0))} + runs by estimate)`);
  for (const c of plan.configurations) {
    lines.push('', bold(`Settings of ${c.name}`), table(['SETTING', 'VALUE', 'SOURCE'], c.settings.map((s) => [s.key, formatValue(s.value), s.from])));
  }
  lines.push(dim('\ndry run: nothing was started'));
  return lines.join('\n');
}
