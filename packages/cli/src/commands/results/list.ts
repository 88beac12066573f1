import {listResults, type ResultEntry} from '@lem/core';
import {LemCommand} from '../../base-command.js';
import {table} from '../../render.js';
import {resultsDirOf} from '../../results-dir.js';

export default class ResultsList extends LemCommand<typeof ResultsList> {
  static override summary = 'List the campaigns and runs in the results folder.';
  static override examples = ['<%= config.bin %> results list', '<%= config.bin %> results list --json'];

  public async run(): Promise<{resultsDir: string; results: ResultEntry[]}> {
    const resultsDir = await resultsDirOf(this.project(), await this.registry(), this.projectFile(this.project()));
    const results = listResults(resultsDir);
    this.say(results.length > 0 ? table(['ID', 'KIND', 'NAME', 'STATUS', 'RUNS', 'MODIFIED'], results.map((r) => [r.id, r.kind, r.name, r.status, String(r.runs), r.modifiedAt])) : `nothing in ${resultsDir} yet`);
    return {resultsDir, results};
  }
}
