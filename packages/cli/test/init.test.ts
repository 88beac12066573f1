/**
 * `lem init --non-interactive` through the real binary: the file it writes, read back by real
 * commands (each preference observed where it is consumed), the refusal to overwrite, a
 * reconfigure that keeps what it does not ask about, and bad answers refused at their flag with
 * nothing written; webhooks as secrets; the dataset fetched with --yes. The wizard in a terminal
 * is init-wizard.test.ts.
 */
import {existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {startHub, type Hub} from '../../core/src/datasets/__fixtures__/hub.js';
import {freshHome, lem, lemAsync} from './helpers.js';

const home = freshHome();
const projectDir = () => mkdtempSync(join(tmpdir(), 'lem-init-'));

describe('lem init --non-interactive', () => {
  it('writes every preference, with a schema line and the schema beside it, and lem reads them back where they are used', () => {
    const cwd = projectDir();
    const run = lem(['init', '--non-interactive', '--runner', 'docker', '--gap-between-experiments', '7', '--gap-between-cycles', '9', '--results-dir', 'out', '--verbosity', 'verbose', '--failure-threshold', '0.25', '--retry-attempts', '2', '--slack-webhook', '${LEM_TEST_UNSET_HOOK}'], {home, cwd});
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toContain('note: ${LEM_TEST_UNSET_HOOK} is not set in this shell');
    const text = readFileSync(join(cwd, '.lem-config.yaml'), 'utf8');
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=./.lem/lem-config.schema.json');
    expect((JSON.parse(readFileSync(join(cwd, '.lem/lem-config.schema.json'), 'utf8')) as {properties: Record<string, {properties?: object}>}).properties.notifications!.properties).toHaveProperty('slack');
    expect(text).toMatch(/^runner: docker$/m);
    expect(text).toContain('webhook_url: ${LEM_TEST_UNSET_HOOK}');

    writeFileSync(join(cwd, 'c.yaml'), 'name: c\nmodel: m.gguf\n');
    const plan = lem(['campaign', 'run', 'c.yaml', '--dry-run'], {home, cwd, env: {LEM_TEST_UNSET_HOOK: 'https://hooks.example/x'}});
    expect(plan.status, plan.stderr).toBe(0);
    for (const [key, value] of [['runner', 'docker'], ['gaps.between_experiments_s', '7'], ['gaps.between_cycles_s', '9'], ['retry.max_attempts', '2'], ['failure_threshold.ratio', '0.25']] as const) {
      expect(plan.stdout, key).toMatch(new RegExp(`^${key.replace(/\./g, '\\.')} +${value.replace(/\./g, '\\.')} +\\.lem-config\\.yaml:\\d+:\\d+$`, 'm'));
    }
    const show = lem(['config', 'show'], {home, cwd, env: {LEM_TEST_UNSET_HOOK: 'https://hooks.example/x'}});
    expect(show.stdout).toMatch(/^results_dir +out +\.lem-config\.yaml:/m);
    expect(show.stdout).toMatch(/^verbosity +verbose +\.lem-config\.yaml:/m);
  });

  it('the default backend, dataset and container preferences reach a campaign plan', () => {
    const cwd = projectDir();
    const run = lem(['init', '--non-interactive', '--runner', 'docker', '--backend', 'vllm', '--container-strategy', 'persistent', '--container-startup', 'lazy', '--container-warmup-delay', '3', '--container-teardown', 'false'], {home, cwd});
    expect(run.status, run.stderr).toBe(0);
    writeFileSync(join(cwd, 'c.yaml'), 'name: c\nmodel: m/x\ngpus: [0]\n');
    const plan = lem(['campaign', 'run', 'c.yaml', '--dry-run'], {home, cwd});
    expect(plan.status, plan.stderr).toBe(0);
    for (const [key, value] of [['backend', 'vllm'], ['docker.strategy', 'persistent'], ['docker.startup', 'lazy'], ['docker.warmup_delay_s', '3'], ['docker.auto_teardown', 'false']] as const) {
      expect(plan.stdout, key).toMatch(new RegExp(`^${key.replace(/\./g, '\\.')} +${value} +\\.lem-config\\.yaml:\\d+:\\d+$`, 'm'));
    }
    // The default dataset: AI Energy Score is refused until it is fetched, which is how a plan uses it.
    expect(lem(['init', '--reconfigure', '--non-interactive', '--dataset', 'aienergyscore'], {home, cwd}).status).toBe(0);
    const refused = lem(['campaign', 'run', 'c.yaml', '--dry-run'], {home, cwd});
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/^Try: lem datasets fetch aienergyscore$/m);
  });

  it('never overwrites a file without --reconfigure, which keeps the keys and comments it does not ask about', () => {
    const cwd = projectDir();
    writeFileSync(join(cwd, '.lem-config.yaml'), '# our lab settings\nrunner: local   # the box has no Docker\nllamacpp:\n  threads: 2\n');
    const refused = lem(['init', '--non-interactive'], {home, cwd});
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/^Error E_CONFIG_EXISTS: /m);
    expect(refused.stderr).toMatch(/^Try: lem init --reconfigure/m);
    const again = lem(['init', '--reconfigure', '--non-interactive', '--gap-between-experiments', '30'], {home, cwd});
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^runner +local +file$/m);
    expect(again.stdout).toMatch(/^gaps\.between_experiments_s +30 +given$/m);
    const text = readFileSync(join(cwd, '.lem-config.yaml'), 'utf8');
    expect(text).toContain('# our lab settings');
    expect(text).toMatch(/^runner: local # the box has no Docker$/m);
    expect(text).toMatch(/^llamacpp:\n {2}threads: 2$/m);
    expect(text).toMatch(/^ {2}between_experiments_s: 30$/m);
  });

  it('refuses bad answers at their flags and writes nothing', () => {
    const cwd = projectDir();
    const run = lem(['init', '--non-interactive', '--failure-threshold', '2', '--retry-attempts', 'x', '--discord-webhook', 'nope'], {home, cwd});
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^Error E_INIT_INVALID: /m);
    expect(run.stderr).toContain('--failure-threshold: 2: Too big');
    expect(run.stderr).toContain('--retry-attempts: x: Invalid input');
    expect(run.stderr).toMatch(/--discord-webhook: Invalid URL/);
    expect(run.stderr).not.toContain('nope'); // a webhook is a secret: not repeated
    expect(run.stderr).toMatch(/^Try: lem init … --failure-threshold <value>/m);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(existsSync(join(cwd, '.lem-config.yaml'))).toBe(false);
    const badChoice = lem(['init', '--non-interactive', '--runner', 'cloud'], {home, cwd});
    expect(badChoice.status).toBe(2);
    expect(existsSync(join(cwd, '.lem-config.yaml'))).toBe(false);
  });

  it('a literal webhook is written but never printed; an empty one removes its notifier; events are checked by the notifier', () => {
    const cwd = projectDir();
    const secret = 'https://hooks.slack.com/services/T1/B1/verysecretvalue';
    const run = lem(['init', '--non-interactive', '--slack-webhook', secret, '--slack-events', 'campaign:done,campaign:run-failed'], {home, cwd});
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout + run.stderr).not.toContain('verysecretvalue');
    expect(run.stdout).toMatch(/^notifications\.slack\.webhook_url +\[redacted\] +given$/m);
    expect(run.stdout).toMatch(/^notifications\.slack\.events +\["campaign:done","campaign:run-failed"\] +given$/m);
    expect(readFileSync(join(cwd, '.lem-config.yaml'), 'utf8')).toContain(`webhook_url: ${secret}`);

    const badEvents = lem(['init', '--reconfigure', '--non-interactive', '--slack-events', 'campaign:done,lunch'], {home, cwd});
    expect(badEvents.status).toBe(2);
    expect(badEvents.stderr).toMatch(/^ {2}--slack-events: campaign:done,lunch: Invalid option/m);

    const removed = lem(['init', '--reconfigure', '--non-interactive', '--slack-webhook', ''], {home, cwd});
    expect(removed.status, removed.stderr).toBe(0);
    expect(readFileSync(join(cwd, '.lem-config.yaml'), 'utf8')).not.toContain('slack');
  });

  it('a results folder that is a file is refused at --results-dir', () => {
    const cwd = projectDir();
    writeFileSync(join(cwd, 'taken'), 'not a folder');
    const run = lem(['init', '--non-interactive', '--results-dir', 'taken'], {home, cwd});
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^ {2}--results-dir: taken: .*taken is a file, not a folder$/m);
    expect(existsSync(join(cwd, '.lem-config.yaml'))).toBe(false);
  });
});

