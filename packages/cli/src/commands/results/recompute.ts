import {Args, Flags} from '@oclif/core';
import {codedError, ExitCode, recomputeRun, type RunMetrics} from '@lem/core';
import {LemCommand} from '../../base-command.js';
import {green} from '../../render.js';

export default class ResultsRecompute extends LemCommand<typeof ResultsRecompute> {
  static override summary = "Recompute a run's figures from its raw files and check them against result.json.";
  static override description =
    'Reads requests.jsonl, the boundary reads and timeline.csv of one result folder, computes every figure again with the current definitions, and lists any difference. Exit 0 when they agree, 1 when they do not. A run whose figures could not be computed when it ran (E_FIGURES_FAILED) gets them with --write.';
  static override examples = [
    '<%= config.bin %> results recompute results/quickstart-20261128T140000123Z',
    '<%= config.bin %> results recompute results/quickstart-20261128T140000123Z --json',
    '<%= config.bin %> results recompute results/quickstart-20261128T140000123Z --write',
  ];

  static override args = {
    dir: Args.directory({description: 'The folder of one run.', required: true, exists: true}),
  };

  static override flags = {
    write: Flags.boolean({description: 'For a run whose figures had failed to compute: store the recomputed figures in result.json.'}),
  };

  public async run(): Promise<{dir: string; agrees: boolean; written: boolean; differences: Array<{path: string; stored: unknown; recomputed: unknown}>; recomputed: RunMetrics | null}> {
    const {recomputed, differences, figuresHadFailed, written} = recomputeRun(this.args.dir, {write: this.flags.write});
    if (written) {
      this.say(`${green('✓')} the figures of ${this.args.dir} were computed from its raw files and stored in result.json`);
      return {dir: this.args.dir, agrees: true, written, differences: [], recomputed};
    }
    if (figuresHadFailed) {
      throw codedError({
        code: 'E_RESULT_NO_FIGURES',
        message: `result.json holds no figures: they failed to compute when the run ended; ${recomputed ? 'they compute now' : 'there is still nothing to compute'}`,
        try: [recomputed ? `lem results recompute ${this.args.dir} --write to store them` : 'the run measured no request'],
        exitCode: ExitCode.runsFailed,
      });
    }
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
    return {dir: this.args.dir, agrees: true, written, differences, recomputed};
  }
}
