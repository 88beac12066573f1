import {Args} from '@oclif/core';
import {codedError, ExitCode, recomputeRun, type RunMetrics} from '@lem/core';
import {LemCommand} from '../../base-command.js';
import {green} from '../../render.js';

export default class ResultsRecompute extends LemCommand<typeof ResultsRecompute> {
  static override summary = "Recompute a run's figures from its raw files and check them against result.json.";
  static override description =
    'Reads requests.jsonl, the boundary reads and timeline.csv of one result folder, computes every figure again with the current definitions, and lists any difference. Exit 0 when they agree, 1 when they do not.';
  static override examples = ['<%= config.bin %> results recompute results/quickstart-20261128T140000123Z', '<%= config.bin %> results recompute results/quickstart-20261128T140000123Z --json'];

  static override args = {
    dir: Args.directory({description: 'The folder of one run.', required: true, exists: true}),
  };

  public async run(): Promise<{dir: string; agrees: boolean; differences: Array<{path: string; stored: unknown; recomputed: unknown}>; recomputed: RunMetrics | null}> {
    const {recomputed, differences} = recomputeRun(this.args.dir);
    if (differences.length > 0) {
      throw codedError({
        code: 'E_RESULT_MISMATCH',
        message: `${differences.length} figure(s) differ from result.json`,
        try: ['the raw files or result.json were edited, or this lem computes a figure differently from the one that wrote it'],
        exitCode: ExitCode.runsFailed,
        details: differences.slice(0, 20).map((d) => ({path: d.path, message: `stored ${JSON.stringify(d.stored)}, recomputed ${JSON.stringify(d.recomputed)}`})),
      });
    }
    this.say(`${green('✓')} every figure of ${this.args.dir} was reproduced from its raw files`);
    return {dir: this.args.dir, agrees: true, differences, recomputed};
  }
}
