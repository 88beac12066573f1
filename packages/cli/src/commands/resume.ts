import {join} from 'node:path';
import {Args, Flags} from '@oclif/core';
import {configError, resumeCampaign, unfinishedCampaigns, type CampaignListing} from '@lem/core';
import {LemCommand} from '../base-command.js';
import {campaignSession} from '../campaign-session.js';
import {listingTable} from '../campaign-listing.js';
import {executorFlags, persistentConfirmation, runnerFlags} from '../runner-flags.js';
import type {CampaignRunResult} from './campaign/run.js';

export default class Resume extends LemCommand<typeof Resume> {
  static override summary = 'Continue an unfinished campaign from its plan.';
  static override description =
    'Without an id: lists the unfinished campaigns and continues the only one (or asks which, on a terminal). Re-runs interrupted runs and, by default, failed ones (except config failures); adopts a result written just before lem stopped; refuses when the campaign file now plans different measurements or when the model, dataset, lem, plugins, GPUs or driver changed. A Slurm campaign is followed again: jobs still queued or running are adopted, finished jobs\' journals merged, and what is left submitted.';
  static override examples = ['<%= config.bin %> resume', '<%= config.bin %> resume tiny-campaign-20261202T043413Z', '<%= config.bin %> resume tiny-campaign-20261202T043413Z --no-retry-failed'];

  static override args = {id: Args.string({description: 'The campaign id (see `lem campaign status`).'})};

  static override flags = {
    'retry-failed': Flags.boolean({description: 'Run failed runs again (not those that failed for their config).', default: true, allowNo: true}),
    'allow-env-change': Flags.boolean({description: 'Continue although what the measurements depend on changed (the summary marks the boundary).'}),
    'wait-for-devices': Flags.integer({description: 'Wait up to this many seconds for another lem run to free the devices.', min: 0, default: 0}),
    ...runnerFlags,
    ...executorFlags,
  };

  public async run(): Promise<CampaignRunResult> {
    const registry = await this.registry();
    const project = this.project();
    const id = this.args.id ?? (await this.pick(unfinishedCampaigns(project.root)));
    const plugins = this.config.getPluginsList().map((p) => ({name: p.name, version: p.version}));
    const cacheDir = join(this.config.cacheDir, 'datasets');
    const {planned, store, envChanges, adopted, session} = await resumeCampaign({
      registry,
      id,
      projectFile: this.projectFile(project),
      projectRoot: project.root,
      cacheDir,
      plugins,
      allowEnvChange: this.flags['allow-env-change'],
      runner: this.flags.runner,
      containerStrategy: this.flags['container-strategy'],
      executor: this.flags.executor,
      confirmPersistent: persistentConfirmation(this.flags, this.interactive()),
      onRunnerWarning: (w) => this.note(`${w.code}: ${w.message}`),
    });
    const notes = [...planned.notes];
    if (adopted.length > 0) notes.push(`adopted ${adopted.length} result${adopted.length === 1 ? '' : 's'} written just before lem stopped: ${adopted.join(', ')}`);
    if (envChanges.length > 0) notes.push(`continuing across an environment change (--allow-env-change): ${envChanges.join('; ')}`);
    const outcome = await campaignSession({
      registry,
      planned,
      store,
      session,
      resumed: true,
      notes,
      retryFailed: this.flags['retry-failed'],
      mode: this.displayMode(),
      verbose: this.verbosity() === 'verbose',
      cacheDir,
      projectRoot: project.root,
      plugins,
      waitForDevicesS: this.flags['wait-for-devices'],
      detach: this.flags.detach,
      out: (line) => this.say(line),
      note: (line) => this.note(line),
    });
    const result: CampaignRunResult = {dryRun: false, plan: planned.plan, notes, status: outcome.status, exitCode: outcome.exitCode, summaryPath: outcome.summaryPath, report: outcome.report, detached: outcome.detached};
    return this.finish(result, outcome.exitCode);
  }

  /** The only unfinished campaign, or the one the user picks; without a terminal, an error listing them. */
  private async pick(open: CampaignListing[]): Promise<string> {
    const resumable = open.filter((c) => !c.locked && !c.error);
    if (resumable.length === 1) return resumable[0]!.id;
    if (resumable.length === 0) {
      throw configError('E_CAMPAIGN_NONE_UNFINISHED', open.length > 0 ? 'every unfinished campaign is running in another lem now' : 'no unfinished campaign in this project', ['lem campaign status   # every campaign and its progress']);
    }
    if (this.displayMode() !== 'tty' || !process.stdin.isTTY) {
      throw configError('E_CAMPAIGN_WHICH', `${resumable.length} unfinished campaigns; say which:\n${listingTable(resumable)}`, resumable.slice(0, 3).map((c) => `lem resume ${c.id}`));
    }
    const {default: enquirer} = (await import('enquirer')) as unknown as {default: {Select: new (o: object) => {run(): Promise<string>}}};
    const prompt = new enquirer.Select({name: 'id', message: 'Which campaign?', choices: resumable.map((c) => ({name: c.id, message: `${c.id}  ${c.done}/${c.total} done, ${c.failed} failed, last activity ${c.lastActivity ?? '—'}`}))});
    return prompt.run();
  }
}
