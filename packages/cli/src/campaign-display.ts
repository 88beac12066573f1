import type {CampaignEvent, CampaignPlan, CampaignReport, CampaignContext, JobRecord} from '@lem/core';
import {PhaseDisplay} from './phase-display.js';
import {bold, dim, green, red, table, yellow} from './render.js';

export type DisplayMode = 'tty' | 'plain' | 'quiet';

/** `1h 02m`, `4m 05s`, `12s`; under a second, `0.3s` (a short test gap is not `0s`). */
export function duration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '—';
  if (seconds > 0 && seconds < 0.95) return `${seconds.toFixed(1)}s`;
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/**
 * Draws a campaign from core's events: a header per cycle (per configuration in `grouped`
 * order), a line per run with the campaign and its place in it, the run's phases (Listr2 on a
 * TTY, plain lines without one), a countdown in gaps, and a red mark with the category for a
 * failure. `quiet` draws nothing (everything is in campaign.log).
 */
export class CampaignDisplay {
  private phases: PhaseDisplay | null = null;
  private shown: Promise<void> = Promise.resolve();
  /**
   * Events are drawn one after the other: a run's end waits for its phases to be drawn, and
   * what follows (the retry's line, the threshold) must not overtake it.
   */
  private queue: Promise<void> = Promise.resolve();
  private countdown: NodeJS.Timeout | null = null;
  /** The running run's warnings, by code and message: drawn once each when it ends. */
  private warnings = new Map<string, string>();
  /** Runs in the plan, for `run p/N` lines. */
  private runs = 0;

  constructor(
    private readonly mode: DisplayMode,
    private readonly out: (line: string) => void,
    private readonly verbose: boolean,
  ) {}

  handle(event: CampaignEvent): void {
    if (this.mode === 'quiet') return;
    this.queue = this.queue.then(() => this.draw(event)).catch(() => undefined);
  }

  private draw(event: CampaignEvent): void | Promise<void> {
    switch (event.type) {
      case 'campaign-start':
        return this.start(event);
      case 'cycle':
        this.out(bold(event.configuration ? `\n=== Configuration ${event.configuration} ===` : `\n=== Cycle ${event.cycle} of ${event.cycles} ===`));
        return;
      case 'gap':
        return this.gap(event);
      case 'run-start':
        this.stopCountdown();
        this.out(runLine(event.context, event.run.configuration, event.etaS));
        this.warnings.clear();
        this.phases = new PhaseDisplay({quiet: false, verbose: this.verbose, tty: this.mode === 'tty'});
        this.shown = this.phases.start();
        return;
      case 'experiment':
        if (event.event.type === 'warning') this.warnings.set(`${event.event.warning.code}\n${event.event.warning.message}`, `warning ${event.event.warning.code}: ${event.event.warning.message}`);
        else this.phases?.handle(event.event);
        return;
      case 'run-end':
        return this.runEnd(event);
      case 'cooldown': {
        const r = event.result;
        this.out(dim(`cool-down to ${r.targetC} °C: ${r.cooledDown ? `reached in ${duration(r.waitedS)}` : `not reached (${r.reason}) after ${duration(r.waitedS)}, ${r.endC ?? '—'} °C`}`));
        return;
      }
      case 'skip':
        this.out(dim(`skipped ${event.keys.length} run${event.keys.length === 1 ? '' : 's'}: ${event.reason}`));
        return;
      case 'threshold':
        this.out(yellow(`failure threshold: ${event.failed} of ${event.finished} runs failed (${(event.ratio * 100).toFixed(0)} %) in scope ${event.scope}: ${event.decision === 'stop' ? 'stopping' : 'continuing'}`));
        return;
      case 'job':
        this.out(jobLine(event.job, event.change));
        return;
      case 'job-run':
        this.out(`${dim('▶')} ${bold(event.run.configuration)} cycle ${event.run.cycle}  run ${event.run.position}/${this.runs}${event.attempt > 1 ? `  attempt ${event.attempt}` : ''}  ${dim(`on ${event.node ?? '?'}, job ${event.jobId}`)}`);
        return;
      case 'campaign-end':
        this.stopCountdown();
    }
  }

