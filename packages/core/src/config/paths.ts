import {isGgufFile} from '@lem/plugin-kit';
/** Key paths as arrays (`['experiments', 2, 'vllm']`) and as text (`experiments[2].vllm`). */
export type KeyPath = ReadonlyArray<string | number>;

export function formatPath(path: KeyPath): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else text += text === '' ? part : `.${part}`;
  }
  return text;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

/** Reads `path` inside `data`; `found` tells a missing key from an explicit `null`. */
export function getPath(data: unknown, path: KeyPath): {found: boolean; value: unknown} {
  let current: unknown = data;
  for (const part of path) {
    if (typeof part === 'number') {
      if (!Array.isArray(current) || part >= current.length) return {found: false, value: undefined};
      current = current[part];
    } else {
      if (!isPlainObject(current) || !Object.hasOwn(current, part)) return {found: false, value: undefined};
      current = current[part];
    }
  }
  return {found: true, value: current};
}

/** Every leaf of a plain-object tree with its path. Arrays and scalars are leaves. */
export function leaves(data: unknown, prefix: string[] = []): Array<{path: string[]; value: unknown}> {
  if (!isPlainObject(data) || (prefix.length > 0 && Object.keys(data).length === 0)) {
    return prefix.length === 0 ? [] : [{path: prefix, value: data}];
  }
  const out: Array<{path: string[]; value: unknown}> = [];
  for (const [key, value] of Object.entries(data)) out.push(...leaves(value, [...prefix, key]));
  return out;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({length: b.length + 1}, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** The candidate nearest to `word` by edit distance, when it is near enough to be a likely typo. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = levenshtein(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

/**
 * Whether a model reference names a file or folder rather than a hub id (`org/name`): absolute,
 * `./…` or `../…`, or a `.gguf` file. Used for `model` and for a backend's `model_path`, which
 * the GPU engines also take as hub ids; a folder relative to the file is written `./models/x`.
 */
export function isModelPath(ref: string): boolean {
  return ref.startsWith('/') || ref.startsWith('.') || isGgufFile(ref);
}
