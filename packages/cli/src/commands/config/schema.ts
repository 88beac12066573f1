import {writeFileSync} from 'node:fs';
import {Flags} from '@oclif/core';
import {jsonSchemaFor, type SchemaKind} from '@lem/core';
import type {JsonSchema} from '@lem/plugin-kit';
import {LemCommand} from '../../base-command.js';

export default class ConfigSchema extends LemCommand<typeof ConfigSchema> {
  static override summary = "Print the JSON Schema of lem's files, with every installed plugin's section.";
  static override description =
    'Core\'s schema plus each backend\'s section (and each notifier\'s settings), for editors: point the YAML language server at the output, e.g. `# yaml-language-server: $schema=./experiment.schema.json`.';
  static override examples = [
    '<%= config.bin %> config schema > experiment.schema.json',
    '<%= config.bin %> config schema --kind project --output lem-config.schema.json',
  ];

  static override flags = {
    kind: Flags.option({options: ['experiment', 'project', 'campaign'] as const, default: 'experiment' as const, description: 'Which file: an experiment file, .lem-config.yaml or a campaign file.'})(),
    output: Flags.file({char: 'o', description: 'Write to this file instead of standard output.'}),
  };

  public async run(): Promise<JsonSchema> {
    const schema = jsonSchemaFor(this.flags.kind as SchemaKind, await this.registry());
    const text = `${JSON.stringify(schema, null, 2)}\n`;
    if (this.flags.output) {
      writeFileSync(this.flags.output, text);
      this.say(`Wrote the ${this.flags.kind} schema to ${this.flags.output}`);
    } else if (!this.jsonEnabled()) {
      process.stdout.write(text);
    }
    return schema;
  }
}
