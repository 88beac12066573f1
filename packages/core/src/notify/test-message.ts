/**
 * `lem notify test`: one test message to each configured notifier (or the one named), sent at
 * once and waited for, so the user sees the HTTP outcome before trusting a campaign to it.
 */
import type {LemEvent} from '@lem/plugin-kit';
import type {Redactor} from '../config/secrets.js';
import {configError} from '../errors.js';
import type {Registry} from '../registry.js';
import type {DeliveryOptions, DeliveryOutcome} from './deliver.js';
import {Notifications} from './notifications.js';

export interface NotifyTestInput {
  registry: Registry;
  /** The project's resolved `notifications`. */
  settings: Record<string, unknown>;
  redactor: Redactor;
  /** A notifier id, or undefined for every configured one. */
  id?: string;
  delivery?: Partial<DeliveryOptions>;
}

export function testEvent(at = new Date()): LemEvent {
  return {
    type: 'notify:test',
    at: at.toISOString(),
    title: 'lem test message: notifications reach this channel',
    level: 'success',
    fields: [{name: 'Sent by', value: '`lem notify test`'}],
    hint: 'lem campaign run <campaign.yaml>',
    data: {},
  };
}

const HOW = 'notifications:\n  slack:\n    webhook_url: ${SLACK_WEBHOOK_URL}   # in .lem-config.yaml';

function chosenIds(input: NotifyTestInput): string[] {
  const configured = Object.keys(input.settings);
  if (input.id === undefined) {
    if (configured.length === 0) throw configError('E_NOTIFY_NOT_CONFIGURED', 'no notifier is configured (no notifications section in .lem-config.yaml)', [HOW]);
    return configured;
  }
  if (!input.registry.notifiers.has(input.id)) {
    const known = [...input.registry.notifiers.keys()];
    throw configError('E_NOTIFIER_NOT_FOUND', `notifier "${input.id}" is not installed${known.length ? ` (installed: ${known.join(', ')})` : ''}`, [`lem plugins install @lem/notify-${input.id}`]);
  }
  if (!configured.includes(input.id)) throw configError('E_NOTIFY_NOT_CONFIGURED', `notifier ${input.id} is not configured (no notifications.${input.id} in .lem-config.yaml)`, [HOW.replace(/slack/g, input.id).replace('SLACK', input.id.toUpperCase())]);
  return [input.id];
}

export async function sendTestNotifications(input: NotifyTestInput): Promise<Array<{id: string} & DeliveryOutcome>> {
  const ids = chosenIds(input);
  const notifications = new Notifications({registry: input.registry, settings: input.settings, redactor: input.redactor, warn: () => {}, logPath: null, delivery: input.delivery});
  const event = testEvent();
  return Promise.all(ids.map(async (id) => ({id, ...(await notifications.sendNow(id, event))})));
}
