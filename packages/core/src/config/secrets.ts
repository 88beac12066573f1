import type {ErrorDetail} from '@lem/plugin-kit';
import {configError, ErrorCodes} from '../errors.js';
import {isPlainObject, type KeyPath, formatPath} from './paths.js';
import type {LoadedFile} from './yaml-file.js';

const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Keys whose literal values are treated as secrets even when not given as `${ENV}`. */
const SECRET_KEY = /(webhook|token|secret|password|api_key|apikey|authorization)/i;

/**
 * Remembers secret values and hides them in anything that may be printed or written: console,
 * log, state and results. A secret is shown as `${NAME}` when it came from the environment,
 * else as `[redacted]`.
 */
export class Redactor {
  readonly #secrets = new Map<string, string>();

  add(value: string, label: string): void {
    // Very short values would redact innocent text; they are not plausible secrets anyway.
    if (value.length >= 4) this.#secrets.set(value, label);
  }

  get size(): number {
    return this.#secrets.size;
  }

  text(input: string): string {
    let out = input;
    // Longest first, so a secret containing another is replaced whole.
    for (const [value, label] of [...this.#secrets].sort((a, b) => b[0].length - a[0].length)) out = out.split(value).join(label);
    return out;
  }

  /** A deep copy with every secret replaced, in strings at any depth. */
  deep<T>(input: T): T {
    if (typeof input === 'string') return this.text(input) as T;
    if (Array.isArray(input)) return input.map((v) => this.deep(v)) as T;
    if (isPlainObject(input)) return Object.fromEntries(Object.entries(input).map(([k, v]) => [k, this.deep(v)])) as T;
    return input;
  }
}

/**
 * Replaces `${NAME}` with the environment variable's value in every string of `data` (`$${` is a
 * literal `${`). Substituted values and literal values of secret-looking keys are added to the
 * redactor. An unset variable is an error at its `file:line:col`.
 */
export function substituteEnv(file: LoadedFile, env: NodeJS.ProcessEnv, redactor: Redactor): unknown {
  const missing: ErrorDetail[] = [];
  const walk = (value: unknown, path: Array<string | number>): unknown => {
    if (typeof value === 'string') {
      let substituted = false;
      const out = value.replace(REFERENCE, (match, name: string | undefined) => {
        if (name === undefined) return '${';
        const resolved = env[name];
        if (resolved === undefined || resolved === '') {
          missing.push({path: formatPath(path), message: `\${${name}} is not set in the environment`, location: file.locate(path)});
          return match;
        }
        substituted = true;
        redactor.add(resolved, `\${${name}}`);
        return resolved;
      });
      const key = path.at(-1);
      if (!substituted && typeof key === 'string' && SECRET_KEY.test(key)) redactor.add(out, '[redacted]');
      return out;
    }
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, i]));
    if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, [...path, k])]));
    return value;
  };
  const out = walk(file.data, []);
  if (missing.length > 0) {
    const names = [...new Set(missing.map((m) => /\$\{(\w+)\}/.exec(m.message)?.[1]))];
    throw configError(
      ErrorCodes.envUnset,
      `${file.path} refers to ${names.length === 1 ? 'an environment variable that is' : 'environment variables that are'} not set: ${names.join(', ')}`,
      names.map((n) => `export ${n}=… before running lem (or put the value in the file, if it is not a secret)`),
      missing,
    );
  }
  return out;
}

export type {KeyPath};
