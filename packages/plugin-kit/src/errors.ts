/**
 * Coded errors, shared by lem and its plugins as a shape, not a class: lem recognises any thrown
 * value with a string `code` and a `try` array, so a plugin's own copy of this module works too.
 */

/** Exit codes of every lem command, in one place. */
export const ExitCode = {
  ok: 0,
  /** One or more runs failed. */
  runsFailed: 1,
  /** Bad usage or configuration: nothing was run. */
  usage: 2,
  /** A campaign stopped at its failure threshold (resumable). */
  threshold: 3,
  /** Interrupted by Ctrl+C, SIGTERM or SIGHUP (resumable). */
  interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Where in which file a problem is. Lines and columns count from 1. */
export interface SourceLocation {
  file: string;
  line?: number;
  col?: number;
}

/** One problem inside a coded error, e.g. one invalid key of a config file. */
export interface ErrorDetail {
  /** Dotted key path with indices, e.g. `experiments[2].vllm.max_num_seqs`. */
  path?: string;
  message: string;
  location?: SourceLocation;
}

/** The data every lem error carries. */
export interface CodedErrorData {
  /** Stable, documented code such as `E_CONFIG_UNKNOWN_KEY`. Never reworded. */
  code: string;
  message: string;
  /** Suggested next steps, each printed after "Try:". At least one. */
  try: string[];
  exitCode: ExitCodeValue;
  details?: ErrorDetail[];
}

export type CodedError = Error & CodedErrorData;

/** Creates a coded error (a plain Error with the fields of {@link CodedErrorData}). */
export function codedError(data: Omit<CodedErrorData, 'exitCode'> & {exitCode?: ExitCodeValue; cause?: unknown}): CodedError {
  const error = new Error(data.message, data.cause === undefined ? undefined : {cause: data.cause}) as CodedError;
  error.name = 'LemError';
  error.code = data.code;
  error.try = data.try;
  error.exitCode = data.exitCode ?? ExitCode.usage;
  if (data.details) error.details = data.details;
  return error;
}

/** True for any value shaped like a coded error, whichever copy of this module made it. */
export function isCodedError(value: unknown): value is CodedError {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<CodedErrorData>;
  return typeof v.code === 'string' && /^E_[A-Z0-9_]+$/.test(v.code) && Array.isArray(v.try) && typeof v.message === 'string';
}

/** Formats a location as `file:line:col`. */
export function formatLocation(location: SourceLocation): string {
  let text = location.file;
  if (location.line !== undefined) text += `:${location.line}`;
  if (location.line !== undefined && location.col !== undefined) text += `:${location.col}`;
  return text;
}

/**
 * Renders a coded error for a terminal: the code, the message, one line per detail, and the
 * "Try:" lines. Plain text; colouring is the caller's business.
 */
export function formatCodedError(error: CodedErrorData): string {
  const lines = [`Error ${error.code}: ${error.message}`];
  for (const detail of error.details ?? []) {
    const where = detail.location ? `${formatLocation(detail.location)} ` : '';
    const path = detail.path ? `${detail.path}: ` : '';
    lines.push(`  ${where}${path}${detail.message}`);
  }
  for (const step of error.try) lines.push(`Try: ${step}`);
  return lines.join('\n');
}

/** The JSON shape of an error under `--json`. */
export function codedErrorToJson(error: CodedErrorData): {error: {code: string; message: string; try: string[]; exitCode: number; details: ErrorDetail[]}} {
  return {error: {code: error.code, message: error.message, try: error.try, exitCode: error.exitCode, details: error.details ?? []}};
}
