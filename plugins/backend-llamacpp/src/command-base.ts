import {Command, type Interfaces} from '@oclif/core';
import {codedError, codedErrorToJson, ExitCode, formatCodedError, isCodedError, type CodedError} from '@lem/plugin-kit';

/**
 * Base of this plugin's commands: coded errors are rendered with `formatCodedError` on stderr (or
 * as JSON under --json) and exit with their exit code; never a stack trace for a coded error.
 */
export abstract class LlamacppCommand extends Command {
  protected override async catch(error: Interfaces.CommandError): Promise<never> {
    // this.exit() throws an ExitError: let it through untouched.
    if ((error as {code?: string}).code === 'EEXIT') throw error;
    const coded = this.toCoded(error);
    if (this.jsonEnabled()) this.logJson(codedErrorToJson(coded));
    else this.logToStderr(formatCodedError(coded));
    return this.exit(coded.exitCode);
  }

  private toCoded(error: Interfaces.CommandError): CodedError {
    if (isCodedError(error)) return error;
    if ('parse' in error) {
      return codedError({
        code: 'E_USAGE',
        message: error.message.replace(/\s*\n\s*/g, ' ').trim(),
        try: [`lem ${this.id?.replaceAll(':', ' ') ?? 'llamacpp'} --help`],
        exitCode: ExitCode.usage,
      });
    }
    return codedError({
      code: 'E_INTERNAL',
      message: `internal error: ${error.message}`,
      try: ['report it with the command you ran'],
      exitCode: ExitCode.runsFailed,
    });
  }
}
