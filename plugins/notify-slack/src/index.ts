/**
 * @lem/notify-slack — lem's events as Slack incoming-webhook messages: Block Kit blocks (a header,
 * the fields, the failed runs, what to run next) with a plain `text` fallback for notifications
 * and clients without blocks. Pure: lem delivers what `render` returns, and asks `retryAfterS`
 * how long Slack wants it to wait after a 429.
 *
 * Limits, from Slack's Block Kit reference (api.slack.com/reference/block-kit/blocks): at most 50
 * blocks; a header's plain text at most 150 characters; a section's text at most 3000 characters
 * and at most 10 fields of at most 2000 characters each; a context block at most 10 elements.
 * Incoming webhooks answer 429 with a Retry-After header, in seconds
 * (api.slack.com/apis/rate-limits).
 */
import {DEFAULT_NOTIFY_EVENTS, defineNotifier, LEM_EVENT_TYPES, sectionJsonSchema, type LemEvent, type NotificationRequest} from '@lem/plugin-kit';
import {z} from 'zod';

export const LIMITS = {blocks: 50, headerText: 150, sectionText: 3000, fields: 10, fieldText: 2000} as const;

export const configSchema = z
  .object({
    webhook_url: z
      .url({protocol: /^https?$/})
      .describe('The incoming webhook of the channel (Slack app › Incoming Webhooks). A secret: give it as `${SLACK_WEBHOOK_URL}`; lem never prints or stores it.'),
    events: z
      .array(z.enum(LEM_EVENT_TYPES))
      .min(1)
      .default([...DEFAULT_NOTIFY_EVENTS])
      .describe('The events sent to this channel. Default: campaign:start, campaign:threshold, campaign:done, campaign:interrupted; add campaign:run-failed and campaign:cycle-done for more.'),
    mention: z
      .enum(['none', 'here', 'channel'])
      .default('none')
      .describe('Who is notified by warnings and errors (a threshold pause, an interruption, a failed run): `here` (@here), `channel` (@channel) or nobody.'),
  })
  .strict()
  .describe('Slack notifications (incoming webhook).');

export type SlackSettings = z.output<typeof configSchema>;
export const jsonSchema = sectionJsonSchema(z.toJSONSchema(configSchema, {io: 'input', target: 'draft-2020-12'}));

const ICON: Record<LemEvent['level'], string> = {info: ':information_source:', success: ':white_check_mark:', warning: ':warning:', error: ':x:'};

/** Cuts `text` to `max` characters, ending with an ellipsis when cut. */
export function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Slack's mrkdwn needs &, < and > escaped in text that is not markup. */
const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function listBlock(list: NonNullable<LemEvent['list']>): object {
  const more = list.total - list.items.length;
  const lines = list.items.map((item) => `• ${escape(item)}`);
  let text = `*${escape(list.title)}* (${list.total})\n${lines.join('\n')}`;
  if (more > 0) text += `\n…and ${more} more`;
  // Within the limit whatever the messages' lengths: the last lines give way to a count.
  while (text.length > LIMITS.sectionText && lines.length > 1) {
    lines.pop();
    text = `*${escape(list.title)}* (${list.total})\n${lines.join('\n')}\n…and ${list.total - lines.length} more`;
  }
  return {type: 'section', text: {type: 'mrkdwn', text: cut(text, LIMITS.sectionText)}};
}

/** The Block Kit blocks of an event. */
export function blocks(event: LemEvent): object[] {
  const out: object[] = [{type: 'header', text: {type: 'plain_text', text: cut(event.title, LIMITS.headerText), emoji: true}}];
  const fields = event.fields.slice(0, LIMITS.fields).map((f) => ({type: 'mrkdwn', text: cut(`*${escape(f.name)}*\n${escape(f.value)}`, LIMITS.fieldText)}));
  if (fields.length > 0) out.push({type: 'section', fields});
  if (event.list && event.list.items.length > 0) out.push(listBlock(event.list));
  if (event.hint) out.push({type: 'section', text: {type: 'mrkdwn', text: cut(`Next: \`${escape(event.hint)}\``, LIMITS.sectionText)}});
  out.push({type: 'context', elements: [{type: 'mrkdwn', text: `${ICON[event.level]} lem · ${event.type} · ${event.at}`}]});
  return out.slice(0, LIMITS.blocks);
}

/** The plain-text fallback: what notifications and clients without blocks show. */
export function fallbackText(event: LemEvent, mention: SlackSettings['mention']): string {
  const loud = mention !== 'none' && (event.level === 'warning' || event.level === 'error');
  return cut(`${loud ? `<!${mention}> ` : ''}${ICON[event.level]} ${escape(event.title)}`, LIMITS.sectionText);
}

export function render(event: LemEvent, settings: SlackSettings): NotificationRequest {
  return {url: settings.webhook_url, body: {text: fallbackText(event, settings.mention), blocks: blocks(event)}};
}

/** Slack's Retry-After header (seconds) on a 429. */
export function retryAfterS(status: number, headers: Record<string, string>): number | undefined {
  if (status !== 429) return undefined;
  const value = Number(headers['retry-after']);
  return Number.isFinite(value) && value >= 0 ? value : undefined;
}

export const notifier = defineNotifier<SlackSettings>({id: 'slack', displayName: 'Slack', configSchema, jsonSchema, render, retryAfterS});
