import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {Args, Flags} from '@oclif/core';
import {configError, findResult, SUMMARY_FILES} from '@lem/core';
import {LemCommand} from '../../base-command.js';
import {resultsDirOf} from '../../results-dir.js';

export default class ResultsExport extends LemCommand<typeof ResultsExport> {
  static override summary = "Export a campaign's summary (or a run's result) as CSV or JSON.";
  static override description = 'A campaign: csv is summary.csv (one row per configuration × metric: n, mean, std, CV, 95 % CI, min, max; pandas reads it as is), json is summary.json. A run: json is its result.json.';
  static override examples = ['<%= config.bin %> results export tiny-campaign-20261202T043413Z --format csv > summary.csv', '<%= config.bin %> results export tiny-campaign-20261202T043413Z --format json --output summary.json'];

  static override args = {id: Args.string({description: 'A campaign id or run folder name.', required: true})};
  static override flags = {
    format: Flags.option({options: ['csv', 'json'] as const, required: true, description: 'csv or json.'})(),
    output: Flags.file({char: 'o', description: 'Write to this file instead of standard output.'}),
  };

  public async run(): Promise<void> {
    const project = this.project();
    const entry = findResult(await resultsDirOf(project, await this.registry(), this.projectFile(project)), this.args.id);
    const file = entry.kind === 'campaign' ? join(entry.path, this.flags.format === 'csv' ? SUMMARY_FILES.csv : SUMMARY_FILES.json) : this.flags.format === 'json' ? join(entry.path, 'result.json') : null;
    if (!file) throw configError('E_EXPORT_FORMAT', `${entry.id} is a single run: it has no summary table to export as CSV`, [`lem results export ${entry.id} --format json`]);
    const text = readFileSync(file, 'utf8');
    if (this.flags.output) writeFileSync(this.flags.output, text);
    else process.stdout.write(text);
  }
}
