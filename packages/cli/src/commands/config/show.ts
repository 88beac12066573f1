import {Args, Flags} from '@oclif/core';
import {formatSource, loadYamlFile, parseSetFlag, resolveExperiment, resolveProject, type CliSetting, type Setting, type SettingSource} from '@lem/core';
import {LemCommand} from '../../base-command.js';
import {dim, formatValue, table} from '../../render.js';

export interface ShowResult {
  projectRoot: string;
  configFile: string | null;
  experimentFile: string | null;
  settings: Array<{key: string; value: unknown; source: SettingSource; from: string}>;
}

export default class ConfigShow extends LemCommand<typeof ConfigShow> {
  static override summary = 'Show every effective setting with its value and where it came from.';
  static override description =
    'Precedence: command-line flag > experiment file > .lem-config.yaml > built-in default. Without a file, shows the project settings; with an experiment file, the settings that experiment would run with. Secrets given as ${ENV_VAR} are shown redacted.';
  static override examples = [
    '<%= config.bin %> config show',
    '<%= config.bin %> config show examples/quickstart.yaml --runner docker --set workload.concurrency=4',
  ];

  static override args = {
    file: Args.string({description: 'An experiment file whose effective settings to show.'}),
  };

  static override flags = {
    runner: Flags.option({options: ['local', 'docker'] as const, description: 'Where servers run.'})(),
    backend: Flags.string({description: 'Backend id.'}),
    'results-dir': Flags.string({description: 'Where results are written.'}),
    set: Flags.string({description: 'Set any setting by dotted key, e.g. workload.concurrency=4 (repeatable).', multiple: true}),
  };

  public async run(): Promise<ShowResult> {
    const registry = await this.registry();
    const project = this.project();
    const projectFile = this.projectFile(project);
    const cli: CliSetting[] = [];
    if (this.flags.runner) cli.push({key: 'runner', value: this.flags.runner, flag: '--runner'});
    if (this.flags.backend) cli.push({key: 'backend', value: this.flags.backend, flag: '--backend'});
    if (this.flags['results-dir']) cli.push({key: 'results_dir', value: this.flags['results-dir'], flag: '--results-dir'});
    for (const s of this.flags.set ?? []) cli.push(parseSetFlag(s));

    let settings: Setting[];
    if (this.args.file) {
      settings = (await resolveExperiment({registry, projectFile, experimentFile: loadYamlFile(this.args.file, {command: 'lem config show'}), cli})).sources;
    } else {
      settings = (await resolveProject({registry, projectFile, cli})).sources;
    }
    this.say(dim(`project root: ${project.root}${projectFile ? '' : ' (no .lem-config.yaml: built-in defaults apply)'}`));
    this.say(table(['SETTING', 'VALUE', 'SOURCE'], settings.map((s) => [s.key, formatValue(s.value), formatSource(s.source)])));
    return {
      projectRoot: project.root,
      configFile: project.configFile ?? null,
      experimentFile: this.args.file ?? null,
      settings: settings.map((s) => ({...s, from: formatSource(s.source)})),
    };
  }
}
