/**
 * Notifications through the real binary: a tiny campaign on the real llama.cpp server with Slack
 * and Discord configured in .lem-config.yaml as `${ENV}` webhooks pointing at real HTTP receivers
 * on 127.0.0.1. What arrives must be each service's own format; the webhook URLs must appear in
 * no output and no file; a dead receiver must not stretch the campaign beyond the flush limit;
 * Ctrl+C must still deliver "interrupted"; `lem notify test` reports the HTTP outcome.
 */
import {spawn} from 'node:child_process';
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {startReceiver, type Receiver} from '../../core/src/notify/__fixtures__/receiver.js';
import {freshHome, lem, lemAsync, lemEnv, LEM_BIN} from './helpers.js';

const pluginDist = new URL('../../../plugins/backend-llamacpp/dist/index.js', import.meta.url).href;
let home: string;
let dir: string;
let model: string;
const receivers: Receiver[] = [];

beforeAll(async () => {
  home = freshHome();
  dir = mkdtempSync(join(tmpdir(), 'lem-notify-'));
  model = join(dir, 'tiny.gguf');
  const {writeTinyModel} = (await import(pluginDist)) as {writeTinyModel: (p: string, o: {seed: number}) => Promise<unknown>};
  await writeTinyModel(model, {seed: 1});
}, 60_000);
afterAll(async () => {
  for (const r of receivers) await r.close();
});

async function receiver(...script: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...script);
  receivers.push(r);
  return r;
}

const CAMPAIGN = (cycles = 1) =>
  `name: notified\ncycles: ${cycles}\ngaps:\n  between_experiments_s: 0\n  between_cycles_s: 0\nmodel: ${model}\ndataset:\n  kind: builtin\n  n_prompts: 2\n  max_input_tokens: 32\nworkload:\n  max_output_tokens: 4\nwarmup:\n  mode: fixed\n  requests: 1\nmeasure:\n  baseline_s: 0.2\n  idle_settle_s: 0\nllamacpp:\n  threads: 1\n`;

/** A project whose .lem-config.yaml sends every event to Slack and Discord through ${ENV} webhooks. */
function project(name: string, slack: string, discord: string): {cwd: string; env: NodeJS.ProcessEnv} {
  const cwd = join(dir, name);
  mkdirSync(cwd, {recursive: true});
  const all = '[campaign:start, campaign:cycle-done, campaign:run-failed, campaign:threshold, campaign:done, campaign:interrupted]';
  writeFileSync(join(cwd, '.lem-config.yaml'), `notifications:\n  slack:\n    webhook_url: \${LEM_TEST_SLACK}\n    events: ${all}\n  discord:\n    webhook_url: \${LEM_TEST_DISCORD}\n    events: ${all}\n`);
  writeFileSync(join(cwd, 'c.yaml'), CAMPAIGN(2));
  return {cwd, env: {LEM_TEST_SLACK: slack, LEM_TEST_DISCORD: discord}};
}

/** Every file under `root`, read as text. */
function filesUnder(root: string): Array<{path: string; text: string}> {
  const out: Array<{path: string; text: string}> = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, {withFileTypes: true})) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && statSync(p).size < 20_000_000) out.push({path: p, text: readFileSync(p, 'latin1')});
    }
  };
  if (existsSync(root)) walk(root);
  return out;
}

const SECRET = 'SECRET-TOKEN-0123456789';
type SlackBody = {text: string; blocks: Array<{type: string; text?: {type: string; text: string}; fields?: unknown[]}>};
type DiscordBody = {content: string; username: string; embeds: Array<{title: string; color: number; fields: Array<{name: string; value: string}>; timestamp: string}>; allowed_mentions: {parse: string[]}};

