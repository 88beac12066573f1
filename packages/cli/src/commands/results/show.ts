import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {Args} from '@oclif/core';
import {findResult, SUMMARY_FILES, type CampaignReport, type ExperimentResult, type ResultEntry} from '@lem/core';
import {LemCommand} from '../../base-command.js';
import {renderCampaignSummary} from '../../campaign-display.js';
import {renderResultTable} from '../../result-table.js';
import {resultsDirOf} from '../../results-dir.js';

export default class ResultsShow extends LemCommand<typeof ResultsShow> {
  static override summary = "Show a campaign's summary or a run's figures.";
  static override examples = ['<%= config.bin %> results show tiny-campaign-20261202T043413Z', '<%= config.bin %> results show results/quickstart-20261128T140000123Z --json'];

  static override args = {id: Args.string({description: 'A campaign id or run folder name (or a path to one).', required: true})};

  public async run(): Promise<{entry: ResultEntry; summary?: CampaignReport; result?: ExperimentResult}> {
    const project = this.project();
    const entry = findResult(await resultsDirOf(project, await this.registry(), this.projectFile(project)), this.args.id);
    if (entry.kind === 'run') {
      const result = JSON.parse(readFileSync(join(entry.path, 'result.json'), 'utf8')) as ExperimentResult;
      this.say(renderResultTable(result));
      return {entry, result};
    }
    const summaryPath = join(entry.path, SUMMARY_FILES.json);
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as CampaignReport;
    this.say(renderCampaignSummary(summary, summaryPath));
    return {entry, summary};
  }
}
