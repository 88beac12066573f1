import {Flags} from '@oclif/core';
import {configError, ErrorCodes, type BuildResult} from '@lem/core';

/** `--build-arg KEY=VALUE`, on `lem images build` and `lem init`. */
export const buildArgFlag = Flags.string({description: "A Dockerfile build argument, KEY=VALUE, over the plugin's own (repeatable).", multiple: true});

/** One line on a built image: its reference, id, size, bases (with their digests) and time. */
export function builtLine(result: BuildResult): string {
  const size = result.sizeBytes === null ? '' : `, ${(result.sizeBytes / 1e6).toFixed(1)} MB`;
  const from = result.baseImages.map((b) => (b.digest ? `${b.ref} (${b.digest.slice(b.digest.indexOf('@') + 1)})` : b.ref)).join(', ') || 'scratch';
  return `Built ${result.ref} (${result.id.slice(0, 19)}${size}) from ${from} in ${(result.durationMs / 1000).toFixed(1)} s`;
}

/** `--build-arg KEY=VALUE` flags as a map; a malformed one is a usage error. */
export function parseBuildArgs(pairs: string[]): Record<string, string> {
  const args: Record<string, string> = {};
  for (const pair of pairs) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(pair);
    if (!match) throw configError(ErrorCodes.usage, `--build-arg ${pair} is not KEY=VALUE`, ['--build-arg BASE=node:20-bookworm-slim']);
    args[match[1]!] = match[2]!;
  }
  return args;
}
