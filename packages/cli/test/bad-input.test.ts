/**
 * Bad input through the real `lem` binary: every case ends with a coded error, exit code 2, the
 * file and line where there is one, and a Try line; never a stack trace or E_INTERNAL.
 */
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {freshHome, lem, type LemRun} from './helpers.js';

/** A project folder holding `files` (and, unless told otherwise, an examples/ folder). */
function project(files: Record<string, string>, options: {examples?: boolean} = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'lem-bad-input-'));
  if (options.examples ?? true) {
    mkdirSync(join(dir, 'examples'));
    writeFileSync(join(dir, 'examples', 'quickstart.yaml'), 'model: m.gguf\n');
  }
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function expectUsageError(run: LemRun, code: string): void {
  expect(run.status, run.stderr).toBe(2);
  expect(run.stderr).toContain(`Error ${code}:`);
  expect(run.stderr).toMatch(/^Try: /m);
  expect(run.stderr).not.toContain('E_INTERNAL');
  expect(run.stderr).not.toMatch(/^\s+at /m);
}

const bomb = ['a: &a [x,x,x,x,x,x,x,x,x]', 'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]', 'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]', 'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]', 'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]'].join('\n') + '\n';

describe('YAML that cannot become settings', () => {
  it.each([['experiment'], ['config validate']])('an alias bomb given to lem %s is a located config error', (command) => {
    const cwd = project({'bomb.yaml': bomb});
    const run = lem([...command.split(' '), 'bomb.yaml'], {cwd, home: freshHome()});
    expectUsageError(run, 'E_CONFIG_INVALID');
    expect(run.stderr).toContain('bomb.yaml:4:8 d[0]: alias *c');
    expect(run.stderr).toContain('alias bomb');
  });

  it('an alias bomb under --json is the same error as data', () => {
    const cwd = project({'bomb.yaml': bomb});
    const run = lem(['experiment', 'bomb.yaml', '--json'], {cwd, home: freshHome()});
    expect(run.status).toBe(2);
    const {error} = JSON.parse(run.stdout) as {error: {code: string; exitCode: number; details: Array<{location: {file: string; line: number}}>}};
    expect(error).toMatchObject({code: 'E_CONFIG_INVALID', exitCode: 2});
    expect(error.details[0]?.location).toMatchObject({file: 'bomb.yaml', line: 4});
  });

  it.each([
    ['an alias with no anchor', 'E_CONFIG_YAML', 'y.yaml:1:8', 'model: *m\n'],
    ['an alias inside its own anchor', 'E_CONFIG_INVALID', 'y.yaml:2:14', 'model: m\ngpus: &g [0, *g]\n'],
    ['a merge key', 'E_CONFIG_INVALID', 'y.yaml:4:3', 'model: m\nbase: &b {concurrency: 2}\nworkload:\n  <<: *b\n'],
    ['a second document', 'E_CONFIG_YAML', 'y.yaml:2:1', 'model: m\n---\nmodel: n\n'],
    ['an unknown tag', 'E_CONFIG_YAML', 'y.yaml:1:8', 'model: !gguf m\n'],
    ['a list as a key', 'E_CONFIG_YAML', 'y.yaml:1:3', '? [a, b]\n: 1\n'],
  ])('%s: %s at %s', (_what, code, where, text) => {
    const run = lem(['config', 'validate', 'y.yaml'], {cwd: project({'y.yaml': text}), home: freshHome()});
    expectUsageError(run, code);
    expect(run.stderr).toContain(`  ${where} `);
  });
});

