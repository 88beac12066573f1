import {jobScriptPath, jobSubmission, shellWord, type CampaignPlan} from '@lem/core';
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

/** Under slurm, the dry run's job scripts: each cycle's sbatch command line and script, exactly as they would be submitted. */
export function renderJobs(plan: CampaignPlan, stateDir: string, projectRoot: string): string {
  const s = plan.slurm!;
  const lines = ['', bold(`Slurm jobs (${new Set(plan.runs.map((r) => r.cycle)).size}, one per cycle; at most ${s.maxConcurrent} at once)`)];
  const cycles = [...new Set(plan.runs.map((r) => r.cycle))];
  for (const [i, cycle] of cycles.entries()) {
    const keys = plan.runs.filter((r) => r.cycle === cycle).map((r) => r.key);
    const job = jobSubmission({plan, cycle, keys, stateDir, projectRoot});
    const after = i >= s.maxConcurrent ? [`--dependency=afterany:<job of cycle ${cycles[i - s.maxConcurrent]}>`] : [];
    lines.push('', `sbatch --parsable ${[...job.args, ...after].map((a) => (a.startsWith('--dependency=afterany:<') ? a : shellWord(a))).join(' ')} ${jobScriptPath(stateDir, cycle, 1)}`);
    lines.push(...job.script.trimEnd().split('\n').map((l) => `  ${l}`));
  }
  lines.push(dim('\nEach job runs its cycle on one node in plan order, with the gaps between its runs; a job on a node where a lem job ended less than between_cycles_s ago waits out the rest first.'));
  return lines.join('\n');
}
