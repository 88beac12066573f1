/**
 * The notifications of one lem process: each event goes to every configured notifier that wants
 * it, rendered by the notifier's pure `render`, then delivered in the background. Nothing here is
 * awaited by a campaign: `emit` returns at once, so a slow or dead webhook costs a run nothing.
 * A failed delivery is one warning line and one log entry. `flush` gives what is still pending a
 * bounded time at exit, so a campaign's last event is not lost. Webhook URLs are secrets: they are
 * redacted from every warning and log line (the URL itself, and every `${ENV}` value it came from).
 */
import {appendFileSync, mkdirSync} from 'node:fs';
import {dirname} from 'node:path';
import {DEFAULT_NOTIFY_EVENTS, type LemEvent, type LemEventType, type NotifierContribution} from '@lem/plugin-kit';
import type {Redactor} from '../config/secrets.js';
import type {Registry} from '../registry.js';
import {DEFAULT_DELIVERY, deliver, type DeliveryOptions, type DeliveryOutcome} from './deliver.js';

/** What `flush` waits at most by default, at exit. */
export const FLUSH_TIMEOUT_MS = 10_000;

export interface NotificationsOptions {
  registry: Registry;
  /** `notifications` of the resolved settings: per notifier id, its validated settings. */
  settings: Record<string, unknown>;
  /** The resolved settings' redactor, which knows the `${ENV}` values they were given. */
  redactor: Redactor;
  /** One line per failed delivery (the CLI prints it as a warning). */
  warn: (line: string) => void;
  /** A JSON-lines log of every delivery, or null for none. */
  logPath: string | null;
  delivery?: Partial<DeliveryOptions>;
}

interface Target {
  id: string;
  notifier: NotifierContribution;
  settings: unknown;
  events: readonly LemEventType[];
}

/** The events a notifier's settings choose (`events`), else the default ones. */
function chosenEvents(settings: unknown): readonly LemEventType[] {
  const events = (settings as {events?: unknown} | null)?.events;
  return Array.isArray(events) ? (events as LemEventType[]) : DEFAULT_NOTIFY_EVENTS;
}

/**
 * `text` without the webhook URL, nor its path and query (where Slack's and Discord's secret
 * tokens are), which a service may echo in an error.
 */
function hideUrl(text: string, url: string): string {
  if (!url) return text;
  let out = text.split(url).join('<webhook url>');
  try {
    const {pathname, search} = new URL(url);
    for (const part of [pathname + search, pathname]) if (part.length >= 8) out = out.split(part).join('<webhook url>');
  } catch {
    // Not a URL: only the whole string is hidden.
  }
  return out;
}

export class Notifications {
  private readonly targets: Target[];
  private readonly pending = new Set<Promise<void>>();
  private readonly queued: Array<{target: Target; event: LemEvent}> = [];
  private readonly waiting: Array<() => void> = [];
  private held = false;
  private readonly abort = new AbortController();
  private readonly delivery: DeliveryOptions;
  /** The delivery log (JSON lines), or null for none; a campaign sets it once its state folder is known. */
  logPath: string | null;

  constructor(private readonly options: NotificationsOptions) {
    this.logPath = options.logPath;
    this.targets = Object.entries(options.settings).flatMap(([id, settings]) => {
      const notifier = options.registry.notifiers.get(id)?.contribution;
      return notifier ? [{id, notifier, settings, events: chosenEvents(settings)}] : [];
    });
    this.delivery = {...DEFAULT_DELIVERY, ...options.delivery, signal: this.abort.signal, beforeAttempt: () => this.unheld()};
  }

  /** Whether any notifier is configured at all. */
  get active(): boolean {
    return this.targets.length > 0;
  }

  /** Sends `event` to every notifier that wants it, in the background (after `release` while held). */
  emit(event: LemEvent): void {
    for (const target of this.targets) {
      if (!target.events.includes(event.type)) continue;
      if (this.held) this.queued.push({target, event});
      else this.track(this.send(target, event));
    }
  }

  /**
   * Starts no delivery and no retry until `release`: a campaign holds them through each run's idle
   * baseline and measurement, so no request of lem's own shares the measured window.
   */
  hold(): void {
    this.held = true;
  }

  /** Starts what was emitted while held, and lets held retries go on. */
  release(): void {
    this.held = false;
    for (const resume of this.waiting.splice(0)) resume();
    for (const {target, event} of this.queued.splice(0)) this.track(this.send(target, event));
  }

  /** Resolves once nothing holds deliveries back (at once when nothing does, or once lem is exiting). */
  private unheld(): Promise<void> {
    if (!this.held || this.abort.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Sends `event` to one notifier and waits for the outcome (`lem notify test`). */
  async sendNow(id: string, event: LemEvent): Promise<DeliveryOutcome> {
    const target = this.targets.find((t) => t.id === id);
    if (!target) return {ok: false, status: null, attempts: 0, error: `notifier ${id} is not configured`};
    return this.send(target, event);
  }

  /** Waits for what is pending, at most `timeoutMs`; then stops it and says what was not delivered. */
  async flush(timeoutMs = FLUSH_TIMEOUT_MS): Promise<void> {
    this.release();
    if (this.pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([Promise.allSettled([...this.pending]), deadline]);
    clearTimeout(timer);
    if (this.pending.size > 0) {
      this.abort.abort();
      for (const resume of this.waiting.splice(0)) resume();
      await Promise.allSettled([...this.pending]);
    }
  }

  private track(p: Promise<unknown>): void {
    const done = p.then(() => undefined, () => undefined);
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
  }

  private async send(target: Target, event: LemEvent): Promise<DeliveryOutcome> {
    let outcome: DeliveryOutcome;
    let url = '';
    try {
      const request = target.notifier.render(event, target.settings);
      url = request.url;
      outcome = await deliver(request, target.notifier, this.delivery);
    } catch (error) {
      outcome = {ok: false, status: null, attempts: 0, error: `the notifier's render failed: ${(error as Error).message}`};
    }
    const redact = (text: string) => this.options.redactor.text(hideUrl(text, url));
    const error = outcome.error === null ? null : redact(outcome.error);
    this.log({at: new Date().toISOString(), notifier: target.id, event: event.type, ok: outcome.ok, status: outcome.status, attempts: outcome.attempts, error});
    if (!outcome.ok) this.options.warn(`W_NOTIFY_FAILED: ${target.id}: ${event.type} not delivered after ${outcome.attempts} attempt${outcome.attempts === 1 ? '' : 's'}: ${error}`);
    return {...outcome, error};
  }

  private log(entry: Record<string, unknown>): void {
    if (!this.logPath) return;
    try {
      mkdirSync(dirname(this.logPath), {recursive: true});
      appendFileSync(this.logPath, `${JSON.stringify(entry)}\n`);
    } catch {
      // A log that cannot be written must not harm the campaign either.
    }
  }
}
