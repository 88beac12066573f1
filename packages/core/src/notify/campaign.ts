/**
 * What a campaign announces, from the events it already emits: its start, each completed cycle,
 * each run that failed for good, a pause at the failure threshold, and its end (done, stopped or
 * interrupted). The caller feeds it the campaign's events and outcome; nothing here waits for a
 * delivery.
 */
import type {CampaignEvent, ThresholdQuestion} from '../campaign/events.js';
import type {CampaignOutcome} from '../campaign/orchestrate.js';
import type {CampaignPlan} from '../campaign/types.js';
import type {Registry} from '../registry.js';
import type {ResolvedExperiment} from '../config/resolve.js';
import {Redactor} from '../config/secrets.js';
import {campaignEndEvent, campaignStartEvent, cycleDoneEvent, runFailedEvent, thresholdEvent} from './events.js';
import {Notifications} from './notifications.js';

export interface CampaignNotifierOptions {
  registry: Registry;
  /** The campaign's resolved experiments: notifications are project settings, the same for all. */
  resolved: Iterable<ResolvedExperiment>;
  warn: (line: string) => void;
  /** Where the delivery log goes, in the campaign's state folder. */
  logFile: (stateDir: string) => string;
}

export class CampaignNotifier {
  readonly notifications: Notifications;
  private plan: CampaignPlan | null = null;
  private lastCycle = 0;
  private pausedNotified = false;

  constructor(private readonly options: CampaignNotifierOptions) {
    const first = [...options.resolved][0];
    this.notifications = new Notifications({registry: options.registry, settings: first?.settings.notifications ?? {}, redactor: first?.redactor ?? new Redactor(), warn: options.warn, logPath: null});
  }

  onEvent(e: CampaignEvent): void {
    if (!this.notifications.active) return;
    if (e.type === 'campaign-start') {
      this.plan = e.plan;
      this.notifications.logPath = this.options.logFile(e.stateDir);
      this.notifications.emit(campaignStartEvent(e.plan, e.resumed));
    } else if (!this.plan) {
      return;
    } else if (e.type === 'cycle') {
      if (this.lastCycle > 0 && e.cycle > this.lastCycle) this.notifications.emit(cycleDoneEvent(this.plan, this.lastCycle, e.cycles));
      this.lastCycle = Math.max(this.lastCycle, e.cycle);
    } else if (e.type === 'experiment' && e.event.type === 'phase') {
      // No delivery starts inside a run's measured windows (its idle baseline and measurement).
      if ((e.event.phase === 'idle' || e.event.phase === 'measure') && e.event.state === 'start') this.notifications.hold();
      if (e.event.phase === 'measure' && e.event.state === 'end') this.notifications.release();
    } else if (e.type === 'run-end') {
      this.notifications.release();
      if (e.status === 'failed' && !e.willRetry) {
        this.notifications.emit(runFailedEvent(this.plan, {configuration: e.run.configuration, cycle: e.run.cycle, attempt: e.attempt, code: e.code, category: e.category, message: e.message}));
      }
    }
  }

  /** The campaign paused at the threshold to ask a human. */
  paused(question: Pick<ThresholdQuestion, 'scope' | 'failed' | 'finished' | 'ratio'>): void {
    if (!this.plan || !this.notifications.active) return;
    this.pausedNotified = true;
    this.notifications.emit(thresholdEvent(this.plan, question));
  }

  /** The campaign is over: its report, and how it ended. */
  ended(outcome: CampaignOutcome): void {
    if (!this.plan || !this.notifications.active) return;
    const event = campaignEndEvent(this.plan, outcome.report, outcome.status);
    // A pause already said "threshold"; the stop that followed it is the campaign's end.
    this.notifications.emit(this.pausedNotified && event.type === 'campaign:threshold' ? {...event, type: 'campaign:done'} : event);
  }

  flush(timeoutMs?: number): Promise<void> {
    return this.notifications.flush(timeoutMs);
  }
}
