import {readdirSync, readFileSync, statSync} from 'node:fs';
import {basename, dirname, isAbsolute, join, relative, resolve} from 'node:path';
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  Scalar,
  visit,
  type Alias,
  type Document,
  type Node,
  type YAMLError,
} from 'yaml';
import type {ErrorDetail, SourceLocation} from '@lem/plugin-kit';
import {configError, ErrorCodes} from '../errors.js';
import {closest, formatPath, type KeyPath} from './paths.js';

/** A YAML file read and parsed, able to point at the line and column of any key path. */
export interface LoadedFile {
  /** Path as the user gave it (used in messages). */
  path: string;
  /** Absolute path, when the file was read from disk: relative paths inside it hang from its folder. */
  absolutePath?: string;
  data: unknown;
  /** Location of the key itself (`key: true`) or of its value at `path`; the nearest existing ancestor when the path is absent. */
  locate(path: KeyPath, options?: {key?: boolean}): SourceLocation;
}

export interface LoadOptions {
  /** What the file is meant to be, for messages: an experiment file or `.lem-config.yaml`. Default `experiment`. */
  kind?: 'experiment' | 'project' | 'campaign';
  /** The command that takes such a file, for Try lines. Default `lem experiment`. */
  command?: string;
  /** The working directory paths are shown relative to (and `examples/` is looked for in). */
  cwd?: string;
}

/** The path as the user would type it from `cwd`: relative when inside it, `.` for `cwd` itself. */
export function displayPath(file: string, cwd = process.cwd()): string {
  if (!isAbsolute(file)) return file;
  const rel = relative(cwd, file);
  if (rel === '') return '.';
  return rel.startsWith('..') ? file : rel;
}

/** Reads and parses a YAML file; syntax errors (duplicate keys included) name `file:line:col`. */
export function loadYamlFile(file: string, options: LoadOptions = {}): LoadedFile {
  const cwd = options.cwd ?? process.cwd();
  const name = displayPath(file, cwd);
  let text: string;
  try {
    text = readFileSync(resolve(cwd, file), 'utf8');
  } catch (error) {
    throw unreadable(resolve(cwd, file), name, (error as NodeJS.ErrnoException).code ?? String(error), {
      kind: options.kind ?? 'experiment',
      command: options.command ?? 'lem experiment',
      cwd,
    });
  }
  return {...parseYamlText(text, name), absolutePath: resolve(cwd, file)};
}

/** The error for a file that could not be read (`file` absolute, `name` as shown), with what to run instead. */
function unreadable(file: string, name: string, code: string, options: Required<LoadOptions>): Error {
  const noun = options.kind === 'project' ? 'a settings file' : options.kind === 'campaign' ? 'a campaign file' : 'an experiment file';
  if (code === 'EISDIR') {
    const inside = yamlFilesIn(file).map((f) => join(name, f));
    return configError(
      ErrorCodes.fileNotFound,
      `${name} is a folder, not ${noun}`,
      inside.length > 0 ? inside.slice(0, 5).map((f) => `${options.command} ${f}`) : [`${name} holds no .yaml file; ${exampleHint(options)}`],
    );
  }
  if (code !== 'ENOENT') return configError(ErrorCodes.fileNotFound, `${name} cannot be read (${code})`, [`check the file's permissions: ls -l ${name}`]);
  // `lem init` writes .lem-config.yaml and nothing else, so it is only the answer for that file.
  if (options.kind === 'project') return configError(ErrorCodes.fileNotFound, `${name} does not exist`, ['lem init   # writes .lem-config.yaml']);
  const near = closest(basename(file), yamlFilesIn(dirname(file)));
  const tryLines = near ? [`${options.command} ${displayPath(join(dirname(file), near), options.cwd)}`] : [];
  const example = exampleHint(options);
  if (!tryLines.includes(example)) tryLines.push(example);
  return configError(ErrorCodes.fileNotFound, `${name} does not exist`, tryLines);
}

/** A command on one of the shipped examples when `examples/` is at hand, else where to find them. */
function exampleHint(options: Required<LoadOptions>): string {
  const examples = yamlFilesIn(join(options.cwd, 'examples'));
  const preferred = options.kind === 'campaign' ? 'tiny-campaign.yaml' : 'quickstart.yaml';
  const pick = examples.includes(preferred) ? preferred : examples[0];
  return pick ? `${options.command} examples/${pick}` : `copy one of examples/*.yaml from the lem repository, set its model:, then ${options.command} <file>`;
}