  /** Resolves once every event so far is drawn (the last run's phases included). */
  async settled(): Promise<void> {
    await this.queue;
    this.stopCountdown();
  }

  private start(event: Extract<CampaignEvent, {type: 'campaign-start'}>): void {
    const p = event.plan;
    this.runs = p.runs.length;
    this.out(`${bold(`Campaign ${p.name}`)} ${dim(p.id)}${event.resumed ? ' (resumed)' : ''}: ${p.configurations.length} configuration${p.configurations.length === 1 ? '' : 's'} × ${cyclesText(p)} = ${p.runs.length} run${p.runs.length === 1 ? '' : 's'}, order ${p.order}`);
    for (const note of event.notes) this.out(yellow(`note: ${note}`));
    this.out(dim(`state: ${event.stateDir}   results: ${p.resultsDir}`));
  }

  private gap(event: Extract<CampaignEvent, {type: 'gap'}>): void {
    const what = event.kind === 'cycles' ? 'between cycles' : event.kind === 'retry' ? 'before the retry' : 'between experiments';
    if (this.mode === 'plain') {
      this.out(dim(`gap ${duration(event.seconds)} ${what}`));
      return;
    }
    const draw = () => process.stdout.write(`\r${dim(`gap ${what}: ${duration((event.endsAtMs - Date.now()) / 1000)} left`)}\u001B[K`);
    draw();
    this.countdown = setInterval(draw, 1000);
  }

  private stopCountdown(): void {
    if (!this.countdown) return;
    clearInterval(this.countdown);
    this.countdown = null;
    process.stdout.write('\r\u001B[K');
  }

  private async runEnd(event: Extract<CampaignEvent, {type: 'run-end'}>): Promise<void> {
    this.phases?.finish();
    this.phases = null;
    await this.shown;
    for (const line of this.warnings.values()) this.out(`  ${yellow(line)}`);
    this.warnings.clear();
    const where = `${event.run.configuration} cycle ${event.run.cycle}`;
    if (event.status === 'completed') this.out(`${green('✓')} ${where} ${dim(`${duration(event.durationS)}${event.adopted ? ', adopted' : ''}`)}`);
    else if (event.status === 'interrupted') this.out(`${yellow('■')} ${where}: interrupted`);
    else this.out(`${red(`✗ ${event.category}: ${event.code}`)} ${where}: ${event.message ?? ''}${event.willRetry ? dim(' (will retry)') : ''}\n  ${dim(event.runDir)}`);
  }

}

/** A Slurm job's state as a person reads it: queued (and why), running on its node, or how it ended. */
export function jobState(job: JobRecord): string {
  if (job.endedAt) return `${job.state === 'COMPLETED' ? 'done' : `ended ${job.state}`}${job.exitCode !== null && job.exitCode !== 0 ? `, exit ${job.exitCode}` : ''}`;
  if (job.state === 'PENDING' || job.state === 'SUBMITTED') return `queued${job.reason ? ` (${job.reason})` : ''}`;
  if (job.state === 'RUNNING') return `running on ${job.node ?? '?'}`;
  return job.state.toLowerCase();
}

function jobLine(job: JobRecord, change: 'submitted' | 'state' | 'ended'): string {
  const what = `job ${job.id} (cycle ${job.cycle}, ${job.keys.length} run${job.keys.length === 1 ? '' : 's'})`;
  if (change === 'submitted') return dim(`${what} submitted`);
  const state = jobState(job);
  return change === 'ended' && job.state !== 'COMPLETED' ? yellow(`${what}: ${state}`) : dim(`${what}: ${state}`);
}

