/** Terminal rendering helpers. Colour only on a TTY and without NO_COLOR. */
import {shellWord, type PlannedServer} from '@lem/core';
const useColor = (stream: NodeJS.WriteStream): boolean => Boolean(stream.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb';

const wrap = (open: number, close: number) => (text: string, stream: NodeJS.WriteStream = process.stdout) =>
  useColor(stream) ? `\u001B[${open}m${text}\u001B[${close}m` : text;

export const red = wrap(31, 39);
export const green = wrap(32, 39);
export const yellow = wrap(33, 39);
export const dim = wrap(2, 22);
export const bold = wrap(1, 22);

/** A plain aligned table: columns padded to their widest cell, two spaces apart. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function formatValue(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** The server a dry run would start: where, its command line (shell-quoted) and the files generated for it. */
export function renderPlannedServer(server: PlannedServer): string {
  const lines = [`server: ${server.backend} on the ${server.runner} runner${server.image ? `, image ${server.image}` : ''}`, `command: ${server.argv.map((a) => (/^<[\w ]+>$/.test(a) ? a : shellWord(a))).join(' ')}`];
  for (const file of server.files) lines.push(`file ${file.path}:`, ...file.contents.trimEnd().split('\n').map((l) => `  ${l}`));
  lines.push(dim('(<port> and <workdir> are chosen at launch; <gpu N> is resolved to the GPU\'s UUID)'));
  return lines.join('\n');
}
