import {API_VERSION, type LemEvent} from '@lem/plugin-kit';
import {SAMPLE_EVENTS, sectionParser} from '@lem/plugin-kit/testing';
import {describe, expect, it} from 'vitest';
import registerHook from './hooks/register.js';
import {COLOURS, configSchema, embed, LIMITS, notifier, render, retryAfterS, type DiscordSettings} from './index.js';

const {config, validate} = sectionParser<DiscordSettings>(configSchema);
const URL = 'https://discord.com/api/webhooks/123/SECRETSECRET';

const {done} = SAMPLE_EVENTS;
const failedMany: LemEvent = {
  ...done,
  type: 'campaign:interrupted',
  level: 'warning',
  title: 'Campaign sweep interrupted',
  fields: Array.from({length: 30}, (_, i) => ({name: `field ${i} ${'n'.repeat(300)}`, value: 'v'.repeat(1500)})),
  list: {title: 'Failed runs', items: Array.from({length: 10}, (_, i) => `conf-${i}: ${'x'.repeat(900)}`), total: 40},
  hint: 'lem resume 20261203-sweep',
};

/** An embed's text, counted as Discord counts it against the 6000-character total. */
function embedChars(e: Record<string, any>): number {
  return (e.title?.length ?? 0) + (e.description?.length ?? 0) + (e.footer?.text.length ?? 0) + (e.fields ?? []).reduce((n: number, f: {name: string; value: string}) => n + f.name.length + f.value.length, 0);
}

function expectWithinLimits(body: Record<string, any>): void {
  expect(body.content.length).toBeLessThanOrEqual(LIMITS.content);
  expect(body.embeds.length).toBeLessThanOrEqual(10);
  for (const e of body.embeds) {
    expect(e.title.length).toBeLessThanOrEqual(LIMITS.title);
    expect(e.description?.length ?? 0).toBeLessThanOrEqual(LIMITS.description);
    expect(e.fields.length).toBeLessThanOrEqual(LIMITS.fields);
    for (const f of e.fields) expect([f.name.length <= LIMITS.fieldName, f.value.length <= LIMITS.fieldValue, f.value.length > 0, typeof f.inline]).toEqual([true, true, true, 'boolean']);
    expect(e.footer.text.length).toBeLessThanOrEqual(LIMITS.footer);
    expect(embedChars(e)).toBeLessThanOrEqual(LIMITS.embedTotal);
    expect(Number.isInteger(e.color)).toBe(true);
    expect(new Date(e.timestamp).toISOString()).toBe(e.timestamp);
  }
}

describe('the Discord notifier', () => {
  it('registers through lem:register, with a schema that wants the webhook and defaults the rest', async () => {
    expect(await registerHook.call(undefined, {apiVersion: API_VERSION, lemVersion: '0.0.0'})).toEqual([notifier]);
    expect(await config({webhook_url: URL})).toEqual({webhook_url: URL, events: ['campaign:start', 'campaign:threshold', 'campaign:done', 'campaign:interrupted'], username: 'lem', mention: 'none'});
    for (const bad of [{}, {webhook_url: 'x'}, {webhook_url: URL, events: ['done']}, {webhook_url: URL, username: ''}, {webhook_url: URL, mention: 'all'}, {webhook_url: URL, avatar: 'x'}]) {
      expect('issues' in (await validate(bad)), JSON.stringify(bad)).toBe(true);
    }
  });

  it('renders one embed with the fields, a colour by outcome and the time, and pings nobody', async () => {
    const request = render(done, await config({webhook_url: URL}));
    expect(request.url).toBe(URL);
    const body = request.body as Record<string, any>;
    expect(body).toMatchObject({username: 'lem', content: 'Campaign sweep completed: 12 of 12 runs completed', allowed_mentions: {parse: []}});
    expect(body.embeds[0]).toMatchObject({title: done.title, color: COLOURS.success, footer: {text: 'lem · campaign:done'}, timestamp: done.at});
    expect(body.embeds[0].fields.map((f: {name: string}) => f.name)).toEqual(['Runs', 'Energy', 'Best energy per output token']);
    expect(body.embeds[0].description).toBeUndefined();
    expectWithinLimits(body);
  });

  it('keeps a large event within every limit and the 6000-character total, and mentions only when asked, on trouble', async () => {
    const body = render(failedMany, await config({webhook_url: URL, mention: 'here'})).body as Record<string, any>;
    expectWithinLimits(body);
    expect(body.content).toBe('@here Campaign sweep interrupted');
    expect(body.allowed_mentions).toEqual({parse: ['everyone']});
    expect(body.embeds[0].color).toBe(COLOURS.warning);
    // Thirty long fields do not fit 6000 characters: as many as fit, the last cut, then the failed runs.
    expect(body.embeds[0].fields.length).toBeGreaterThan(2);
    expect(body.embeds[0].fields.length).toBeLessThan(LIMITS.fields);
    expect(body.embeds[0].description).toMatch(/^\*\*Failed runs\*\* \(40\)/);
    const quiet = render(done, await config({webhook_url: URL, mention: 'here'})).body as Record<string, any>;
    expect([quiet.content.startsWith('@'), quiet.allowed_mentions]).toEqual([false, {parse: []}]);
  });

  it('lists the failed runs in the description, cut with a count, with the next command', () => {
    const e = embed({...done, list: failedMany.list, hint: failedMany.hint});
    expect(e.description).toMatch(/^\*\*Failed runs\*\* \(40\)\n• conf-0: x+/);
    expect(e.description).toMatch(/…and \d+ more\n\nNext: `lem resume 20261203-sweep`$/);
    expect(embedChars(e)).toBeLessThanOrEqual(LIMITS.embedTotal);
  });

  it("reads Discord's retry_after from a 429's JSON body, else the Retry-After header", () => {
    expect(retryAfterS(429, {}, '{"message": "You are being rate limited.", "retry_after": 0.75, "global": false}')).toBe(0.75);
    expect(retryAfterS(429, {'retry-after': '2'}, 'not json')).toBe(2);
    expect(retryAfterS(429, {}, '{}')).toBeUndefined();
    expect(retryAfterS(500, {}, '{"retry_after": 1}')).toBeUndefined();
  });
});
