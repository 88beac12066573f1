/**
 * The `lem init` wizard driven for real in a pseudo-terminal: keystrokes in, the screen read back.
 * A first run (the diagnosis first, invalid answers re-asked, a webhook checked by the Slack
 * plugin, the AI Energy Score prompts fetched from a local HF_ENDPOINT), a reconfigure (the file's
 * values offered, a literal secret never shown, comments kept), a cancelled run and a refused one
 * (nothing written), a hand-edited invalid file (a located error). What was written is read back
 * by real commands. Docker is pointed at nothing here; the image build is in the .docker test.
 */
import {existsSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {startHub, type Hub} from '../../core/src/datasets/__fixtures__/hub.js';
import {freshHome, lem, LEM_BIN, lemEnv} from './helpers.js';
import {KEYS, ptyMissing, spawnPty, type Pty} from './__fixtures__/pty.js';

const missing = ptyMissing();
if (missing && process.env.CI === 'true') throw new Error(`CI: ${missing}`);

const NO_DOCKER = 'unix:///nonexistent/docker.sock';
const SECRET = 'https://hooks.slack.com/services/T0000/B0000/s3cr3tS3CR3Ts3cr3t';
let hub: Hub;
let home: string;

beforeAll(async () => {
  hub = await startHub();
  home = freshHome();
});
afterAll(() => hub?.close());

const projectDir = () => mkdtempSync(join(tmpdir(), 'lem-wizard-'));

function wizard(cwd: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Pty {
  return spawnPty([process.execPath, LEM_BIN, 'init', ...args], {cwd, env: lemEnv(home, {DOCKER_HOST: NO_DOCKER, HF_ENDPOINT: hub.hubUrl, ...env})});
}

/** Waits for the question on `key`, then types `keys`. */
async function answer(pty: Pty, key: string, keys: string): Promise<void> {
  await pty.waitFor(`? ${key}`);
  pty.write(keys);
}

const erase = (n: number) => KEYS.backspace.repeat(n);

describe.skipIf(Boolean(missing))(`lem init in a terminal${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('a first run: the diagnosis, every preference asked, invalid answers re-asked, the dataset fetched; lem reads the file back', async () => {
    const cwd = projectDir();
    const pty = wizard(cwd);
    await pty.waitFor(/CHECK +VERDICT +DETAIL/);
    await pty.waitFor(/Docker +warning +no Docker engine at unix:\/\/\/nonexistent/);
    await pty.waitFor(/Experiments +ok/);
    await pty.waitFor('Where servers run: host processes (local) or containers (docker)');
    await answer(pty, 'runner', KEYS.down + KEYS.enter);
    await answer(pty, 'backend', KEYS.enter);
    await answer(pty, 'gaps.between_experiments_s', `abc${KEYS.enter}`);
    await pty.waitFor(/Invalid input: expected number/);
    pty.write(`${erase(3)}12${KEYS.enter}`);
    await answer(pty, 'gaps.between_cycles_s', `-5${KEYS.enter}`);
    await pty.waitFor(/Too small/);
    pty.write(`${erase(2)}0${KEYS.enter}`);
    await answer(pty, 'results_dir', `out${KEYS.enter}`);
    await answer(pty, 'dataset.kind', KEYS.down + KEYS.enter);
    await answer(pty, 'verbosity', KEYS.enter);
    await answer(pty, 'docker.strategy', KEYS.down + KEYS.enter);
    await answer(pty, 'docker.startup', KEYS.down + KEYS.enter);
    await answer(pty, 'docker.warmup_delay_s', KEYS.enter);
    await answer(pty, 'docker.auto_teardown', 'n');
    await answer(pty, 'retry.max_attempts', `2${KEYS.enter}`);
    await answer(pty, 'failure_threshold.ratio', KEYS.enter);
    // The Slack plugin's own schema checks the URL; the answer is asked again until it passes.
    await answer(pty, 'notifications.slack.webhook_url', `not-a-url${KEYS.enter}`);
    await pty.waitFor(/Invalid URL/);
    pty.write(`${erase(9)}\${LEM_TEST_SLACK_HOOK}${KEYS.enter}`);
    // Its events: the default four checked; the first (campaign:start) unchecked.
    await pty.waitFor(/\? notifications\.slack\.events[^\n]*\n\S*\s*\[x\] campaign:start\n\s*\[ \] campaign:cycle-done/);
    pty.write(KEYS.space + KEYS.enter);
    await answer(pty, 'notifications.discord.webhook_url', KEYS.enter);
    await answer(pty, 'Write', KEYS.enter);
    await pty.waitFor(/Wrote .*\.lem-config\.yaml/);
    await answer(pty, 'The AI Energy Score prompts are not cached. Fetch them now?', KEYS.enter);
    await pty.waitFor(/Fetched 118 prompts/);
    await pty.waitFor('next: lem experiment');
    expect(await pty.exited).toBe(0);
    expect(pty.screen()).not.toContain('Build backend images now?'); // no Docker: no image is offered
    expect(hub.hubRequests.length).toBeGreaterThan(0);

    const text = readFileSync(join(cwd, '.lem-config.yaml'), 'utf8');
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=./.lem/lem-config.schema.json');
    expect(text).toContain('webhook_url: ${LEM_TEST_SLACK_HOOK}');
    expect(text).not.toContain('discord');
    const env = {LEM_TEST_SLACK_HOOK: 'https://hooks.example/x', DOCKER_HOST: NO_DOCKER};
    // The stand-in Hub's file holds 118 prompts (the real one 1000, the default number asked).
    writeFileSync(join(cwd, 'c.yaml'), 'name: c\nmodel: m.gguf\ndataset:\n  n_prompts: 100\n');
    const plan = lem(['campaign', 'run', 'c.yaml', '--dry-run'], {home, cwd, env});
    expect(plan.status, plan.stderr).toBe(0);
    const rows = [['runner', 'docker'], ['gaps.between_experiments_s', '12'], ['gaps.between_cycles_s', '0'], ['retry.max_attempts', '2'], ['docker.strategy', 'persistent'], ['docker.startup', 'lazy'], ['docker.auto_teardown', 'false'], ['dataset.kind', 'aienergyscore']];
    for (const [key, value] of rows) expect(plan.stdout, key).toMatch(new RegExp(`^${key!.replace(/\./g, '\\.')} +${value} +\\.lem-config\\.yaml:\\d+:\\d+$`, 'm'));
    expect(plan.stdout).toMatch(/^notifications\.slack\.events +\["campaign:threshold","campaign:done","campaign:interrupted"\] +\.lem-config\.yaml:\d+:\d+$/m);
    const show = JSON.parse(lem(['config', 'show', '--json'], {home, cwd, env}).stdout) as {settings: Array<{key: string; value: unknown}>};
    const setting = (key: string) => show.settings.find((s) => s.key === key)?.value;
    expect(setting('results_dir')).toBe('out');
    expect(setting('notifications.slack.events')).toEqual(['campaign:threshold', 'campaign:done', 'campaign:interrupted']);
    expect(setting('notifications.slack.webhook_url')).toBe('${LEM_TEST_SLACK_HOOK}');
  });

  it('--reconfigure offers the file\'s values, never shows a literal secret, keeps what it does not ask and the comments', async () => {
    const cwd = projectDir();
    const original = `# our lab\nrunner: local # no Docker on this box\nnotifications:\n  slack:\n    webhook_url: ${SECRET}\n    mention: here\nllamacpp:\n  threads: 2\n`;
    writeFileSync(join(cwd, '.lem-config.yaml'), original);
    const pty = wizard(cwd, ['--reconfigure']);
    await pty.waitFor("Where servers run: host processes (local) or containers (docker) (now: the file's)");
    await pty.waitFor(/\? runner[^\n]*\n▸ local/);
    pty.write(KEYS.enter);
    await answer(pty, 'backend', KEYS.enter);
    await answer(pty, 'gaps.between_experiments_s', `45${KEYS.enter}`);
    for (const key of ['gaps.between_cycles_s', 'results_dir', 'dataset.kind', 'verbosity', 'retry.max_attempts', 'failure_threshold.ratio']) await answer(pty, key, KEYS.enter);
    await answer(pty, 'notifications.slack.webhook_url (enter keeps the one in the file, not shown; none removes it)', KEYS.enter);
    await answer(pty, 'notifications.slack.events', KEYS.enter);
    await answer(pty, 'notifications.discord.webhook_url (enter for none)', KEYS.enter);
    await answer(pty, 'Write', KEYS.enter);
    await pty.waitFor('next: lem experiment');
    expect(await pty.exited).toBe(0);
    const screen = pty.screen();
    expect(screen).not.toContain('s3cr3t');
    expect(screen).not.toContain('? docker.strategy'); // the local runner: container questions do not apply
    expect(screen).toMatch(/^notifications\.slack\.webhook_url +\[redacted\] +file$/m);
    expect(screen).toMatch(/^gaps\.between_experiments_s +45 +answered$/m);

    const text = readFileSync(join(cwd, '.lem-config.yaml'), 'utf8');
    expect(text).toContain('# our lab');
    expect(text).toMatch(/^runner: local # no Docker on this box$/m);
    expect(text).toContain(`webhook_url: ${SECRET}`);
    expect(text).toMatch(/^ {4}mention: here$/m);
    expect(text).toMatch(/^llamacpp:\n {2}threads: 2$/m);
    expect(text).toMatch(/^ {2}between_experiments_s: 45$/m);
  });

  it('Ctrl+C cancels: exit 130 and nothing written; an existing file is refused before any question', async () => {
    const cwd = projectDir();
    const pty = wizard(cwd);
    await answer(pty, 'runner', KEYS.enter);
    await answer(pty, 'backend', KEYS.ctrlC);
    expect(await pty.exited).toBe(130);
    expect(pty.screen()).toMatch(/E_INIT_CANCELLED: lem init was cancelled; nothing was written/);
    expect(pty.screen()).not.toMatch(/^\s+at /m);
    expect(existsSync(join(cwd, '.lem-config.yaml'))).toBe(false);
    expect(existsSync(join(cwd, '.lem'))).toBe(false);

    writeFileSync(join(cwd, '.lem-config.yaml'), 'runner: local\n');
    const refused = wizard(cwd);
    expect(await refused.exited).toBe(2);
    expect(refused.screen()).toMatch(/E_CONFIG_EXISTS/);
    expect(refused.screen()).toMatch(/Try: lem init --reconfigure/);
    expect(refused.screen()).not.toContain('? runner');
    expect(readFileSync(join(cwd, '.lem-config.yaml'), 'utf8')).toBe('runner: local\n');
  });

  it('a hand-edited file lem cannot read is a located error before any question', async () => {
    const cwd = projectDir();
    writeFileSync(join(cwd, '.lem-config.yaml'), '# edited by hand\nrunner: cloud\n');
    const pty = wizard(cwd, ['--reconfigure']);
    expect(await pty.exited).toBe(2);
    expect(pty.screen()).toMatch(/E_CONFIG_INVALID/);
    expect(pty.screen()).toMatch(/\.lem-config\.yaml:2:9/);
    expect(pty.screen()).toMatch(/^Try: /m);
    expect(pty.screen()).not.toContain('? runner');
  });

  it('without a terminal, lem init says to use --non-interactive', () => {
    const run = lem(['init'], {home, cwd: projectDir()});
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^Try: lem init --non-interactive/m);
  });

  it('without .lem-config.yaml, a command on a terminal says once per project that lem init sets preferences', async () => {
    const hintHome = freshHome();
    const run = async (cwd: string) => {
      const pty = spawnPty([process.execPath, LEM_BIN, 'backends'], {cwd, env: lemEnv(hintHome, {DOCKER_HOST: NO_DOCKER})});
      expect(await pty.exited).toBe(0);
      return pty.screen();
    };
    const hint = /no \.lem-config\.yaml, so lem runs on its defaults; `lem init` sets your preferences/;
    const first = projectDir();
    // Not on a terminal: nothing said, and nothing recorded.
    expect(lem(['backends'], {home: hintHome, cwd: first}).stderr).not.toMatch(hint);
    expect(await run(first)).toMatch(hint);
    expect(await run(first)).not.toMatch(hint);
    expect(await run(projectDir())).toMatch(hint); // another project is told too
    const configured = projectDir();
    writeFileSync(join(configured, '.lem-config.yaml'), 'runner: local\n');
    expect(await run(configured)).not.toMatch(hint);
  });
});

