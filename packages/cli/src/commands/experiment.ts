import {dirname, isAbsolute, join, resolve} from 'node:path';
import {Args, Flags} from '@oclif/core';
import {
  formatSource,
  refuseStrategyWithoutDocker,
  loadYamlFile,
  plannedServer,
  resolveExperiment,
  runExperiment,
  type ExperimentEvent,
  type ExperimentResult,
  type PlannedServer,
  type Setting,
} from '@lem/core';
import {LemCommand} from '../base-command.js';
import {formatValue, renderPlannedServer, table, dim} from '../render.js';
import {PhaseDisplay} from '../phase-display.js';
import {interruptible} from '../signals.js';
import {cliSettings} from '../cli-settings.js';
import {renderResultTable} from '../result-table.js';
import {persistentConfirmation, runnerFlags, strategySetting} from '../runner-flags.js';

export interface ExperimentCommandResult {
  dryRun: boolean;
  status?: 'completed' | 'failed';
  runDir?: string;
  settings: Array<Setting & {from: string}>;
  /** The server a dry run would start (null for an endpoint). */
  server?: PlannedServer | null;
  result?: ExperimentResult;
}

export default class Experiment extends LemCommand<typeof Experiment> {
  static override summary = 'Run one experiment: start the server, drive the workload, measure energy and latency, write the result.';
  static override description =
    'Phases: launch → warmup → idle baseline → measure → teardown. The result folder (results/<name>-<timestamp>/) holds result.json, requests.jsonl and timeline.csv; `lem results recompute <folder>` reproduces every figure from them. Repetition over cycles belongs to `lem campaign run`.';
  static override examples = [
    '<%= config.bin %> experiment examples/quickstart.yaml',
    '<%= config.bin %> experiment examples/quickstart.yaml --dry-run',
    '<%= config.bin %> experiment my-model.yaml --results-dir out --set workload.concurrency=4 --json',
  ];

  static override args = {
    file: Args.string({description: 'The experiment file (YAML).', required: true}),
  };

  static override flags = {
    'dry-run': Flags.boolean({description: 'Resolve and print every setting with its source, and the server command; run nothing.'}),
    'results-dir': Flags.string({description: 'Where the result folder is written (default: results/ under the project root).'}),
    ...runnerFlags,
    backend: Flags.string({description: 'Backend id (overrides the file).'}),
    set: Flags.string({description: 'Set any setting by dotted key, e.g. workload.concurrency=4 (repeatable).', multiple: true}),
    'wait-for-devices': Flags.integer({description: 'Wait up to this many seconds for another lem run to free the CPU or GPUs (default: fail at once with E_DEVICE_BUSY).', min: 0, default: 0}),
  };

  public async run(): Promise<ExperimentCommandResult> {
    const registry = await this.registry();
    const project = this.project();
    const cli = cliSettings(this.flags, [...(this.flags.backend ? [{key: 'backend', value: this.flags.backend, flag: '--backend'}] : []), ...strategySetting(this.flags)]);

    const experimentFile = loadYamlFile(this.args.file);
    const resolved = await resolveExperiment({registry, projectFile: this.projectFile(project), experimentFile, cli});
    const settings = resolved.sources.map((s) => ({...s, from: formatSource(s.source)}));
    refuseStrategyWithoutDocker(cli, resolved.settings.runner);

    if (this.flags['dry-run']) {
      this.say(dim(`project root: ${project.root}`));
      this.say(table(['SETTING', 'VALUE', 'SOURCE'], settings.map((s) => [s.key, formatValue(s.value), s.from])));
      const server = plannedServer(resolved, dirname(resolve(this.args.file)));
      if (server) this.say(`\n${renderPlannedServer(server)}`);
      this.say(dim('\ndry run: nothing was started'));
      return {dryRun: true, settings, server};
    }

    const resultsDir = isAbsolute(resolved.settings.results_dir) ? resolved.settings.results_dir : join(project.root, resolved.settings.results_dir);
    const {signal, dispose} = interruptible((m) => this.note(m), 'the experiment and its server');
    const display = new PhaseDisplay({quiet: this.verbosity() === 'quiet' || this.jsonEnabled(), verbose: this.verbosity() === 'verbose'});
    const onEvent = (e: ExperimentEvent) => display.handle(e);
    let outcome;
    try {
      const shown = display.start();
      outcome = await runExperiment({
        resolved,
        baseDir: dirname(resolve(this.args.file)),
        projectRoot: project.root,
        resultsDir,
        cacheDir: join(this.config.cacheDir, 'datasets'),
        experimentFile: experimentFile.path,
        plugins: this.config.getPluginsList().map((p) => ({name: p.name, version: p.version})),
        waitForDevicesS: this.flags['wait-for-devices'],
        confirmPersistent: persistentConfirmation(this.flags, this.interactive()),
        onEvent,
        signal,
      }).finally(() => display.finish());
      await shown;
    } finally {
      dispose();
    }
    const {result} = outcome;
    if (!this.jsonEnabled() && this.verbosity() !== 'quiet') {
      this.log('');
      this.log(renderResultTable(result));
      this.log('');
      this.log(`Result: ${outcome.runDir}`);
    }
    if (outcome.error) {
      // The run is recorded (result.json says failed, with its category); the error explains it.
      throw Object.assign(outcome.error, {try: [...outcome.error.try, `the failed run is recorded in ${outcome.runDir}`]});
    }
    return {dryRun: false, status: outcome.status, runDir: outcome.runDir, settings, result};
  }
}
