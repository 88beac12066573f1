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
