import {Flags} from '@oclif/core';
import {PREFERENCES, writeProjectConfig, type InitResult} from '@lem/core';
import {LemCommand} from '../base-command.js';
import {dim, formatValue, table} from '../render.js';

/** A flag per preference, from core's list (one place says what `lem init` sets). */
const preferenceFlags = Object.fromEntries(
  PREFERENCES.map((p) => [p.flag, p.choices ? Flags.option({options: p.choices as string[], description: p.help})() : Flags.string({description: `${p.help} (${p.kind}).`})]),
) as Record<string, ReturnType<typeof Flags.string>>;

export default class Init extends LemCommand<typeof Init> {
  static override summary = "Write this project's .lem-config.yaml: every preference set once (runner, backend, gaps, results folder, dataset, verbosity, containers, retries, failure threshold, webhooks).";
  static override description =
    "Each preference is the flag's value, else the file's current one (--reconfigure), else lem's default; the file is checked as lem will read it before it is written, atomically, with a schema line for editors. An existing file is never overwritten without --reconfigure, which keeps the keys and comments it does not ask about. `lem doctor` shows what this machine offers.";
  static override examples = [
    '<%= config.bin %> init --non-interactive',
    '<%= config.bin %> init --non-interactive --runner docker --gap-between-experiments 30 --slack-webhook \'${SLACK_WEBHOOK_URL}\'',
    '<%= config.bin %> init --reconfigure --non-interactive --results-dir out',
  ];
  static override flags = {
    'non-interactive': Flags.boolean({description: 'Ask nothing: take the flags, the file and the defaults (for scripts and CI).'}),
    reconfigure: Flags.boolean({description: 'Edit an existing .lem-config.yaml, its values as defaults.'}),
    yes: Flags.boolean({description: 'Answer yes to confirmations.'}),
    ...preferenceFlags,
  };

  public async run(): Promise<InitResult> {
    const registry = await this.registry();
    const values: Record<string, string> = {};
    for (const p of PREFERENCES) {
      const given = (this.flags as Record<string, unknown>)[p.flag];
      if (typeof given === 'string') values[p.key] = given;
    }
    const result = await writeProjectConfig({registry, projectRoot: this.project().root, values, reconfigure: this.flags.reconfigure});
    this.say(`${result.created ? 'Wrote' : 'Updated'} ${result.path}`);
    this.say(table(['PREFERENCE', 'VALUE', 'FROM'], result.written.map((w) => [w.key, formatValue(w.value), w.from])));
    for (const name of result.unsetEnv) this.note(`note: \${${name}} is not set in this shell; set it before lem runs a campaign`);
    this.say(dim(`schema for editors: ${result.schemaPath}`));
    this.say('next: lem doctor   # what this machine offers; then lem experiment examples/quickstart.yaml');
    return result;
  }
}