describe('a path that is no experiment file', () => {
  it('names a folder, says it is one, and offers the experiment files in it', () => {
    const cwd = project({});
    const run = lem(['experiment', 'examples'], {cwd, home: freshHome()});
    expectUsageError(run, 'E_FILE_NOT_FOUND');
    expect(run.stderr).toContain('Error E_FILE_NOT_FOUND: examples is a folder, not an experiment file');
    expect(run.stderr).toContain('Try: lem experiment examples/quickstart.yaml');
    const validate = lem(['config', 'validate', 'examples'], {cwd, home: freshHome()});
    expect(validate.stderr).toContain('Try: lem config validate examples/quickstart.yaml');
  });

  it('names the working folder as "."', () => {
    const cwd = project({});
    const run = lem(['experiment', cwd], {cwd, home: freshHome()});
    expectUsageError(run, 'E_FILE_NOT_FOUND');
    expect(run.stderr).toContain('Error E_FILE_NOT_FOUND: . is a folder, not an experiment file');
  });

  it('points a missing experiment file at the examples, not at lem init', () => {
    const run = lem(['experiment', 'missing.yaml'], {cwd: project({}), home: freshHome()});
    expectUsageError(run, 'E_FILE_NOT_FOUND');
    expect(run.stderr).not.toContain('lem init');
    expect(run.stderr).toContain('Try: lem experiment examples/quickstart.yaml');
    const elsewhere = lem(['experiment', 'missing.yaml'], {cwd: project({}, {examples: false}), home: freshHome()});
    expect(elsewhere.stderr).toContain('Try: copy one of examples/*.yaml');
    expect(elsewhere.stderr).not.toContain('lem init');
  });

  it('suggests lem init for a missing .lem-config.yaml', () => {
    const run = lem(['config', 'validate', '.lem-config.yaml'], {cwd: project({}), home: freshHome()});
    expectUsageError(run, 'E_FILE_NOT_FOUND');
    expect(run.stderr).toContain('Try: lem init');
  });
});

describe('settings that are missing or contradict each other', () => {
  it('says a required key is missing, where, and shows the key to add', () => {
    const cwd = project({'m.yaml': 'workload:\n  concurrency: 2\n', 'd.yaml': 'model: m.gguf\ndataset:\n  kind: synthetic\n'});
    const top = lem(['experiment', 'm.yaml', '--dry-run'], {cwd, home: freshHome()});
    expectUsageError(top, 'E_CONFIG_INVALID');
    expect(top.stderr).toContain('  m.yaml:1:1 model: missing required key "model"');
    expect(top.stderr).toContain('Try: add to m.yaml:  model: <string>');
    expect(top.stderr).not.toContain('received undefined');
    const nested = lem(['experiment', 'd.yaml', '--dry-run'], {cwd, home: freshHome()});
    expectUsageError(nested, 'E_CONFIG_INVALID');
    expect(nested.stderr).toContain('  d.yaml:2:1 dataset.input_tokens: missing required key "input_tokens"');
    expect(nested.stderr).toContain('Try: add under dataset: in d.yaml:  input_tokens: <number>');
  });

  it('refuses rapl with cpu-estimate in the file, at measure.meters', () => {
    const cwd = project({'r.yaml': 'model: m.gguf\nmeasure:\n  meters: [rapl, cpu-estimate]\n'});
    const run = lem(['experiment', 'r.yaml', '--dry-run'], {cwd, home: freshHome()});
    expectUsageError(run, 'E_CONFIG_INVALID');
    expect(run.stderr).toContain('  r.yaml:3:11 measure.meters: rapl and cpu-estimate both measure the CPU');
    expect(run.stderr).toContain('Try: in r.yaml, measure.meters: [rapl]');
    expect(run.stderr).toContain('Try: in r.yaml, measure.meters: [cpu-estimate]');
  });

  it('refuses rapl with cpu-estimate from --set, naming the flag', () => {
    const cwd = project({'ok.yaml': 'model: m.gguf\n'});
    const run = lem(['experiment', 'ok.yaml', '--dry-run', '--set', 'measure.meters=[rapl,cpu-estimate]'], {cwd, home: freshHome()});
    expectUsageError(run, 'E_CONFIG_INVALID');
    expect(run.stderr).toContain('(from --set measure.meters)');
    expect(run.stderr).toContain("Try: --set 'measure.meters=[rapl]'");
  });

  it('shows measure.idle_settle_s with its default', () => {
    const cwd = project({'ok.yaml': 'model: m.gguf\n'});
    const run = lem(['experiment', 'ok.yaml', '--dry-run', '--json'], {cwd, home: freshHome()});
    expect(run.status, run.stderr).toBe(0);
    const {settings} = JSON.parse(run.stdout) as {settings: Array<{key: string; value: unknown; from: string}>};
    expect(settings.find((s) => s.key === 'measure.idle_settle_s')).toMatchObject({value: 2, from: 'default'});
  });
});