describe('lem init --non-interactive, observed in a real experiment', () => {
  it('verbosity: quiet silences lem experiment (--verbose wins back); results_dir is where its result lands', async () => {
    const cwd = projectDir();
    const {writeTinyModel} = await import('@lem/backend-llamacpp');
    await writeTinyModel(join(cwd, 'tiny.gguf'), {seed: 1});
    writeFileSync(join(cwd, 'tiny.yaml'), 'model: tiny.gguf\ndataset:\n  kind: builtin\n  n_prompts: 4\n  max_input_tokens: 32\nworkload:\n  max_output_tokens: 4\nwarmup:\n  mode: fixed\n  requests: 1\nmeasure:\n  baseline_s: 0.2\n  idle_settle_s: 0.1\nllamacpp:\n  threads: 1\n');
    expect(lem(['init', '--non-interactive', '--verbosity', 'quiet', '--results-dir', 'measured'], {home, cwd}).status).toBe(0);
    const quiet = lem(['experiment', 'tiny.yaml'], {home, cwd});
    expect(quiet.status, quiet.stderr).toBe(0);
    expect(quiet.stdout).toBe('');
    expect(readdirSync(join(cwd, 'measured'))).toHaveLength(1);
    expect(existsSync(join(cwd, 'results'))).toBe(false);
    const verbose = lem(['experiment', 'tiny.yaml', '--verbose'], {home, cwd});
    expect(verbose.status, verbose.stderr).toBe(0);
    expect(verbose.stdout).toMatch(/^Result: .*measured/m);
  });
});

describe('lem init --non-interactive and the AI Energy Score prompts', () => {
  let hub: Hub;
  beforeAll(async () => {
    hub = await startHub();
  });
  afterAll(() => hub.close());

  it('says how to fetch them without --yes, and fetches them from HF_ENDPOINT with --yes', async () => {
    const cwd = projectDir();
    const env = {HF_ENDPOINT: hub.hubUrl};
    const home = freshHome();
    const plain = await lemAsync(['init', '--non-interactive', '--dataset', 'aienergyscore'], {home, cwd, env});
    expect(plain.status, plain.stderr).toBe(0);
    expect(plain.stderr).toMatch(/lem datasets fetch aienergyscore/);
    expect(hub.hubRequests).toHaveLength(0);
    const yes = await lemAsync(['init', '--reconfigure', '--non-interactive', '--yes', '--dataset', 'aienergyscore'], {home, cwd, env});
    expect(yes.status, yes.stderr).toBe(0);
    expect(yes.stdout).toMatch(/^Fetched 118 prompts \(revision [0-9a-f]{40}\)/m);
    expect(hub.hubRequests.length).toBeGreaterThan(0);
  });
});