function yamlFilesIn(folder: string): string[] {
  try {
    return readdirSync(folder)
      .filter((f) => /\.ya?ml$/i.test(f) && statSync(join(folder, f)).isFile())
      .sort();
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing

/**
 * The parser's limit on alias expansion (its defence against "alias bombs"); a config file that
 * needs more repetition than this is better written out.
 */
const MAX_ALIAS_COUNT = 100;

const SYNTAX_TRY = 'fix the syntax at the position shown (indentation, a missing colon, or a duplicated key)';

/** The parser's wording where it speaks of its own API or is terse, in the user's terms, with the fix. */
function describeParserProblem(e: YAMLError, text: string): {message: string; try: string} {
  const source = text.slice(e.pos[0], e.pos[1]).trim();
  switch (e.code) {
    case 'MULTIPLE_DOCS':
      return {message: 'a second YAML document starts here; a lem file holds one document', try: 'remove the `---` line and what follows it, or move that document to a file of its own'};
    case 'NON_STRING_KEY':
      return {message: 'keys must be plain names, not lists, mappings or aliases', try: 'write the key as a plain name, e.g. `concurrency: 4`'};
    case 'TAG_RESOLVE_FAILED':
      return {message: `cannot read the tag ${source || 'here'}: lem files take plain values, without tags`, try: 'remove the tag and write the value plainly (quote it to keep it text)'};
    case 'BAD_DIRECTIVE':
      return {message: e.message.split('\n')[0] ?? e.code, try: 'remove the line starting with %: lem files need no directives'};
    case 'RESOURCE_EXHAUSTION':
      return {message: 'nesting too deep to read', try: 'flatten the value: lem settings are nested a few levels at most'};
    default:
      return {message: e.message.split('\n')[0] ?? e.code, try: SYNTAX_TRY};
  }
}

export function parseYamlText(text: string, name: string): LoadedFile {
  const lineCounter = new LineCounter();
  // `stringKeys`: every key is read as text (`1:` is the key "1"), and lists or mappings as keys are
  // errors. `merge: false` and no YAML 1.1 tags: what the file says is what lem reads.
  const doc = parseDocument(text, {lineCounter, prettyErrors: false, uniqueKeys: true, strict: true, stringKeys: true, merge: false, resolveKnownTags: false});
  const at = (offset: number): SourceLocation => {
    const pos = lineCounter.linePos(offset);
    return {file: name, line: pos.line, col: pos.col};
  };
  // Warnings too: an unknown tag or directive would otherwise be dropped silently.
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) {
    const described = problems.map((e) => ({...describeParserProblem(e, text), location: at(e.pos[0])}));
    throw configError(
      ErrorCodes.yamlSyntax,
      `${name} is not valid YAML`,
      [...new Set(described.map((d) => d.try))],
      described.map((d) => ({message: d.message, location: d.location})),
    );
  }
  const aliases = checkAliases(doc, name, at, text);
  let data: unknown;
  try {
    data = doc.toJS({maxAliasCount: MAX_ALIAS_COUNT});
  } catch (error) {
    throw notPlainData(error, aliases, name, at);
  }
  return {
    path: name,
    data: data ?? {},
    locate: (path, options) => locateIn(doc, path, options?.key ?? false, at, name),
  };
}

interface AliasUse {
  node: Alias;
  path: KeyPath;
  /** How many values the alias stands for once every alias inside it is expanded too. */
  expandsTo: number;
}

/**
 * Refuses what valid YAML can say but plain data cannot hold, each at its position: an alias with
 * no anchor before it, an alias inside the value it names (a cycle), `<<` merge keys, and a
 * `%YAML 1.1` directive (which reads `yes` as true and `<<` as a merge). Returns every alias with
 * its expansion, to point at the worst one if the parser's alias limit is hit.
 */
function checkAliases(doc: Document, name: string, at: (offset: number) => SourceLocation, text: string): AliasUse[] {
  const anchors = new Map<string, Node>();
  const targets = new Map<Alias, Node>();
  const uses: Array<Omit<AliasUse, 'expandsTo'>> = [];
  const unresolved: ErrorDetail[] = [];
  const refused: ErrorDetail[] = [];
  const tryLines = new Set<string>();
  if (doc.directives?.yaml.explicit && doc.directives.yaml.version !== '1.2') {
    const offset = /^%YAML\b/m.exec(text)?.index ?? 0;
    refused.push({message: `lem reads YAML 1.2; this %YAML ${doc.directives.yaml.version} directive would change how values read (yes/no as booleans, << as merges)`, location: at(offset)});
    tryLines.add('remove the %YAML line');
  }
  // visit() walks in document order, the order in which the parser resolves an alias to the last
  // anchor of its name before it.
  visit(doc, {
    Pair: (_key, pair, path) => {
      if (isScalar(pair.key) && pair.key.type === Scalar.PLAIN && pair.key.value === '<<') {
        refused.push({
          ...pathOf([...path, pair]),
          message: 'merge keys (<<) are not supported: YAML 1.2, which lem reads, has none',
          location: at(pair.key.range?.[0] ?? 0),
        });
        tryLines.add('write the keys out, or use an alias for the whole value (workload: *defaults)');
      }
    },
    Node: (_key, node, path) => {
      if (isAlias(node)) {
        const target = anchors.get(node.source);
        const location = at(node.range?.[0] ?? 0);
        const where = pathOf([...path, node]);
        if (!target) {
          unresolved.push({...where, message: `alias *${node.source} has no anchor &${node.source} before it`, location});
        } else if (path.includes(target)) {
          refused.push({...where, message: `alias *${node.source} stands for the value that contains it, which would never end`, location});
          tryLines.add('write the value out instead of the alias');
        } else {
          targets.set(node, target);
          uses.push({node, path: keyPath([...path, node])});
        }
      } else if (node.anchor) {
        anchors.set(node.anchor, node);
      }
    },
  });
  if (unresolved.length > 0) {
    throw configError(ErrorCodes.yamlSyntax, `${name} is not valid YAML`, ['define the anchor (&name) on a value above the alias, or write the value out'], unresolved);
  }
  if (refused.length > 0) {
    throw configError(ErrorCodes.configInvalid, `${name} ${refused.length === 1 ? 'has an error' : `has ${refused.length} errors`}`, [...tryLines], refused);
  }
  const sizes = new Map<unknown, number>();
  const size = (node: unknown): number => {
    const known = sizes.get(node);
    if (known !== undefined) return known;
    let n = 1;
    if (isAlias(node)) n = size(targets.get(node));
    else if (isMap(node)) for (const p of node.items) n += size(p.key) + size(p.value);
    else if (isSeq(node)) for (const item of node.items) n += size(item);
    sizes.set(node, n);
    return n;
  };
  const measured = uses.map((u) => ({...u, expandsTo: size(u.node)}));
  const bomb = aliasLimitHit(measured, targets);
  if (bomb) throw aliasBomb(bomb, name, at);
  return measured;
}

/**
 * The alias at which the parser's `maxAliasCount` check gives up, found the way it counts (in
 * document order, each use of an anchor weighted by the aliasing nested inside it), so the error
 * points at the alias the parser would stop on rather than at the end of the file.
 */
function aliasLimitHit(uses: AliasUse[], targets: Map<Alias, Node>): AliasUse | undefined {
  const count = new Map<Node, number>();
  const weight = new Map<Node, number>();
  const nested = (node: unknown): number => {
    if (isAlias(node)) {
      const target = targets.get(node)!;
      return (count.get(target) ?? 1) * (weight.get(target) ?? 0);
    }
    if (isPair(node)) return Math.max(nested(node.key), nested(node.value));
    if (isMap(node) || isSeq(node)) return (node.items as unknown[]).reduce<number>((m, item) => Math.max(m, nested(item)), 0);
    return 1;
  };
  for (const use of uses) {
    const target = targets.get(use.node)!;
    // The anchor itself is the first use.
    count.set(target, (count.get(target) ?? 1) + 1);
    if (!weight.get(target)) weight.set(target, nested(target));
    if (count.get(target)! * weight.get(target)! > MAX_ALIAS_COUNT) return use;
  }
  return undefined;
}

function aliasBomb(use: AliasUse, name: string, at: (offset: number) => SourceLocation): Error {
  return configError(ErrorCodes.configInvalid, `${name} has an error`, ['write the values out, or nest fewer aliases inside anchors'], [
    {
      ...(use.path.length > 0 ? {path: formatPath(use.path)} : {}),
      message: `alias *${use.node.source} stands for ${use.expandsTo} values, and aliases like it repeat values more than ${MAX_ALIAS_COUNT} times: such a file (an "alias bomb") is refused`,
      location: at(use.node.range?.[0] ?? 0),
    },
  ]);
}

/** Anything else `toJS` throws, at the alias that expands most (aliases are what it resolves), else at the top. */
function notPlainData(error: unknown, aliases: AliasUse[], name: string, at: (offset: number) => SourceLocation): Error {
  const worst = aliases.reduce<AliasUse | undefined>((best, a) => (!best || a.expandsTo > best.expandsTo ? a : best), undefined);
  const reason = error instanceof Error ? error.message : String(error);
  return configError(ErrorCodes.configInvalid, `${name} has an error`, ['write the value out plainly, without aliases'], [
    {
      ...(worst && worst.path.length > 0 ? {path: formatPath(worst.path)} : {}),
      message: `cannot be read as plain data: ${reason}`,
      location: worst?.node.range ? at(worst.node.range[0]) : at(0),
    },
  ]);
}

function pathOf(visitPath: readonly unknown[]): {path?: string} {
  const text = formatPath(keyPath(visitPath));
  return text ? {path: text} : {};
}

/** The key path (`workload.api`, `gpus[1]`) of the last node of a visit() path. */
function keyPath(path: readonly unknown[]): KeyPath {
  const out: Array<string | number> = [];
  for (let i = 0; i < path.length; i++) {
    const step = path[i];
    const next = path[i + 1];
    if (isPair(step) && isScalar(step.key) && next !== step.key) out.push(String(step.key.value));
    else if (isSeq(step) && next !== undefined) out.push(step.items.indexOf(next as Node));
  }
  return out;
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
