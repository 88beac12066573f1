import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {displayPath, loadYamlFile, parseYamlText} from './yaml-file.js';
import {codedErrorOf as thrown} from '../__fixtures__/coded-error.js';

const bomb = (levels: number) => {
  const names = 'abcdefghijklmnop'.slice(0, levels).split('');
  return names.map((n, i) => `${n}: &${n} [${Array.from({length: 9}, () => (i === 0 ? 'x' : `*${names[i - 1]}`)).join(',')}]`).join('\n') + '\n';
};

describe('YAML the parser refuses or cannot turn into plain data', () => {
  // Every error class the parser raises (doc.errors), its warnings (doc.warnings), what toJS
  // throws (alias limits, unresolved aliases), and valid YAML that is no plain data.
  const cases: Array<{what: string; text: string; code: string; line: number; col?: number; message: RegExp}> = [
    {what: 'an alias bomb, four levels', text: bomb(4), code: 'E_CONFIG_INVALID', line: 4, col: 8, message: /alias \*c .*alias bomb/},
    {what: 'an alias bomb, nine levels', text: bomb(9), code: 'E_CONFIG_INVALID', line: 4, col: 8, message: /alias \*c .*alias bomb/},
    {what: 'an alias with no anchor', text: 'model: *nope\n', code: 'E_CONFIG_YAML', line: 1, col: 8, message: /alias \*nope has no anchor &nope before it/},
    {what: 'an alias before its anchor', text: 'model: *m\nname: &m x\n', code: 'E_CONFIG_YAML', line: 1, col: 8, message: /alias \*m has no anchor/},
    {what: 'an alias inside its own anchor', text: 'gpus: &g [0, *g]\n', code: 'E_CONFIG_INVALID', line: 1, col: 14, message: /alias \*g .*contains it/},
    {what: 'an alias inside its anchor, deeper', text: 'workload: &w\n  api: [*w]\n', code: 'E_CONFIG_INVALID', line: 2, col: 9, message: /alias \*w .*contains it/},
    {what: 'a merge key', text: 'base: &b {concurrency: 2}\nworkload:\n  <<: *b\n', code: 'E_CONFIG_INVALID', line: 3, col: 3, message: /merge key/},
    {what: 'a %YAML 1.1 directive', text: '%YAML 1.1\n---\nmodel: m\n', code: 'E_CONFIG_INVALID', line: 1, col: 1, message: /YAML 1\.2/},
    {what: 'a second document', text: 'model: a\n---\nmodel: b\n', code: 'E_CONFIG_YAML', line: 2, col: 1, message: /one document/},
    {what: 'an unknown tag', text: 'model: !gguf tiny\n', code: 'E_CONFIG_YAML', line: 1, col: 8, message: /!gguf/},
    {what: 'a YAML 1.1 type tag', text: 'model: !!set {a, b}\n', code: 'E_CONFIG_YAML', line: 1, col: 8, message: /!!set/},
    {what: 'a timestamp tag', text: 'description: !!timestamp 2020-01-01\n', code: 'E_CONFIG_YAML', line: 1, col: 14, message: /!!timestamp/},
    {what: 'a tag that does not fit its value', text: 'gpus: !!int abc\n', code: 'E_CONFIG_YAML', line: 1, col: 7, message: /!!int/},
    {what: 'a tag of the wrong kind of collection', text: 'gpus: !!map [0, 1]\n', code: 'E_CONFIG_YAML', line: 1, col: 7, message: /!!map/},
    {what: 'an unknown directive', text: '%LEM 1\n---\nmodel: m\n', code: 'E_CONFIG_YAML', line: 1, col: 1, message: /directive/},
    {what: 'a list as a key', text: '? [a, b]\n: 1\n', code: 'E_CONFIG_YAML', line: 1, col: 3, message: /keys must be plain names/},
    {what: 'a mapping as a key', text: '{a: 1}: 2\n', code: 'E_CONFIG_YAML', line: 1, col: 1, message: /keys must be plain names/},
    {what: 'an alias as a key', text: 'k: &k model\n*k : m\n', code: 'E_CONFIG_YAML', line: 2, col: 1, message: /keys must be plain names/},
    {what: 'a duplicated key', text: 'model: m\nmodel: n\n', code: 'E_CONFIG_YAML', line: 2, col: 1, message: /unique/},
    {what: 'tabs as indentation', text: 'workload:\n\tapi: chat\n', code: 'E_CONFIG_YAML', line: 2, col: 1, message: /[Tt]ab/},
    {what: 'an unclosed list', text: 'gpus: [0, 1\n', code: 'E_CONFIG_YAML', line: 2, col: 1, message: /./},
    {what: 'a bad escape', text: 'model: "a\\qb"\n', code: 'E_CONFIG_YAML', line: 1, col: 10, message: /escape/},
    {what: 'two anchors on one value', text: 'model: &a &b m\n', code: 'E_CONFIG_YAML', line: 1, col: 11, message: /anchor/},
    {what: 'an anchor on an alias', text: 'model: &a m\nname: &b *a\n', code: 'E_CONFIG_YAML', line: 2, col: 10, message: /alias/},
    {what: 'an empty anchor', text: 'model: & m\n', code: 'E_CONFIG_YAML', line: 1, col: 8, message: /[Aa]nchor/},
    {what: 'a key longer than 1024 characters', text: `${'k'.repeat(1100)}: 1\n`, code: 'E_CONFIG_YAML', line: 1, col: 1, message: /1024/},
    // Where the parser gives up depends on the stack size: the column is not pinned.
    {what: 'nesting too deep to compose', text: `gpus: ${'['.repeat(20_000)}\n`, code: 'E_CONFIG_YAML', line: 1, message: /too deep/},
  ];

  it.each(cases)('$what: $code at line $line', ({text, code, line, col, message}) => {
    const error = thrown(() => parseYamlText(text, 'exp.yaml'));
    expect(error.code).toBe(code);
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('exp.yaml');
    expect(error.try.length).toBeGreaterThan(0);
    expect(error.details?.[0]?.location).toMatchObject({file: 'exp.yaml', line, ...(col === undefined ? {} : {col})});
    expect(error.details?.[0]?.message).toMatch(message);
    // The parser's own wording names its API (options, functions), which means nothing to a user.
    expect(JSON.stringify(error)).not.toMatch(/parseAllDocuments|stringKeys|resource exhaustion attack/);
  });

  it('refuses aliases exactly where the parser stops expanding them, and reads what it expands', () => {
    // The parser counts the anchor as a use: three levels weigh 10·10 = 100, at its limit of 100;
    // four levels pass it, and so does the hundredth alias of one value.
    expect(parseYamlText(bomb(3), 'exp.yaml').data).toMatchObject({c: expect.any(Array)});
    const uses = (n: number) => `m: &m x\nl: [${Array.from({length: n}, () => '*m').join(', ')}]\n`;
    expect((parseYamlText(uses(99), 'exp.yaml').data as {l: string[]}).l).toHaveLength(99);
    const error = thrown(() => parseYamlText(uses(100), 'exp.yaml'));
    expect(error.details?.[0]).toMatchObject({path: 'l[99]', location: {line: 2, col: 5 + 4 * 99}});
    expect(error.details?.[0]?.message).toMatch(/alias bomb/);
  });

  it('still reads aliases that share a value, and plain keys that look like numbers', () => {
    const loaded = parseYamlText('w: &w {concurrency: 2}\nworkload: *w\n1: one\n', 'exp.yaml');
    expect(loaded.data).toEqual({w: {concurrency: 2}, workload: {concurrency: 2}, 1: 'one'});
  });

  it('reads a file with no document as an empty mapping', () => {
    expect(parseYamlText('# nothing yet\n', 'exp.yaml').data).toEqual({});
  });
});

