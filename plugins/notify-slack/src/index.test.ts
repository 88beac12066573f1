import {API_VERSION, type LemEvent} from '@lem/plugin-kit';
import {SAMPLE_EVENTS, sectionParser} from '@lem/plugin-kit/testing';
import {describe, expect, it} from 'vitest';
import registerHook from './hooks/register.js';
import {blocks, configSchema, LIMITS, notifier, render, retryAfterS, type SlackSettings} from './index.js';

const {config, validate} = sectionParser<SlackSettings>(configSchema);
const URL = 'https://hooks.slack.com/services/T000/B000/SECRETSECRET';

const {done} = SAMPLE_EVENTS;
const {interrupted} = SAMPLE_EVENTS;

/** Every text in Block Kit's limits, as Slack's reference gives them. */
function expectWithinLimits(body: {text: string; blocks: Array<Record<string, any>>}): void {
  expect(body.text.length).toBeGreaterThan(0);
  expect(body.blocks.length).toBeLessThanOrEqual(LIMITS.blocks);
  for (const block of body.blocks) {
    expect(['header', 'section', 'context', 'divider']).toContain(block.type);
    if (block.type === 'header') expect(block.text).toMatchObject({type: 'plain_text', text: expect.any(String)});
    if (block.type === 'header') expect(block.text.text.length).toBeLessThanOrEqual(LIMITS.headerText);
    if (block.type === 'section') {
      expect(block.text ?? block.fields).toBeDefined();
      if (block.text) expect(block.text.text.length).toBeLessThanOrEqual(LIMITS.sectionText);
      if (block.fields) {
        expect(block.fields.length).toBeLessThanOrEqual(LIMITS.fields);
        for (const f of block.fields) expect(f).toMatchObject({type: 'mrkdwn'});
        for (const f of block.fields) expect(f.text.length).toBeLessThanOrEqual(LIMITS.fieldText);
      }
    }
    if (block.type === 'context') expect(block.elements.length).toBeLessThanOrEqual(10);
  }
}

describe('the Slack notifier', () => {
  it('registers through lem:register, with a schema that wants the webhook and defaults the events', async () => {
    expect(await registerHook.call(undefined, {apiVersion: API_VERSION, lemVersion: '0.0.0'})).toEqual([notifier]);
    expect(await config({webhook_url: URL})).toEqual({webhook_url: URL, events: ['campaign:start', 'campaign:threshold', 'campaign:done', 'campaign:interrupted'], mention: 'none'});
    for (const bad of [{}, {webhook_url: 'not a url'}, {webhook_url: URL, events: ['campaign:finished']}, {webhook_url: URL, events: []}, {webhook_url: URL, mention: 'all'}, {webhook_url: URL, channel: '#x'}]) {
      expect('issues' in (await validate(bad)), JSON.stringify(bad)).toBe(true);
    }
  });

  it('renders a Block Kit message with a text fallback, posted to the webhook', async () => {
    const request = render(done, await config({webhook_url: URL}));
    expect(request.url).toBe(URL);
    const body = request.body as {text: string; blocks: Array<Record<string, any>>};
    expect(body.text).toBe(':white_check_mark: Campaign sweep completed: 12 of 12 runs completed');
    expect(body.blocks.map((b) => b.type)).toEqual(['header', 'section', 'context']);
    expect(body.blocks[1]!.fields.map((f: {text: string}) => f.text)).toEqual(['*Runs*\n12 completed, 0 failed, 0 not run', '*Energy*\n1.92 MJ', '*Best energy per output token*\nvllm-conc32: 0.412 J/token (95 % CI 0.401 J to 0.423 J, n = 3)']);
    expect(body.blocks[2]!.elements[0].text).toBe(':white_check_mark: lem · campaign:done · 2026-12-03T10:00:00.000Z');
    expectWithinLimits(body);
  });

  it('keeps a long failure list within the limits, cut with a count, escapes markup, and mentions only when asked, on trouble', async () => {
    const body = render(interrupted, await config({webhook_url: URL, mention: 'here'})).body as {text: string; blocks: Array<Record<string, any>>};
    expectWithinLimits(body);
    expect(body.text).toBe('<!here> :warning: Campaign sweep interrupted: 3 of 12 runs completed, 40 failed &lt;x&gt; &amp; y');
    const list = body.blocks.find((b) => b.type === 'section' && b.text?.text.startsWith('*Failed runs*'))!;
    expect(list.text.text).toMatch(/^\*Failed runs\* \(40\)\n• conf-0 cycle 1/);
    expect(list.text.text).toMatch(/\n…and \d+ more$/);
    expect(body.blocks.some((b) => b.text?.text === 'Next: `lem resume 20261203-sweep`')).toBe(true);
    expect((render(done, await config({webhook_url: URL, mention: 'here'})).body as {text: string}).text).not.toContain('<!here>');
  });

  it('cuts a long title and caps the fields', () => {
    const many: LemEvent = {...done, title: 't'.repeat(400), fields: Array.from({length: 14}, (_, i) => ({name: `f${i}`, value: 'v'.repeat(2500)}))};
    const out = blocks(many) as Array<Record<string, any>>;
    expect(out[0]!.text.text).toHaveLength(LIMITS.headerText);
    expect(out[1]!.fields).toHaveLength(LIMITS.fields);
    expectWithinLimits({text: 'x', blocks: out});
  });

  it("reads Slack's Retry-After header on a 429, and nothing else", () => {
    expect(retryAfterS(429, {'retry-after': '7'})).toBe(7);
    expect(retryAfterS(429, {})).toBeUndefined();
    expect(retryAfterS(500, {'retry-after': '7'})).toBeUndefined();
  });
});
