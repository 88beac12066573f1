import {Command, Flags, Interfaces} from '@oclif/core';
import {
  codedError,
  codedErrorToJson,
  ErrorCodes,
  ExitCode,
  findProjectRoot,
  formatCodedError,
  INIT_HINT,
  initHintDue,
  isCodedError,
  loadProjectConfig,
  reapContainersAtStart,
  type CodedError,
  type LoadedFile,
  type ProjectRoot,
  type Registry,
  type Verbosity,
  verbositySchema,
} from '@lem/core';
import './hooks.js';
import {loadRegistry} from './registry.js';
import {dim, red, yellow} from './render.js';

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof LemCommand)['baseFlags'] & T['flags']>;
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

/**
 * The base of every lem command: `--json`, `--verbose`/`--quiet`, `--project-root`, and the one
 * place where errors become exit codes (0 ok, 1 runs failed, 2 usage/config, 3 stopped at the
 * failure threshold, 130 interrupted).
 */
export abstract class LemCommand<T extends typeof Command = typeof Command> extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    verbose: Flags.boolean({char: 'v', description: 'Print more: plugin problems in full, stack traces of internal errors.', exclusive: ['quiet']}),
    quiet: Flags.boolean({char: 'q', description: 'Print nothing but errors.', exclusive: ['verbose']}),
    'project-root': Flags.directory({
      description: 'Project root (default: nearest folder with .lem-config.yaml or .lem-state/, else the working folder).',
      env: 'LEM_PROJECT_ROOT',
      helpGroup: 'GLOBAL',
    }),
  };

  protected flags!: BaseFlags<T>;
  protected args!: BaseArgs<T>;
  #registry?: Registry;
  #projectVerbosity?: Verbosity;
  #projectFile?: {root: string; file: LoadedFile | undefined};

  public override async init(): Promise<void> {
    await super.init();
    const {flags, args} = await this.parse({flags: this.ctor.flags, baseFlags: (super.ctor as typeof LemCommand).baseFlags, args: this.ctor.args, strict: this.ctor.strict, enableJsonFlag: this.ctor.enableJsonFlag});
    this.flags = flags as BaseFlags<T>;
    this.args = args as BaseArgs<T>;
    await reapContainersAtStart();
    this.hintInit();
  }

  /** Once per project without `.lem-config.yaml`, to a human at a terminal: `lem init` exists. */
  private hintInit(): void {
    // The cheap checks first: off a terminal, nothing is read.
    if (this.id === 'init' || !process.stderr.isTTY || this.jsonEnabled() || this.verbosity() === 'quiet') return;
    let root: string;
    try {
      root = this.project().root;
    } catch {
      return; // a bad --project-root is the command's to report
    }
    if (initHintDue(this.config.dataDir, root)) this.note(dim(INIT_HINT, process.stderr));
  }

  /** Registered backends and notifiers; plugin problems are printed once as named warnings. */
  protected async registry(): Promise<Registry> {
    if (!this.#registry) {
      this.#registry = await loadRegistry(this.config);
      for (const problem of this.#registry.problems) this.note(`${yellow('Warning', process.stderr)} ${problem.code}: ${problem.message}`);
    }
    return this.#registry;
  }

  protected project(): ProjectRoot {
    return findProjectRoot({flag: this.flags['project-root']});
  }

  /** `.lem-config.yaml` of the project, read once per command (verbosity and the command both need it). */
  protected projectFile(project: ProjectRoot): LoadedFile | undefined {
    if (this.#projectFile?.root !== project.root) this.#projectFile = {root: project.root, file: loadProjectConfig(project)};
    return this.#projectFile.file;
  }

  /**
   * How much lem prints: `--quiet` / `--verbose`, else the project's `verbosity` preference. A
   * value lem cannot read counts as normal here; the command's own resolve reports it, located.
   */
  protected verbosity(): Verbosity {
    if (this.flags?.quiet) return 'quiet';
    if (this.flags?.verbose) return 'verbose';
    if (this.#projectVerbosity === undefined) {
      let data: unknown;
      try {
        data = this.projectFile(this.project())?.data;
      } catch {
        data = undefined;
      }
      const parsed = verbositySchema.safeParse((data as {verbosity?: unknown} | undefined)?.verbosity);
      this.#projectVerbosity = parsed.success ? parsed.data : 'normal';
    }
    return this.#projectVerbosity;
  }

  /** Says something on stdout unless quiet or `--json`. */
  protected say(message: string): void {
    if (this.verbosity() !== 'quiet' && !this.jsonEnabled()) this.log(message);
  }

  /** A remark on stderr (warnings, hints), unless quiet or `--json`. */
  protected note(message: string): void {
    if (this.verbosity() !== 'quiet' && !this.jsonEnabled()) this.logToStderr(message);
  }

  /** How progress is drawn: nothing when quiet or with --json, Listr2 on a terminal, plain lines otherwise. */
  protected displayMode(): 'tty' | 'plain' | 'quiet' {
    if (this.verbosity() === 'quiet' || this.jsonEnabled()) return 'quiet';
    return process.stdout.isTTY && !process.env.CI ? 'tty' : 'plain';
  }

  /** A human can be asked: a terminal on both ends, and neither --quiet nor --json (a quiet project still asks). */
  protected interactive(): boolean {
    return !this.flags?.quiet && !this.jsonEnabled() && Boolean(process.stdin.isTTY) && Boolean(process.stdout.isTTY);
  }

  /** Returns the result (printed as JSON with --json) and exits with `exitCode` when it is not 0. */
  protected finish<R>(result: R, exitCode: number): R {
    if (exitCode === 0) return result;
    if (this.jsonEnabled()) this.logJson(result);
    return this.exit(exitCode);
  }

  protected override async catch(error: Interfaces.CommandError): Promise<never> {
    // this.exit() throws an ExitError: let it through untouched.
    if ((error as {code?: string}).code === 'EEXIT') throw error;
    const coded = this.toCoded(error);
    if (this.jsonEnabled()) {
      this.logJson(codedErrorToJson(coded));
    } else {
      const text = formatCodedError(coded).split('\n');
      text[0] = red(text[0]!, process.stderr);
      this.logToStderr(text.map((l) => (l.startsWith('Try:') ? dim(l, process.stderr) : l)).join('\n'));
      if (this.verbosity() === 'verbose' && coded.code === 'E_INTERNAL' && error.stack) this.logToStderr(dim(error.stack, process.stderr));
    }
    return this.exit(coded.exitCode);
  }

  /** Maps any thrown value to a coded error: ours as they are, oclif's parse errors as usage, the rest as internal. */
  private toCoded(error: Interfaces.CommandError): CodedError {
    if (isCodedError(error)) return error;
    if ('parse' in error) {
      // Flag and argument parsing errors (unknown flag, missing argument, bad option value).
      return codedError({
        code: ErrorCodes.usage,
        message: error.message.replace(/\s*\n\s*/g, ' ').trim(),
        try: [`lem ${this.id?.replaceAll(':', ' ') ?? ''} --help`.replace(/\s+/g, ' ')],
        exitCode: ExitCode.usage,
      });
    }
    return codedError({
      code: 'E_INTERNAL',
      message: `internal error: ${error.message}`,
      try: ['run again with --verbose for the stack trace, and report it with the command you ran'],
      exitCode: ExitCode.runsFailed,
    });
  }
}