describe('files that cannot be read', () => {
  const project = () => {
    const root = mkdtempSync(join(tmpdir(), 'lem-yaml-'));
    mkdirSync(join(root, 'examples'));
    writeFileSync(join(root, 'examples', 'quickstart.yaml'), 'model: m\n');
    writeFileSync(join(root, 'examples', 'llama.yaml'), 'model: m\n');
    mkdirSync(join(root, 'empty'));
    return root;
  };

  it('names a folder, says it is one, and lists the experiment files in it', () => {
    const root = project();
    const error = thrown(() => loadYamlFile(join(root, 'examples'), {cwd: root}));
    expect(error.code).toBe('E_FILE_NOT_FOUND');
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe('examples is a folder, not an experiment file');
    expect(error.try).toEqual(['lem experiment examples/llama.yaml', 'lem experiment examples/quickstart.yaml']);
  });

  it('names the working folder as "." and points at the examples when a folder holds no YAML', () => {
    const root = project();
    expect(thrown(() => loadYamlFile(root, {cwd: root})).message).toBe('. is a folder, not an experiment file');
    expect(displayPath(root, root)).toBe('.');
    const empty = thrown(() => loadYamlFile(join(root, 'empty'), {cwd: root, command: 'lem config validate'}));
    expect(empty.message).toBe('empty is a folder, not an experiment file');
    expect(empty.try).toEqual(['empty holds no .yaml file; lem config validate examples/quickstart.yaml']);
  });

  it('points a missing experiment file at the examples, not at lem init', () => {
    const root = project();
    const error = thrown(() => loadYamlFile(join(root, 'missing.yaml'), {cwd: root}));
    expect(error.message).toBe('missing.yaml does not exist');
    expect(error.try.join('\n')).not.toContain('lem init');
    expect(error.try).toContain('lem experiment examples/quickstart.yaml');
    // A near miss in the same folder is offered first.
    const typo = thrown(() => loadYamlFile(join(root, 'examples', 'quickstrat.yaml'), {cwd: root}));
    expect(typo.try[0]).toBe('lem experiment examples/quickstart.yaml');
  });

  it('says to copy an example when there is no examples folder', () => {
    const root = mkdtempSync(join(tmpdir(), 'lem-yaml-'));
    const error = thrown(() => loadYamlFile(join(root, 'missing.yaml'), {cwd: root}));
    expect(error.try).toEqual(['copy one of examples/*.yaml from the lem repository, set its model:, then lem experiment <file>']);
  });

  it('suggests lem init only for a missing .lem-config.yaml', () => {
    const root = mkdtempSync(join(tmpdir(), 'lem-yaml-'));
    const error = thrown(() => loadYamlFile(join(root, '.lem-config.yaml'), {cwd: root, kind: 'project'}));
    expect(error.message).toBe('.lem-config.yaml does not exist');
    expect(error.try).toEqual(['lem init   # writes .lem-config.yaml']);
  });
});
