import {Args, Flags} from '@oclif/core';
import {writeReport, type WrittenReport} from '@lem/core';
import {LemCommand} from '../base-command.js';
import {resultsDirOf} from '../results-dir.js';

export default class Report extends LemCommand<typeof Report> {
  static override summary = 'Write one self-contained HTML report of campaigns or runs: statistics, Pareto frontier, paired differences, power timelines, latency distributions.';
  static override description =
    'Each input is a campaign id, a run folder name, or a path to either (as `lem results list` shows them). The page needs no network: styles, data and figures (Vega-Lite rendered to SVG) are inline, each figure with its spec. Numbers come from summary.json where it has them, otherwise from the runs; an unknown figure is a gap with its reason, never 0. Default output: report.html in the folder of a single input, else in the working folder. --format also writes each figure as an SVG or PNG file with its spec, into <report name>-figures/.';
  static override examples = [
    '<%= config.bin %> report tiny-sweep-20261202T043413Z',
    '<%= config.bin %> report results/tiny-sweep-20261202T043413Z --out sweep.html --format png',
    '<%= config.bin %> report quickstart-20261128T140000123Z quickstart-20261129T090000456Z --json',
  ];

  static override strict = false;
  static override args = {id: Args.string({description: 'Campaign ids or run folders (one or more).', required: true})};
  static override flags = {
    out: Flags.file({char: 'o', description: 'The HTML file to write (default: report.html in the folder of a single input, else in the working folder).'}),
    format: Flags.option({options: ['svg', 'png'] as const, description: 'Also write each figure as a file of this format (with its Vega-Lite spec) into <report name>-figures/.'})(),
  };

  public async run(): Promise<WrittenReport> {
    const {argv} = await this.parse(Report);
    const project = this.project();
    const resultsDir = await resultsDirOf(project, await this.registry(), this.projectFile(project));
    const written = await writeReport({inputs: argv as string[], resultsDir, out: this.flags.out, format: this.flags.format});
    const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;
    const counts = `${count(written.runs, 'run')}, ${written.failedRuns} not completed, ${count(written.configurations, 'configuration')}, ${count(written.figures, 'figure')}`;
    this.say(`Wrote ${written.path} (${kb(written.bytes)}; ${counts}) in ${(written.elapsedMs / 1000).toFixed(1)} s`);
    if (written.figureFiles.length > 0) this.say(`Figures: ${written.figureFiles.length} files in ${written.figureFiles[0]!.path.replace(/\/[^/]*$/, '')}`);
    return written;
  }
}

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
