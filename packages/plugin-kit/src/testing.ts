/**
 * `@lem/plugin-kit/testing`: checks a backend's command line against a committed snapshot of its
 * engine's CLI reference, so an argv builder can only emit flags the pinned engine version has,
 * each with a value of the right kind.
 *
 * A snapshot is the engine's own `--help` text (argparse or click layout) or the argument
 * definitions as text, under a header of `# key: value` lines naming at least `engine`, `version`
 * and `source`. Written by hand because no library parses both help layouts into flag kinds.
 */

import type {LemEvent} from './index.js';

/** What a flag takes, as the reference says. */
export type FlagSpec =
  | {kind: 'switch'}
  /** A value; `type` when the reference says it (a click metavar or a shown default), `choices` when it lists them. */
  | {kind: 'value'; type?: 'int' | 'float' | 'string' | 'bool'; choices?: string[]; optionalValue?: boolean};

export interface CliReference {
  /** Header fields: engine, version, source and any others. */
  header: Record<string, string>;
  /** Every flag spelling (e.g. `--max-num-seqs`, `-tp`) and what it takes. */
  flags: Map<string, FlagSpec>;
}

const HEADER_LINE = /^#\s*([\w-]+):\s*(.+?)\s*$/;

/** Splits a snapshot into its `# key: value` header and its body; refuses one without engine, version and source. */
export function readReferenceHeader(text: string): {header: Record<string, string>; body: string} {
  const lines = text.split('\n');
  const header: Record<string, string> = {};
  let i = 0;
  for (; i < lines.length && lines[i]!.startsWith('#'); i++) {
    const m = HEADER_LINE.exec(lines[i]!);
    if (m) header[m[1]!.toLowerCase()] = m[2]!;
  }
  for (const key of ['engine', 'version', 'source']) {
    if (!header[key]) throw new Error(`the reference's header has no "# ${key}:" line`);
  }
  return {header, body: lines.slice(i).join('\n')};
}

const CLICK_TYPES: Record<string, 'int' | 'float' | 'string' | 'bool'> = {
  INTEGER: 'int',
  INT: 'int',
  FLOAT: 'float',
  BOOLEAN: 'bool',
  TEXT: 'string',
  PATH: 'string',
  FILE: 'string',
  FILENAME: 'string',
  DIRECTORY: 'string',
};

/** Choices written as argparse's `{a,b}` or click's `[a|b]`. */
function choicesOf(metavar: string): string[] | undefined {
  const m = /^\{(.+)\}$/.exec(metavar) ?? /^\[(.+\|.+)\]$/.exec(metavar);
  if (!m) return undefined;
  return m[1]!.split(/[,|]/).map((c) => c.trim());
}

function specOf(metavar: string | undefined, help: string): FlagSpec {
  if (metavar === undefined) return {kind: 'switch'};
  const optionalValue = metavar.startsWith('[') && !metavar.includes('|');
  const bare = optionalValue ? metavar.slice(1, -1).replace(/\.\.\.$/, '') : metavar;
  const choices = choicesOf(bare);
  if (choices) return {kind: 'value', choices, ...(optionalValue ? {optionalValue} : {})};
  let type = CLICK_TYPES[bare.replace(/\.\.\.$/, '')];
  if (type === undefined) {
    // argparse shows no types; a shown numeric default says one.
    const shown = /\(default:\s*([^)\s]+)\)|\[default:\s*([^\]\s]+)\]/.exec(help);
    const value = shown?.[1] ?? shown?.[2];
    if (value !== undefined && /^-?\d+$/.test(value)) type = 'int';
    else if (value !== undefined && /^-?\d*\.\d+(e-?\d+)?$/i.test(value)) type = 'float';
  }
  return {kind: 'value', ...(type ? {type} : {}), ...(optionalValue ? {optionalValue} : {})};
}

// One spelling: `--name`, `--name VALUE`, `--name=VALUE`, `--name {a,b}`, `--name [a|b]`, `--name [VALUE]`.
const SPELLING = /^(-{1,2}[A-Za-z0-9][\w.-]*)(?:[ =](\{[^}]*\}|\[[^\]]*\]|[A-Z][A-Z0-9_.-]*(?:\.\.\.)?|[A-Z_]+ \[[A-Z_]+ \.\.\.\]))?$/;

/**
 * Reads an argparse or click `--help` body into flags. An option line is indented and starts with
 * `-`; its spellings are separated by `, ` (argparse) or ` / ` (click's on/off pair); its help
 * follows after two spaces, on the same line or the next ones (read for a shown default).
 */
