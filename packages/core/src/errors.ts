import {codedError, ExitCode, type CodedError, type ErrorDetail, type ExitCodeValue} from '@lem/plugin-kit';

export {codedError, isCodedError, formatCodedError, codedErrorToJson, ExitCode} from '@lem/plugin-kit';
export type {CodedError, CodedErrorData, ErrorDetail, SourceLocation, ExitCodeValue} from '@lem/plugin-kit';

/**
 * Every error code core raises. Codes are stable: scripts match on them, so a code is never
 * renamed or reused for another meaning.
 */
export const ErrorCodes = {
  /** A file could not be read. */
  fileNotFound: 'E_FILE_NOT_FOUND',
  /** YAML syntax error (including duplicate keys). */
  yamlSyntax: 'E_CONFIG_YAML',
  /** A config file failed validation: unknown keys, wrong types, out-of-range values. */
  configInvalid: 'E_CONFIG_INVALID',
  /** `${VAR}` names an unset environment variable. */
  envUnset: 'E_CONFIG_ENV_UNSET',
  /** An experiment file asks for repetition, which belongs to campaigns. */
  repetition: 'E_CONFIG_REPETITION',
  /** The selected backend is not installed. */
  backendNotFound: 'E_BACKEND_NOT_FOUND',
  /** Two plugins registered the same id and that id was selected. */
  backendAmbiguous: 'E_BACKEND_AMBIGUOUS',
  notifierNotFound: 'E_NOTIFIER_NOT_FOUND',
  /** A CLI flag value is malformed (e.g. `--set` without `=`). */
  usage: 'E_USAGE',
} as const;

/** A config or usage error: exit code 2, nothing was run. */
export function configError(code: string, message: string, tryLines: string[], details?: ErrorDetail[]): CodedError {
  return codedError({code, message, try: tryLines, exitCode: ExitCode.usage, details});
}

export function errorWithExit(code: string, message: string, tryLines: string[], exitCode: ExitCodeValue): CodedError {
  return codedError({code, message, try: tryLines, exitCode});
}

/** Why a run failed (DESIGN §7): decides retries and is shown as `✗ resource: OOMKilled`. */
export type FailureCategory = 'config' | 'runtime' | 'resource' | 'interrupted';

export type RunError = CodedError & {category: FailureCategory};

/**
 * An error that fails a run (exit code 1, or 130 when interrupted) with its category. `details`
 * may carry the server's last output lines.
 */
export function runError(
  code: string,
  message: string,
  tryLines: string[],
  category: FailureCategory,
  details?: ErrorDetail[],
  cause?: unknown,
): RunError {
  const error = codedError({code, message, try: tryLines, exitCode: category === 'interrupted' ? ExitCode.interrupted : ExitCode.runsFailed, details, cause}) as RunError;
  error.category = category;
  return error;
}

export function isRunError(value: unknown): value is RunError {
  return typeof value === 'object' && value !== null && typeof (value as {category?: unknown}).category === 'string' && 'code' in value;
}
