import {mkdtempSync, readFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {defineNotifier, type LemEvent} from '@lem/plugin-kit';
import {afterEach, describe, expect, it} from 'vitest';
import {Redactor} from '../config/secrets.js';
import {buildRegistry} from '../registry.js';
import {startReceiver, type Receiver} from './__fixtures__/receiver.js';
import {Notifications} from './notifications.js';

const receivers: Receiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
});
const receiver = async (...script: Parameters<typeof startReceiver>) => {
  const r = await startReceiver(...script);
  receivers.push(r);
  return r;
};

/** A notifier that posts the event's title to its webhook (the services' own renderers are tested in their plugins). */
const plain = defineNotifier<{webhook_url: string; events?: string[]}>({
  id: 'plain',
  displayName: 'Plain',
  configSchema: {'~standard': {version: 1, vendor: 'test', validate: (v) => ({value: v as {webhook_url: string}})}},
  jsonSchema: {},
  render: (event, settings) => ({url: settings.webhook_url, body: {title: event.title, type: event.type}}),
});
const broken = defineNotifier({...plain, id: 'broken', render: () => { throw new Error('no template'); }});
const registry = buildRegistry([{plugin: {name: 'test-notifiers', version: '1.0.0'}, result: [plain, broken]}]);

const event = (type: LemEvent['type'], title = type): LemEvent => ({type, at: new Date().toISOString(), title, level: 'info', fields: [], data: {}});

function setup(settings: Record<string, unknown>, options: {delivery?: object} = {}) {
  const warnings: string[] = [];
  const redactor = new Redactor();
  for (const s of Object.values(settings)) redactor.add((s as {webhook_url: string}).webhook_url, '${WEBHOOK_URL}');
  const logPath = join(mkdtempSync(join(tmpdir(), 'lem-notify-')), 'notifications.jsonl');
  const n = new Notifications({registry, settings, redactor, warn: (l) => warnings.push(l), logPath, delivery: {backoffMs: 20, ...options.delivery}});
  return {n, warnings, logPath};
}

describe('Notifications', () => {
  it('sends each event to the notifiers that want it, in the background, and logs every delivery', async () => {
    const r = await receiver([{status: 200, delayMs: 300}]);
    const {n, warnings, logPath} = setup({plain: {webhook_url: r.url(), events: ['campaign:start', 'campaign:done']}});
    const t0 = performance.now();
    n.emit(event('campaign:start'));
    n.emit(event('campaign:cycle-done'));
    n.emit(event('campaign:done'));
    // emit does not wait for the receiver's 300 ms answers.
    expect(performance.now() - t0).toBeLessThan(100);
    await n.flush();
    expect(r.received.map((x) => (x.body as {type: string}).type).sort()).toEqual(['campaign:done', 'campaign:start']);
    expect(warnings).toEqual([]);
    const log = readFileSync(logPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(log.map((e) => [e.notifier, e.ok, e.status])).toEqual([['plain', true, 200], ['plain', true, 200]]);
  });

  it('sends the default events when the settings choose none', async () => {
    const r = await receiver();
    const {n} = setup({plain: {webhook_url: r.url()}});
    for (const type of ['campaign:start', 'campaign:run-failed', 'campaign:cycle-done', 'campaign:threshold', 'campaign:done', 'campaign:interrupted'] as const) n.emit(event(type));
    await n.flush();
    expect(r.received.map((x) => (x.body as {type: string}).type).sort()).toEqual(['campaign:done', 'campaign:interrupted', 'campaign:start', 'campaign:threshold']);
  });

  it('warns once per failed delivery, and never shows the webhook URL in a warning or the log', async () => {
    const r = await receiver([{status: 500, body: `upstream error for ${'x'}`}]);
    const url = r.url();
    const {n, warnings, logPath} = setup({plain: {webhook_url: url}, broken: {webhook_url: url}}, {delivery: {maxAttempts: 2}});
    n.emit(event('campaign:done'));
    await n.flush();
    expect(warnings.sort()).toEqual([
      "W_NOTIFY_FAILED: broken: campaign:done not delivered after 0 attempts: the notifier's render failed: no template",
      'W_NOTIFY_FAILED: plain: campaign:done not delivered after 2 attempts: HTTP 500: upstream error for x',
    ]);
    const text = readFileSync(logPath, 'utf8') + warnings.join('\n');
    expect(text).not.toContain('SECRET-TOKEN');
  });

  it("redacts the webhook's secret path when the service echoes it back", async () => {
    const echo = await receiver([{status: 400, body: 'no such webhook:', echoPath: true}]);
    const {n, warnings} = setup({plain: {webhook_url: echo.url()}}, {delivery: {maxAttempts: 1}});
    n.emit(event('campaign:done'));
    await n.flush();
    expect(warnings).toEqual(['W_NOTIFY_FAILED: plain: campaign:done not delivered after 1 attempt: HTTP 400: no such webhook: <webhook url>']);
  });

  it('gives what is pending at most the flush time, then stops it with a warning', async () => {
    const r = await receiver([{hang: true}]);
    const {n, warnings} = setup({plain: {webhook_url: r.url()}}, {delivery: {timeoutMs: 60_000}});
    n.emit(event('campaign:interrupted'));
    const t0 = performance.now();
    await n.flush(300);
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(2 * 300 + 1000);
    expect(warnings).toEqual(['W_NOTIFY_FAILED: plain: campaign:interrupted not delivered after 1 attempt: stopped: lem was exiting']);
  });

  it('starts no delivery while held (a run measuring), and every held one once released', async () => {
    const r = await receiver();
    const {n} = setup({plain: {webhook_url: r.url()}});
    n.hold();
    n.emit(event('campaign:start'));
    n.emit(event('campaign:done'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(r.received).toHaveLength(0);
    n.release();
    await n.flush();
    expect(r.received.map((x) => (x.body as {type: string}).type).sort()).toEqual(['campaign:done', 'campaign:start']);
  });

  it('holds a retry back while held, and makes it once released', async () => {
    const r = await receiver([{status: 500}, {status: 200}]);
    // The retry waits 400 ms after the 500; the hold comes within a few ms of the first request.
    const {n, warnings} = setup({plain: {webhook_url: r.url()}}, {delivery: {backoffMs: 400}});
    n.emit(event('campaign:start'));
    for (let i = 0; i < 400 && r.received.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    n.hold();
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(r.received).toHaveLength(1);
    n.release();
    await n.flush();
    expect(r.received).toHaveLength(2);
    expect(warnings).toEqual([]);
  });

  it('waits for a slow answer that comes within the flush time', async () => {
    const r = await receiver([{status: 200, delayMs: 500}]);
    const {n, warnings} = setup({plain: {webhook_url: r.url()}});
    n.emit(event('campaign:interrupted'));
    await n.flush(5000);
    expect(r.received).toHaveLength(1);
    expect(warnings).toEqual([]);
  });
});
