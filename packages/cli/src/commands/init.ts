import {join} from 'node:path';
import {Flags} from '@oclif/core';
import {configError, dockerEngine, ErrorCodes, loadProjectConfig, PREFERENCES, resolveProject, type Answers, type Verbosity} from '@lem/core';
import {LemCommand} from '../base-command.js';
import {diagnoseHere} from '../diagnosis-render.js';
import {buildArgFlag, parseBuildArgs} from '../image-build.js';
import {initSession, type InitOutcome} from '../init-session.js';

/** A flag per preference, from core's list (one place says what `lem init` sets). */
const preferenceFlags = Object.fromEntries(
  PREFERENCES.map((p) => [p.flag, p.choices && p.kind !== 'list' ? Flags.option({options: p.choices as string[], description: p.help})() : Flags.string({description: `${p.help} (${p.kind}).`})]),
) as Record<string, ReturnType<typeof Flags.string>>;

export default class Init extends LemCommand<typeof Init> {
  static override summary = "Set this project's preferences once, in .lem-config.yaml: runner, backend, gaps, results folder, dataset, verbosity, containers, retries, failure threshold, notifications.";
  static override description =
    "On a terminal, lem init shows what this machine offers (as `lem doctor`), asks each preference with the file's value or lem's default, writes the file (checked as lem reads it, atomically, with a schema line for editors), then offers to fetch the AI Energy Score prompts and to build backend images. Ctrl+C before the file is written writes nothing. --non-interactive takes each preference from its flag, else the file's (--reconfigure), else the default. An existing file is never overwritten without --reconfigure, which keeps the keys and comments it does not ask about.";
  static override examples = [
    '<%= config.bin %> init',
    '<%= config.bin %> init --reconfigure',
    '<%= config.bin %> init --non-interactive',
    '<%= config.bin %> init --non-interactive --runner docker --gap-between-experiments 30 --slack-webhook \'${SLACK_WEBHOOK_URL}\' --slack-events campaign:start,campaign:done',
    '<%= config.bin %> init --non-interactive --yes --runner docker --images llamacpp --build-arg BASE=node:20-bookworm-slim',
  ];
  static override flags = {
    'non-interactive': Flags.boolean({description: 'Ask nothing: take the flags, the file and the defaults (for scripts and CI).'}),
    reconfigure: Flags.boolean({description: 'Edit an existing .lem-config.yaml, its values as defaults.'}),
    yes: Flags.boolean({char: 'y', description: 'Yes to every confirmation: write the file, fetch the chosen dataset if it is not cached, build the chosen images.'}),
    images: Flags.string({description: 'Backend images to build after writing, comma-separated (the wizard offers them; --non-interactive builds them).'}),
    'build-arg': buildArgFlag,
    ...preferenceFlags,
  };

  public async run(): Promise<InitOutcome> {
    const registry = await this.registry();
    const project = this.project();
    const ask = !this.flags['non-interactive'];
    if (ask && !this.interactive()) {
      throw configError(ErrorCodes.usage, 'lem init asks its questions on a terminal, and this is not one (or --json / --quiet was given)', ['lem init --non-interactive   # takes each preference from its flag; lem init --help lists them']);
    }
    // A hand-edited file that lem cannot read is reported where it is wrong, before anything is asked.
    const projectFile = loadProjectConfig(project);
    const {settings} = await resolveProject({registry, projectFile});
    const outcome = await initSession({
      registry,
      projectRoot: project.root,
      reconfigure: this.flags.reconfigure,
      given: this.givenAnswers(),
      ask,
      yes: this.flags.yes,
      images: (this.flags.images ?? '').split(',').map((s) => s.trim()).filter(Boolean),
      buildArgs: parseBuildArgs(this.flags['build-arg'] ?? []),
      datasetCacheDir: join(this.config.cacheDir, 'datasets'),
      engine: dockerEngine(settings.docker.host),
      diagnose: () => diagnoseHere(registry, settings.docker.host),
      out: (line) => this.say(line),
      note: (line) => this.note(line),
    });
    const failed = outcome.images.failed.length > 0 || outcome.dataset?.error !== undefined;
    return this.finish(outcome, failed ? 1 : 0);
  }

  /** The wizard speaks whatever the project's verbosity: only --quiet silences it. */
  protected override verbosity(): Verbosity {
    return this.flags?.quiet ? 'quiet' : this.flags?.verbose ? 'verbose' : 'normal';
  }

  private givenAnswers(): Answers {
    const values: Answers = {};
    for (const p of PREFERENCES) {
      const given = (this.flags as Record<string, unknown>)[p.flag];
      if (typeof given === 'string') values[p.key] = given;
    }
    return values;
  }
}
