import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {Args} from '@oclif/core';
import {configError, listCampaigns, openCampaignState, progressOf, stateRootOf, syncSlurmCampaign, type CampaignListing, type CampaignStore, type JobRecord, type Progress} from '@lem/core';
import {LemCommand} from '../../base-command.js';
import {listingTable} from '../../campaign-listing.js';
import {duration, jobsTable} from '../../campaign-display.js';
import {table} from '../../render.js';

export default class CampaignStatus extends LemCommand<typeof CampaignStatus> {
  static override summary = "Show campaigns' progress without running anything.";
  static override description =
    "Without an id: every campaign of the project. With one: its progress, current run, ETA and every entry of its manifest; for a Slurm campaign, every job too. Reads the state only while a lem runs the campaign; a Slurm campaign no lem follows (--detach, or its lem was killed) is brought up to date first: finished jobs' journals are merged and each job's state recorded (nothing is submitted: `lem resume` does that).";
  static override examples = ['<%= config.bin %> campaign status', '<%= config.bin %> campaign status tiny-campaign-20261202T043413Z --json'];

  static override args = {id: Args.string({description: 'The campaign id.'})};

  public async run(): Promise<{campaigns: CampaignListing[]} | {progress: Progress; entries: Array<{key: string; status: string; attempts: number; category: string | null; resultPath: string | null}>; jobs: JobRecord[]}> {
    const root = stateRootOf(this.project().root);
    if (!this.args.id) {
      const campaigns = listCampaigns(root);
      this.say(campaigns.length > 0 ? listingTable(campaigns) : 'no campaign in this project');
      return {campaigns};
    }
    const known = listCampaigns(root).find((c) => c.id === this.args.id);
    if (!known) throw configError('E_CAMPAIGN_NOT_FOUND', `no campaign ${this.args.id} in ${root}`, ['lem campaign status   # lists them']);
    const store = openCampaignState(root, this.args.id);
    try {
      if (store.plan.executor === 'slurm' && !known.locked) await followOnce(store);
      const progress = progressOf(store.plan, store.manifest);
      const entries = store.manifest.entries.map((e) => ({key: e.key, status: e.status, attempts: e.attempts, category: e.category, resultPath: e.resultPath}));
      this.say(`${store.plan.name} ${store.plan.id}: ${progress.status}${known.locked ? ' (running now)' : ''}, ${progress.done}/${progress.total} done, ETA ${duration(readEta(store.dir) ?? null)}`);
      this.say(table(['RUN', 'STATUS', 'ATTEMPTS', 'CATEGORY', 'RESULT'], entries.map((e) => [e.key, e.status, String(e.attempts), e.category ?? '', e.resultPath ?? ''])));
      const jobs = store.manifest.jobs;
      if (jobs.length > 0) this.say(`\n${jobsTable(jobs)}`);
      return {progress, entries, jobs};
    } finally {
      store.close();
    }
  }
}

/** A Slurm campaign no lem follows: under its lock, one look at the jobs (merged, recorded), then the lock is let go. */
async function followOnce(store: CampaignStore): Promise<void> {
  store.lock();
  try {
    await syncSlurmCampaign(store);
  } finally {
    store.unlock();
  }
}

/** progress.json's ETA, as the running lem last wrote it. */
function readEta(dir: string): number | null {
  try {
    return (JSON.parse(readFileSync(join(dir, 'progress.json'), 'utf8')) as Progress).etaS;
  } catch {
    return null;
  }
}