describe('notifications of a campaign', () => {
  it('deliver each event natively to Slack and Discord, and the webhooks appear in no output and no file', async () => {
    const slack = await receiver();
    const discord = await receiver([{status: 204}]);
    const {cwd, env} = project('ok', slack.url(), discord.url('/api/webhooks/1/' + SECRET));
    const run = await lemAsync(['campaign', 'run', 'c.yaml'], {home, cwd, env});
    expect(run.status, run.stderr).toBe(0);

    const slackTypes = slack.received.map((r) => ((r.body as SlackBody).blocks.at(-1) as {elements?: Array<{text: string}>}).elements?.[0]?.text.split(' · ')[1]);
    expect(slackTypes).toEqual(['campaign:start', 'campaign:cycle-done', 'campaign:done']);
    const done = slack.received.at(-1)!.body as SlackBody;
    expect(done.text).toMatch(/^:white_check_mark: Campaign notified completed: 2 of 2 runs completed$/);
    expect(done.blocks.map((b) => b.type)).toEqual(['header', 'section', 'context']);
    // The figure is measured (a CPU estimate on the tiny model): its unit follows its size, µJ to J.
    expect(JSON.stringify(done.blocks[1])).toMatch(/Best energy per output token\*\\n.+ [µm]?J\/token/);

    const discordBodies = discord.received.map((r) => r.body as DiscordBody);
    expect(discordBodies.map((b) => b.embeds[0]!.title)).toEqual(['Campaign notified started: 2 runs', 'Campaign notified: cycle 1 of 2 done', 'Campaign notified completed: 2 of 2 runs completed']);
    expect(discordBodies.at(-1)).toMatchObject({username: 'lem', allowed_mentions: {parse: []}, embeds: [{color: 0x57f287}]});
    expect(discordBodies.at(-1)!.embeds[0]!.fields.map((f) => f.name)).toEqual(['Runs', 'Energy', 'Time', 'Best energy per output token']);

    // The URLs (and the secret in Discord's path) are nowhere: not on the console, in the state, the results, or a dry run.
    const shown = [run.stdout, run.stderr, lem(['config', 'show'], {home, cwd, env}).stdout, lem(['campaign', 'run', 'c.yaml', '--dry-run', '--json', '--fresh'], {home, cwd, env}).stdout];
    for (const text of [...shown, ...filesUnder(cwd).map((f) => f.text)]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(slack.url());
    }
    expect(shown[2]).toContain('${LEM_TEST_DISCORD}');
    const log = filesUnder(join(cwd, '.lem-state')).find((f) => f.path.endsWith('notifications.jsonl'))!;
    expect(log.text.trim().split('\n').map((l) => (JSON.parse(l) as {notifier: string; ok: boolean}).ok)).toEqual([true, true, true, true, true, true]);
  }, 120_000);

  it('a receiver that never answers costs the campaign at most the flush limit, with one warning per event', async () => {
    const dead = await receiver([{hang: true}]);
    const discord = await receiver([{status: 204}]);
    const {cwd, env} = project('dead', dead.url(), discord.url());
    writeFileSync(join(cwd, 'c.yaml'), CAMPAIGN(1));
    const t0 = performance.now();
    const run = await lemAsync(['campaign', 'run', 'c.yaml'], {home, cwd, env});
    const tookS = (performance.now() - t0) / 1000;
    expect(run.status, run.stderr).toBe(0);
    // Discord got everything; Slack's messages were given up at exit, each said once.
    expect(discord.received).toHaveLength(2);
    expect(run.stderr.match(/W_NOTIFY_FAILED: slack: /g)).toHaveLength(2);
    expect(run.stderr).not.toContain(dead.url());
    // The run itself takes a few seconds; the flush at exit adds at most 10 s (the 5 s request
    // timeouts overlap it): well under the 4 attempts × 5 s a blocking delivery would cost per event.
    expect(tookS).toBeLessThan(2 * (10 + 8));
  }, 120_000);

  it('Ctrl+C still delivers "interrupted", to a receiver that is slow to answer', async () => {
    const slack = await receiver([{status: 200, delayMs: 1500}]);
    const discord = await receiver([{status: 204}]);
    const {cwd, env} = project('ctrl-c', slack.url(), discord.url());
    const child = spawn(process.execPath, [LEM_BIN, 'campaign', 'run', 'c.yaml'], {cwd, env: lemEnv(home, env)});
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // Ctrl+C once the start has arrived (events, not time).
    for (let i = 0; i < 600 && discord.received.length === 0; i++) await sleep(50);
    expect(discord.received).toHaveLength(1);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    const last = (r: Receiver) => r.received.at(-1)!.body as SlackBody & DiscordBody;
    expect(last(discord).embeds[0]!.title).toMatch(/^Campaign notified interrupted: /);
    expect(last(slack).text).toMatch(/^:warning: Campaign notified interrupted: /);
    expect(JSON.stringify(last(slack).blocks)).toContain('Next: `lem resume ');
  }, 120_000);
});

describe('lem notify test', () => {
  it('reports the HTTP outcome of each configured notifier, without the URL', async () => {
    const slack = await receiver();
    const failing = await receiver([{status: 404, body: 'no_service'}]);
    const {cwd, env} = project('test', slack.url(), failing.url());
    const run = await lemAsync(['notify', 'test'], {home, cwd, env});
    expect(run.status).toBe(1);
    expect(run.stdout).toContain('slack: delivered (HTTP 200, 1 attempt)');
    expect(run.stdout).toContain('discord: not delivered after 1 attempt: HTTP 404: no_service');
    expect((slack.received[0]!.body as SlackBody).text).toBe(':white_check_mark: lem test message: notifications reach this channel');
    const one = await lemAsync(['notify', 'test', 'slack', '--json'], {home, cwd, env});
    expect(one.status, one.stderr).toBe(0);
    expect(JSON.parse(one.stdout)).toEqual({results: [{id: 'slack', ok: true, status: 200, attempts: 1, error: null}]});
    for (const text of [run.stdout, run.stderr, one.stdout]) expect(text).not.toContain(SECRET);
  });

  it('refuses a notifier that is not installed or not configured, saying what to do', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'lem-notify-none-'));
    const none = lem(['notify', 'test'], {home, cwd});
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/^Error E_NOTIFY_NOT_CONFIGURED: /m);
    expect(none.stderr).toMatch(/^Try: notifications:/m);
    const unknown = lem(['notify', 'test', 'teams'], {home, cwd});
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^Try: lem plugins install @lem\/notify-teams$/m);
  });
});