/** Every job of a Slurm campaign, for `lem campaign status` and a detached start. */
export function jobsTable(jobs: JobRecord[]): string {
  return table(['JOB', 'CYCLE', 'RUNS', 'STATE', 'NODE', 'SUBMITTED'], jobs.map((j) => [j.id, String(j.cycle), String(j.keys.length), jobState(j), j.node ?? '', j.submittedAt]));
}

function cyclesText(plan: CampaignPlan): string {
  return plan.cycles.kind === 'fixed' ? `${plan.cycles.count} cycle${plan.cycles.count === 1 ? '' : 's'}` : `${plan.cycles.min}–${plan.cycles.max} cycles (adaptive, ${plan.cycles.metric} CI ≤ ${plan.cycles.targetCiPct} %)`;
}

/** `[tiny-sweep tiny-sweep-20261202T…] conc4-par1  cycle 2/3  run 5/12  ETA 4m 05s` */
export function runLine(c: CampaignContext, configuration: string, etaS: number | null): string {
  return `${dim(`[${c.name} ${c.id}]`)} ${bold(configuration)}  cycle ${c.cycle}/${c.cycles}  run ${c.position}/${c.total}${c.attempt > 1 ? `  attempt ${c.attempt}` : ''}  ETA ${duration(etaS)}`;
}

/** The end-of-campaign summary: counts, energy and time, per-configuration mean ± CI, the best per metric, the failures. */
export function renderCampaignSummary(report: CampaignReport, summaryPath: string): string {
  const lines: string[] = [];
  const c = report.counts;
  lines.push(bold(`\nCampaign ${report.campaign.name}: ${report.campaign.status}${report.campaign.stopReason ? ` (${report.campaign.stopReason})` : ''}`));
  lines.push(`${c.completed ?? 0} completed, ${c.failed ?? 0} failed, ${c.skipped ?? 0} skipped, ${(c.pending ?? 0) + (c.interrupted ?? 0) + (c.running ?? 0)} left; energy ${report.totalEnergyJ === null ? '—' : `${report.totalEnergyJ.toFixed(2)} J`}; run time ${duration(report.runTimeS)}, wall time ${duration(report.wallTimeS)}`);
  const metric = (name: string, id: string) => report.summary.configurations.find((x) => x.name === name)?.metrics[id as never] ?? null;
  const cell = (name: string, id: string, scale: number, digits: number) => {
    const s = metric(name, id) as {mean: number; halfWidth: number | null; n: number} | null;
    return s ? `${(s.mean * scale).toFixed(digits)} ± ${s.halfWidth === null ? '—' : (s.halfWidth * scale).toFixed(digits)}` : '—';
  };
  const rows = report.summary.configurations.map((x) => [x.name, String((metric(x.name, 'energyPerOutputTokenJ') as {n: number} | null)?.n ?? 0), cell(x.name, 'energyPerOutputTokenJ', 1000, 4), cell(x.name, 'outputTokensPerS', 1, 1), cell(x.name, 'ttftP50Ms', 1, 2), cell(x.name, 'itlP50Ms', 1, 3)]);
  lines.push(table(['CONFIGURATION', 'N', 'mJ/OUTPUT TOKEN', 'OUTPUT TOKENS/S', 'TTFT P50 MS', 'ITL P50 MS'], rows));
  lines.push(dim('mean ± 95 % CI half-width (Student t) across cycles'));
  const best = Object.entries(report.summary.best).filter(([, name]) => name !== null);
  if (best.length > 0) lines.push(`best: ${best.map(([id, name]) => `${id} ${name}`).join(', ')}`);
  if (report.envChanges.length > 0) lines.push(yellow(`environment changed during the campaign: ${report.envChanges.map((e) => `${e.at}: ${e.changes.join('; ')}`).join(' | ')}`));
  if (report.failures.length > 0) {
    lines.push(red('failures:'));
    for (const f of report.failures) lines.push(`  ${f.key}  ${f.category}: ${f.code}  ${f.message ?? ''}\n    ${dim(f.serverLog ?? f.runDir ?? '')}`);
  }
  lines.push(`summary: ${summaryPath}`);
  return lines.join('\n');
}
