import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {Args} from '@oclif/core';
import {configError, listCampaigns, openCampaignState, progressOf, stateRootOf, type CampaignListing, type Progress} from '@lem/core';
import {LemCommand} from '../../base-command.js';
import {listingTable} from '../../campaign-listing.js';
import {duration} from '../../campaign-display.js';
import {table} from '../../render.js';

export default class CampaignStatus extends LemCommand<typeof CampaignStatus> {
  static override summary = "Show campaigns' progress without running anything.";
  static override description = 'Without an id: every campaign of the project. With one: its progress, current run, ETA and every entry of its manifest. Reads the state only; safe while the campaign runs.';
  static override examples = ['<%= config.bin %> campaign status', '<%= config.bin %> campaign status tiny-campaign-20261202T043413Z --json'];

  static override args = {id: Args.string({description: 'The campaign id.'})};

  public async run(): Promise<{campaigns: CampaignListing[]} | {progress: Progress; entries: Array<{key: string; status: string; attempts: number; category: string | null; resultPath: string | null}>}> {
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
      const progress = progressOf(store.plan, store.manifest);
      const entries = store.manifest.entries.map((e) => ({key: e.key, status: e.status, attempts: e.attempts, category: e.category, resultPath: e.resultPath}));
      this.say(`${store.plan.name} ${store.plan.id}: ${progress.status}${known.locked ? ' (running now)' : ''}, ${progress.done}/${progress.total} done, ETA ${duration(readEta(store.dir) ?? null)}`);
      this.say(table(['RUN', 'STATUS', 'ATTEMPTS', 'CATEGORY', 'RESULT'], entries.map((e) => [e.key, e.status, String(e.attempts), e.category ?? '', e.resultPath ?? ''])));
      return {progress, entries};
    } finally {
      store.close();
    }
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
