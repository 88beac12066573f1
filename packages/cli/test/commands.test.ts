import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {beforeAll, describe, expect, it} from 'vitest';
import {echoNotifier, externalPlugin, freshHome, lem} from './helpers.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
let home: string;
beforeAll(() => {
  home = freshHome();
  // A notifier whose settings hold a secret, so secrets are tested through a real plugin's section.
  const linked = lem(['plugins', 'link', externalPlugin('lem-notify-hook', echoNotifier('hook')), '--no-install'], {home});
  if (linked.status !== 0) throw new Error(linked.stderr);
});

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'lem-proj-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('lem --version and lem backends', () => {
  it('prints the version', () => {
    const run = lem(['--version'], {home});
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^@lem\/cli\/\d+\.\d+\.\d+ /);
  });

  it('lists the bundled llama.cpp backend', () => {
    const run = lem(['backends', '--json'], {home});
    expect(run.status, run.stderr).toBe(0);
    const json = JSON.parse(run.stdout) as {backends: Array<Record<string, unknown>>; problems: unknown[]};
    expect(json.backends).toContainEqual(expect.objectContaining({id: 'llamacpp', plugin: '@lem/backend-llamacpp', gpu: 'optional', local: true}));
    expect(json.problems).toEqual([]);
  });
});

describe('exit codes and coded errors', () => {
  it('a config error exits 2 with file:line:col, the key path and a Try line, and no stack', () => {
    const dir = project({'e.yaml': 'model: m\nworkload:\n  concurrency: 0\n'});
    const run = lem(['config', 'validate', 'e.yaml'], {home, cwd: dir});
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^Error E_CONFIG_INVALID: e\.yaml has an error$/m);
    expect(run.stderr).toMatch(/^ {2}e\.yaml:3:16 workload\.concurrency: .*>0/m);
    expect(run.stderr).toMatch(/^Try: /m);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stdout).toBe('');
  });

  it('--json puts the error on stdout as one document with the same code', () => {
    const dir = project({'e.yaml': 'model: m\nrepeat: 3\n'});
    const run = lem(['config', 'validate', 'e.yaml', '--json'], {home, cwd: dir});
    expect(run.status).toBe(2);
    const json = JSON.parse(run.stdout) as {error: {code: string; exitCode: number; details: Array<{location: {line: number}}>}};
    expect(json.error.code).toBe('E_CONFIG_REPETITION');
    expect(json.error.exitCode).toBe(2);
    expect(json.error.details[0]?.location.line).toBe(2);
  });

  it('usage errors exit 2 with the command\'s help as the Try line', () => {
    const unknown = lem(['config', 'validate', 'x.yaml', '--bogus'], {home});
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('Error E_USAGE: Nonexistent flag: --bogus');
    expect(unknown.stderr).toContain('Try: lem config validate --help');
    const missing = lem(['config', 'validate'], {home});
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/Error E_USAGE: Missing 1 required arg: file/);
  });

  it('a missing file and malformed YAML are coded errors', () => {
    const dir = project({'bad.yaml': 'model: m\n  workload: 3\n'});
    const missing = lem(['config', 'validate', 'nope.yaml'], {home, cwd: dir});
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('Error E_FILE_NOT_FOUND: nope.yaml does not exist');
    const bad = lem(['config', 'validate', 'bad.yaml'], {home, cwd: dir});
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/Error E_CONFIG_YAML: bad\.yaml is not valid YAML\n {2}bad\.yaml:1:8 Nested mappings/);
  });

  it('an unset ${ENV} secret names the variable and its position', () => {
    const dir = project({'.lem-config.yaml': 'notifications:\n  hook:\n    webhook_url: ${LEM_TEST_UNSET_HOOK}\n'});
    const run = lem(['config', 'show'], {home, cwd: dir});
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('Error E_CONFIG_ENV_UNSET');
    expect(run.stderr).toContain('.lem-config.yaml:3:18 notifications.hook.webhook_url: ${LEM_TEST_UNSET_HOOK} is not set');
    expect(run.stderr).toContain('Try: export LEM_TEST_UNSET_HOOK=');
  });
});

