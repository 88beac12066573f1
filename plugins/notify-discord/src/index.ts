/**
 * @lem/notify-discord — lem's events as Discord webhook messages: one embed (title, a colour by
 * outcome, the fields, the failed runs, what to run next, the time) and a short `content` line.
 * Pure: lem delivers what `render` returns, and asks `retryAfterS` how long Discord wants it to
 * wait after a 429.
 *
 * Limits, from Discord's developer documentation (Channel › Embed Limits; Webhook › Execute
 * Webhook): content at most 2000 characters; at most 10 embeds; an embed's title at most 256,
 * description at most 4096, at most 25 fields, a field's name at most 256 and value at most 1024,
 * footer text at most 2048, and all of an embed's text together at most 6000 characters. A 429's
 * JSON body carries `retry_after` in seconds (Topics › Rate Limits).
 */
import {DEFAULT_NOTIFY_EVENTS, defineNotifier, LEM_EVENT_TYPES, sectionJsonSchema, type LemEvent, type NotificationRequest} from '@lem/plugin-kit';
import {z} from 'zod';

export const LIMITS = {content: 2000, title: 256, description: 4096, fields: 25, fieldName: 256, fieldValue: 1024, footer: 2048, embedTotal: 6000} as const;

export const configSchema = z
  .object({
    webhook_url: z
      .url({protocol: /^https?$/})
      .describe('The channel webhook (Server Settings › Integrations › Webhooks). A secret: give it as `${DISCORD_WEBHOOK_URL}`; lem never prints or stores it.'),
    events: z
      .array(z.enum(LEM_EVENT_TYPES))
      .min(1)
      .default([...DEFAULT_NOTIFY_EVENTS])
      .describe('The events sent to this channel. Default: campaign:start, campaign:threshold, campaign:done, campaign:interrupted; add campaign:run-failed and campaign:cycle-done for more.'),
    username: z.string().min(1).max(80).default('lem').describe("The name the messages are posted under (the webhook's own name is overridden)."),
    mention: z
      .enum(['none', 'here', 'everyone'])
      .default('none')
      .describe('Who is pinged by warnings and errors (a threshold pause, an interruption, a failed run): `here`, `everyone` or nobody. Nothing else in a message can ping.'),
  })
  .strict()
  .describe('Discord notifications (channel webhook).');

export type DiscordSettings = z.output<typeof configSchema>;
export const jsonSchema = sectionJsonSchema(z.toJSONSchema(configSchema, {io: 'input', target: 'draft-2020-12'}));

/** Embed colours by outcome (Discord's own palette: blurple, green, yellow, red). */
export const COLOURS: Record<LemEvent['level'], number> = {info: 0x5865f2, success: 0x57f287, warning: 0xfee75c, error: 0xed4245};

export function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The failed runs (and the next command) as the description, within its limit and the embed's budget. */
function description(event: LemEvent, budget: number): string | undefined {
  const parts: string[] = [];
  if (event.list && event.list.items.length > 0) {
    const lines = event.list.items.map((item) => `• ${item}`);
    const listText = (shown: string[]) => `**${event.list!.title}** (${event.list!.total})\n${shown.join('\n')}${event.list!.total > shown.length ? `\n…and ${event.list!.total - shown.length} more` : ''}`;
    const limit = Math.min(LIMITS.description, budget) - 200;
    let text = listText(lines);
    // Within the limit whatever the messages' lengths: the last lines give way to a count.
    while (text.length > limit && lines.length > 1) {
      lines.pop();
      text = listText(lines);
    }
    parts.push(text);
  }
  if (event.hint) parts.push(`Next: \`${event.hint}\``);
  return parts.length > 0 ? cut(parts.join('\n\n'), Math.min(LIMITS.description, budget)) : undefined;
}

/** What the description keeps of the 6000 characters when there is a list or a hint to show. */
const DESCRIPTION_RESERVE = 1500;

/** The fields, each within its limits, as many as fit `budget` characters (the last one cut to fit). */
function fitFields(fields: LemEvent['fields'], budget: number): Array<{name: string; value: string; inline: boolean}> {
  const out: Array<{name: string; value: string; inline: boolean}> = [];
  let left = budget;
  for (const f of fields.slice(0, LIMITS.fields)) {
    const name = cut(f.name, LIMITS.fieldName);
    const room = Math.min(LIMITS.fieldValue, left - name.length);
    if (room < 20) break;
    const value = cut(f.value || '—', room);
    out.push({name, value, inline: value.length <= 40});
    left -= name.length + value.length;
  }
  return out;
}

/** The embed of an event, within every per-part limit and the 6000-character total. */
export function embed(event: LemEvent): Record<string, unknown> {
  const title = cut(event.title, LIMITS.title);
  const footer = cut(`lem · ${event.type}`, LIMITS.footer);
  const reserve = event.list || event.hint ? DESCRIPTION_RESERVE : 0;
  const fields = fitFields(event.fields, LIMITS.embedTotal - title.length - footer.length - reserve);
  const used = title.length + footer.length + fields.reduce((n, f) => n + f.name.length + f.value.length, 0);
  const text = description(event, LIMITS.embedTotal - used);
  return {title, color: COLOURS[event.level], ...(text ? {description: text} : {}), fields, footer: {text: footer}, timestamp: event.at};
}

export function render(event: LemEvent, settings: DiscordSettings): NotificationRequest {
  const loud = settings.mention !== 'none' && (event.level === 'warning' || event.level === 'error');
  return {
    url: settings.webhook_url,
    body: {
      username: settings.username,
      content: cut(`${loud ? `@${settings.mention} ` : ''}${event.title}`, LIMITS.content),
      embeds: [embed(event)],
      // Only the mention asked for can ping; nothing from a run's text (a model's name, an error) can.
      allowed_mentions: {parse: loud ? ['everyone'] : []},
    },
  };
}

/** Discord's `retry_after` (seconds) from a 429's JSON body, else its Retry-After header. */
export function retryAfterS(status: number, headers: Record<string, string>, body: string): number | undefined {
  if (status !== 429) return undefined;
  try {
    const value = (JSON.parse(body) as {retry_after?: unknown}).retry_after;
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  } catch {
    // Not JSON: the header, if any.
  }
  const header = Number(headers['retry-after']);
  return Number.isFinite(header) && header >= 0 ? header : undefined;
}

export const notifier = defineNotifier<DiscordSettings>({id: 'discord', displayName: 'Discord', configSchema, jsonSchema, render, retryAfterS});
