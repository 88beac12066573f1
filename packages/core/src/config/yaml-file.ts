import {readFileSync} from 'node:fs';
import {relative, isAbsolute} from 'node:path';
import {isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node} from 'yaml';
import type {SourceLocation} from '@lem/plugin-kit';
import {configError, ErrorCodes} from '../errors.js';
import type {KeyPath} from './paths.js';

/** A YAML file read and parsed, able to point at the line and column of any key path. */
export interface LoadedFile {
  /** Path as the user gave it (used in messages). */
  path: string;
  data: unknown;
  /** Location of the key itself (`key: true`) or of its value at `path`; the nearest existing ancestor when the path is absent. */
  locate(path: KeyPath, options?: {key?: boolean}): SourceLocation;
}

export function displayPath(file: string, cwd = process.cwd()): string {
  if (!isAbsolute(file)) return file;
  const rel = relative(cwd, file);
  return rel.startsWith('..') ? file : rel;
}

/** Reads and parses a YAML file; syntax errors (duplicate keys included) name `file:line:col`. */
export function loadYamlFile(file: string): LoadedFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw configError(
      ErrorCodes.fileNotFound,
      code === 'ENOENT' ? `${displayPath(file)} does not exist` : `${displayPath(file)} cannot be read (${code ?? String(error)})`,
      [code === 'ENOENT' ? 'check the path, or create the file with `lem init`' : `check the file's permissions: ls -l ${file}`],
    );
  }
  return parseYamlText(text, displayPath(file));
}

export function parseYamlText(text: string, name: string): LoadedFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {lineCounter, prettyErrors: false, uniqueKeys: true, strict: true});
  const at = (offset: number): SourceLocation => {
    const pos = lineCounter.linePos(offset);
    return {file: name, line: pos.line, col: pos.col};
  };
  if (doc.errors.length > 0) {
    throw configError(
      ErrorCodes.yamlSyntax,
      `${name} is not valid YAML`,
      ['fix the syntax at the position shown (indentation, a missing colon, or a duplicated key)'],
      doc.errors.map((e) => ({message: e.message.split('\n')[0] ?? e.code, location: at(e.pos[0])})),
    );
  }
  return {
    path: name,
    data: doc.toJS({maxAliasCount: 100}) ?? {},
    locate: (path, options) => locateIn(doc, path, options?.key ?? false, at, name),
  };
}

function locateIn(
  doc: Document,
  path: KeyPath,
  wantKey: boolean,
  at: (offset: number) => SourceLocation,
  name: string,
): SourceLocation {
  let node: unknown = doc.contents;
  let best: SourceLocation = {file: name, line: 1, col: 1};
  if (isNodeWithRange(node)) best = at(node.range[0]);
  for (let i = 0; i < path.length; i++) {
    const part = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(part));
      if (!pair) return best;
      const keyNode = pair.key as Node;
      if (last && wantKey && keyNode.range) return at(keyNode.range[0]);
      node = pair.value;
      if (isNodeWithRange(node)) best = at(node.range[0]);
      else if (keyNode.range) best = at(keyNode.range[0]);
    } else if (isSeq(node) && typeof part === 'number') {
      const item = node.items[part];
      if (!item) return best;
      node = item;
      if (isNodeWithRange(node)) best = at(node.range[0]);
    } else {
      return best;
    }
  }
  return best;
}

function isNodeWithRange(node: unknown): node is {range: [number, number, number]} {
  return typeof node === 'object' && node !== null && Array.isArray((node as {range?: unknown}).range);
}
