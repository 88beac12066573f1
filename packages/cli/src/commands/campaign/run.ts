import {join} from 'node:path';
import {Args, Flags} from '@oclif/core';
import {planCampaign, startCampaign, stateRootOf, type CampaignPlan, type CampaignReport} from '@lem/core';
import {cliSettings} from '../../cli-settings.js';
import {LemCommand} from '../../base-command.js';
import {campaignSession} from '../../campaign-session.js';
import {renderJobs, renderPlan} from '../../plan-render.js';
import {executorFlags, persistentConfirmation, runnerFlags, strategySetting} from '../../runner-flags.js';

export interface CampaignRunResult {
  dryRun: boolean;
  plan: CampaignPlan;
  notes: string[];
  status?: string;
  exitCode?: number;
  /** --detach: the jobs were submitted and lem left them to the cluster. */
  detached?: boolean;
  summaryPath?: string;
  report?: CampaignReport;
}

export default class CampaignRun extends LemCommand<typeof CampaignRun> {
  static override summary = 'Run a campaign: every configuration of a grid, repeated over cycles with thermal gaps, with means, confidence intervals and paired differences.';
  static override description =
    'State lives in .lem-state/<id>/ (plan, manifest, journal, progress, log); results in results/<id>/ (every run, summary.json, summary.csv, comparisons.csv). Ctrl+C stops resumably (`lem resume`). Exit codes: 0 all completed, 1 some runs failed, 2 a config error (nothing ran), 3 stopped at the failure threshold, 130 interrupted.';
  static override examples = [
    '<%= config.bin %> campaign run examples/tiny-campaign.yaml --dry-run',
    '<%= config.bin %> campaign run examples/tiny-campaign.yaml',
    '<%= config.bin %> campaign run sweep.yaml --set cycles=5 --set gaps.between_experiments_s=30 --quiet',
    '<%= config.bin %> campaign run sweep.yaml --executor slurm --set slurm.partition=gpu --dry-run',
    '<%= config.bin %> campaign run sweep.yaml --executor slurm --detach',
  ];

  static override args = {file: Args.string({description: 'The campaign file (YAML).', required: true})};

  static override flags = {
    'dry-run': Flags.boolean({description: 'Print the plan: every run in order with its gap, what varies, every setting with its source, and the ETA (under slurm, every job script that would be submitted); run nothing.'}),
    fresh: Flags.boolean({description: "Start a new campaign even though this file's last one is unfinished."}),
    ...runnerFlags,
    ...executorFlags,
    'results-dir': Flags.string({description: 'Where results/<id>/ is written (default: results/ under the project root).'}),
    set: Flags.string({description: 'Set any setting by dotted key for every run (or a campaign key: cycles=5), repeatable.', multiple: true}),
    'wait-for-devices': Flags.integer({description: 'Wait up to this many seconds for another lem run to free the devices.', min: 0, default: 0}),
  };

  public async run(): Promise<CampaignRunResult> {
    const registry = await this.registry();
    const project = this.project();
    const input = {
      registry,
      campaignPath: this.args.file,
      projectFile: this.projectFile(project),
      projectRoot: project.root,
      cli: cliSettings(this.flags, strategySetting(this.flags)),
      cacheDir: join(this.config.cacheDir, 'datasets'),
      plugins: this.config.getPluginsList().map((p) => ({name: p.name, version: p.version})),
    };
    if (this.flags['dry-run']) {
      const {plan, notes} = await planCampaign(input);
      this.say(renderPlan(plan, notes));
      if (plan.slurm) this.say(renderJobs(plan, join(stateRootOf(project.root), plan.id), project.root));
      return {dryRun: true, plan, notes};
    }
    const {planned, store, session} = await startCampaign({
      ...input,
      fresh: this.flags.fresh,
      detach: this.flags.detach,
      confirmPersistent: persistentConfirmation(this.flags, this.interactive()),
      onRunnerWarning: (w) => this.note(`${w.code}: ${w.message}`),
    });
    const outcome = await campaignSession({
      registry,
      planned,
      store,
      session,
      resumed: false,
      notes: planned.notes,
      retryFailed: true,
      mode: this.displayMode(),
      verbose: this.verbosity() === 'verbose',
      cacheDir: input.cacheDir,
      projectRoot: project.root,
      plugins: input.plugins,
      waitForDevicesS: this.flags['wait-for-devices'],
      detach: this.flags.detach,
      out: (line) => this.say(line),
      note: (line) => this.note(line),
    });
    const result: CampaignRunResult = {dryRun: false, plan: planned.plan, notes: planned.notes, status: outcome.status, exitCode: outcome.exitCode, summaryPath: outcome.summaryPath, report: outcome.report, detached: outcome.detached};
    return this.finish(result, outcome.exitCode);
  }
}