describe('lem config show', () => {
  it('shows each setting with the source that won', () => {
    const dir = project({
      '.lem-config.yaml': 'runner: docker\nresults_dir: from-config\nllamacpp:\n  parallel: 2\n',
      'e.yaml': 'model: tiny.gguf\nresults_dir: from-file\nworkload:\n  concurrency: 3\nllamacpp:\n  threads: 1\n',
    });
    const run = lem(['config', 'show', 'e.yaml', '--set', 'workload.concurrency=4', '--json'], {home, cwd: dir});
    expect(run.status, run.stderr).toBe(0);
    const json = JSON.parse(run.stdout) as {settings: Array<{key: string; value: unknown; from: string}>; configFile: string};
    const get = (key: string) => json.settings.find((s) => s.key === key);
    expect(get('workload.concurrency')).toMatchObject({value: 4, from: '--set workload.concurrency'});
    expect(get('results_dir')).toMatchObject({value: 'from-file', from: 'e.yaml:2:14'});
    expect(get('runner')).toMatchObject({value: 'docker', from: '.lem-config.yaml:1:9'});
    expect(get('workload.max_output_tokens')).toMatchObject({value: 128, from: 'default'});
    expect(get('llamacpp.threads')).toMatchObject({value: 1, from: 'e.yaml:6:12'});
    expect(get('llamacpp.parallel')).toMatchObject({value: 2, from: '.lem-config.yaml:4:13'});
    expect(json.configFile).toBe(join(dir, '.lem-config.yaml'));
  });

  it('works on defaults without a project file and redacts secrets', () => {
    const dir = project({'.lem-config.yaml': 'notifications:\n  hook:\n    webhook_url: ${LEM_TEST_HOOK}\n'});
    const run = lem(['config', 'show'], {home, cwd: dir, env: {LEM_TEST_HOOK: 'https://hooks.invalid/services/T0/B0/supersecretvalue'}});
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).not.toContain('supersecretvalue');
    expect(run.stdout).toMatch(/^notifications\.hook\.webhook_url\s+\$\{LEM_TEST_HOOK\}\s+\.lem-config\.yaml:3:18$/m);
    const bare = lem(['config', 'show'], {home, cwd: project({})});
    expect(bare.status).toBe(0);
    expect(bare.stdout).toMatch(/^runner\s+local\s+default$/m);
    expect(bare.stdout).toContain('no .lem-config.yaml');
  });
});

describe('lem config schema', () => {
  it('includes every bundled plugin\'s section and matches the committed schema files', () => {
    for (const [kind, file] of [
      ['experiment', 'schemas/experiment.schema.json'],
      ['project', 'schemas/lem-config.schema.json'],
      ['campaign', 'schemas/campaign.schema.json'],
    ] as const) {
      // Bundled plugins only: the committed files describe what a fresh install has.
      const run = lem(['config', 'schema', '--kind', kind], {home: freshHome()});
      expect(run.status, run.stderr).toBe(0);
      const schema = JSON.parse(run.stdout) as {properties: Record<string, unknown>; additionalProperties: unknown};
      expect(schema.additionalProperties).toBe(false);
      expect(schema.properties.llamacpp).toMatchObject({type: 'object'});
      // Drift check: regenerate with `pnpm run schemas` when the schemas change on purpose.
      expect(run.stdout, `${file} is stale: run pnpm run schemas`).toBe(readFileSync(join(repo, file), 'utf8'));
    }
  });
});

describe('README', () => {
  it('carries the configuration reference generated from the committed schemas', async () => {
    // @ts-expect-error plain JavaScript module without types
    const {referenceText} = (await import('../../../scripts/config-reference.mjs')) as {referenceText: (root: string) => string};
    const readme = readFileSync(join(repo, 'README.md'), 'utf8');
    expect(readme.includes(referenceText(repo)), 'README.md reference is stale: run pnpm run schemas').toBe(true);
  });
});
