import {Args, Flags} from '@oclif/core';
import {validateFile, type ValidationReport} from '@lem/core';
import {LemCommand} from '../../base-command.js';
import {green} from '../../render.js';

export default class ConfigValidate extends LemCommand<typeof ConfigValidate> {
  static override summary = 'Check an experiment file or .lem-config.yaml without running anything.';
  static override description =
    'Validates the file as it would be used: an experiment together with the project\'s .lem-config.yaml and the selected backend\'s plugin. Errors name file:line:col, the key path and a fix. Exit 0 when valid, 2 when not.';
  static override examples = [
    '<%= config.bin %> config validate examples/quickstart.yaml',
    '<%= config.bin %> config validate .lem-config.yaml --json',
    '<%= config.bin %> config validate my-run.yml --kind experiment',
  ];

  static override args = {
    file: Args.string({description: 'The YAML file to check.', required: true}),
  };

  static override flags = {
    kind: Flags.option({options: ['experiment', 'project'] as const, description: 'What the file is (default: .lem-config.yaml is the project file, anything else an experiment).'})(),
  };

  public async run(): Promise<ValidationReport & {valid: true}> {
    const registry = await this.registry();
    const project = this.project();
    const isProjectFile = project.configFile !== undefined && this.args.file.endsWith('.lem-config.yaml');
    const report = await validateFile(this.args.file, {
      registry,
      kind: this.flags.kind,
      // An experiment is checked with the project's settings under it, as `lem experiment` would run it.
      projectFile: isProjectFile ? undefined : this.projectFile(project),
    });
    this.say(`${green('✓')} ${report.file} is a valid ${report.kind === 'project' ? 'project settings file' : 'experiment file'}`);
    return {...report, valid: true};
  }
}