export function parseHelpText(body: string): Map<string, FlagSpec> {
  const flags = new Map<string, FlagSpec>();
  const lines = body.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const m = /^\s{1,12}(-{1,2}[A-Za-z0-9].*?)(?:\s{2,}(.*))?$/.exec(line);
    if (!m) continue;
    let help = m[2] ?? '';
    for (let j = i + 1; j < lines.length && /^\s{6,}[^\s-]/.test(lines[j]!); j++) help += ` ${lines[j]!.trim()}`;
    const spellings = m[1]!.split(/,\s+|\s+\/\s+/);
    const parsed = spellings.map((s) => SPELLING.exec(s.trim()));
    if (parsed.some((p) => p === null)) continue;
    // Click shows the value once, after the last spelling (`--tensor_parallel_size, --tp_size
    // INTEGER`); argparse repeats it after each. A value shown on the last spelling only is all of theirs.
    const shared = parsed.at(-1)![2] !== undefined && parsed.slice(0, -1).every((p) => p![2] === undefined) ? parsed.at(-1)![2] : undefined;
    for (const p of parsed) flags.set(p![1]!, specOf(p![2] ?? shared, help));
  }
  return flags;
}

/** Parses a whole snapshot (header and help body). */
export function parseCliReference(text: string): CliReference {
  const {header, body} = readReferenceHeader(text);
  return {header, flags: parseHelpText(body)};
}

function valueProblem(flag: string, spec: Extract<FlagSpec, {kind: 'value'}>, value: string): string | undefined {
  if (spec.choices && !spec.choices.includes(value)) return `${flag} ${value}: not one of ${spec.choices.join(', ')}`;
  if (spec.type === 'int' && !/^-?\d+$/.test(value)) return `${flag} ${value}: not an integer`;
  if (spec.type === 'float' && !Number.isFinite(Number(value))) return `${flag} ${value}: not a number`;
  if (spec.type === 'bool' && !/^(true|false|1|0|yes|no)$/i.test(value)) return `${flag} ${value}: not a boolean`;
  return undefined;
}

/**
 * The problems of `args` (the command line after the executable and any sub-command and
 * positionals) against a reference: unknown flags, a switch given a value, a value missing, or
 * a value of the wrong kind. Empty when every flag is right.
 */
export function checkArgs(args: readonly string[], flags: Map<string, FlagSpec>): string[] {
  const problems: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('-')) {
      problems.push(`${arg}: a value with no flag before it`);
      continue;
    }
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const spec = flags.get(flag);
    if (!spec) {
      problems.push(`${flag}: not in the reference`);
      continue;
    }
    if (spec.kind === 'switch') {
      if (inline !== undefined) problems.push(`${flag}: a switch given a value`);
      continue;
    }
    let value = inline;
    if (value === undefined && i + 1 < args.length && !(args[i + 1]!.startsWith('--') || /^-[A-Za-z]/.test(args[i + 1]!))) value = args[++i];
    if (value === undefined) {
      if (!spec.optionalValue) problems.push(`${flag}: needs a value`);
      continue;
    }
    const problem = valueProblem(flag, spec, value);
    if (problem) problems.push(problem);
  }
  return problems;
}

/** A section's validator, as a plugin's tests use it: `validate` gives the issues, `config` the value (defaults applied) or throws. */
export function sectionParser<Config>(schema: {'~standard': {validate(value: unknown): unknown}}): {
  validate(section: unknown): Promise<{value: Config} | {issues: ReadonlyArray<{message: string; path?: ReadonlyArray<PropertyKey | {key: PropertyKey}>}>}>;
  config(section: unknown): Promise<Config>;
} {
  const validate = async (section: unknown) => (await schema['~standard'].validate(section)) as {value: Config} | {issues: ReadonlyArray<{message: string; path?: ReadonlyArray<PropertyKey | {key: PropertyKey}>}>};
  return {
    validate,
    async config(section) {
      const result = await validate(section);
      if ('issues' in result) throw new Error(`invalid section: ${result.issues.map((i) => i.message).join('; ')}`);
      return result.value;
    },
  };
}

/**
 * Events as lem sends them, for a notifier's tests: a campaign that completed, and one that was
 * interrupted with more failures than are listed, long messages and markup characters in its title.
 */
export const SAMPLE_EVENTS: {done: LemEvent; interrupted: LemEvent} = (() => {
  const done: LemEvent = {
    type: 'campaign:done',
    at: '2026-12-03T10:00:00.000Z',
    title: 'Campaign sweep completed: 12 of 12 runs completed',
    level: 'success',
    fields: [
      {name: 'Runs', value: '12 completed, 0 failed, 0 not run'},
      {name: 'Energy', value: '1.92 MJ'},
      {name: 'Best energy per output token', value: 'vllm-conc32: 0.412 J/token (95 % CI 0.401 J to 0.423 J, n = 3)'},
    ],
    data: {},
  };
  const interrupted: LemEvent = {
    ...done,
    type: 'campaign:interrupted',
    level: 'warning',
    title: 'Campaign sweep interrupted: 3 of 12 runs completed, 40 failed <x> & y',
    list: {title: 'Failed runs', items: Array.from({length: 10}, (_, i) => `conf-${i} cycle 1: E_SERVER_OOM — ${'x'.repeat(900)}`), total: 40},
    hint: 'lem resume 20261203-sweep',
  };
  return {done, interrupted};
})();
