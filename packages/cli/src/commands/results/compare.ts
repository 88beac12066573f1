import {Args, Flags} from '@oclif/core';
import {compareResults, type CompareReport} from '@lem/core';
import {LemCommand} from '../../base-command.js';
import {renderComparison} from '../../compare-render.js';
import {resultsDirOf} from '../../results-dir.js';

export default class ResultsCompare extends LemCommand<typeof ResultsCompare> {
  static override summary = 'Compare two configurations, campaigns or runs on every headline metric, with the difference and its 95 % CI.';
  static override description = `A and B are each one of:
  <campaign>                  a whole campaign (its id or its folder's path)
  <campaign>:<configuration>  one configuration of that campaign
  <run>                       one run (its folder name or path)
With --campaign <id>, A and B are configuration names of that campaign.

Two configurations of the same campaign are paired by cycle: B − A is the mean of the per-cycle differences with a Student-t interval, as comparisons.csv. Anything else (two campaigns, configurations of different campaigns, runs) uses Welch's unequal-variance t interval with Welch–Satterthwaite degrees of freedom. A side with a single value has no interval, and the verdict says it cannot tell.

Two whole campaigns are compared configuration by configuration, matched by name (campaigns of one configuration each are compared directly); configurations only one of them has are listed, not compared. A campaign of several configurations against one configuration or run is refused as ambiguous: name the configuration.

Each metric shows A and B (mean ± 95 % CI half-width), B − A with its half-width, B relative to A in % (the interval of B − A divided by A's mean, taken as exact), the method, and a verdict that claims a difference only when the interval excludes 0. Energy that was not measured shows its reason, never 0.`;

  static override examples = [
    '<%= config.bin %> results compare grid-20261202T043413Z:conc1 grid-20261202T043413Z:conc2',
    '<%= config.bin %> results compare --campaign grid-20261202T043413Z conc1 conc2 --all',
    '<%= config.bin %> results compare fp16-20261202T043413Z q4-20261203T091500Z',
    '<%= config.bin %> results compare results/quickstart-20261128T140000123Z results/quickstart-20261129T090000000Z --json',
  ];

  static override args = {
    a: Args.string({description: 'A: a campaign, <campaign>:<configuration>, or a run (with --campaign: a configuration name).', required: true}),
    b: Args.string({description: 'B, named as A; differences are B − A.', required: true}),
  };

  static override flags = {
    campaign: Flags.string({description: 'A and B are configurations of this campaign (its id or folder).'}),
    all: Flags.boolean({description: 'Every metric of the campaign summary, not only the headline ones.'}),
  };

  public async run(): Promise<CompareReport> {
    const project = this.project();
    const resultsDir = await resultsDirOf(project, await this.registry(), this.projectFile(project));
    const report = compareResults({resultsDir, a: this.args.a, b: this.args.b, campaign: this.flags.campaign, all: this.flags.all});
    this.say(renderComparison(report));
    return report;
  }
}
