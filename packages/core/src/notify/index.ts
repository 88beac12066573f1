/** Notifications: campaign events, rendered by notifier plugins, delivered without harming a campaign. */
export {DEFAULT_DELIVERY, deliver, type DeliveryOptions, type DeliveryOutcome} from './deliver.js';
export {campaignEndEvent, campaignStartEvent, cycleDoneEvent, formatDuration, formatJoules, LISTED_FAILURES, runFailedEvent, thresholdEvent} from './events.js';
export {FLUSH_TIMEOUT_MS, Notifications, type NotificationsOptions} from './notifications.js';
export {CampaignNotifier, type CampaignNotifierOptions} from './campaign.js';
export {sendTestNotifications, testEvent, type NotifyTestInput} from './test-message.js';
