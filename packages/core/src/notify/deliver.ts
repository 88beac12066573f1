/**
 * Sending one notification request, written once for every notifier: a timeout per attempt,
 * bounded retries with exponential backoff on 5xx and network errors, 429 honoured through the
 * notifier's `retryAfterS` (Slack's Retry-After header, Discord's retry_after field). Never throws:
 * the outcome says what happened, in words that never contain the request's URL.
 */
import type {NotificationRequest, NotifierContribution} from '@lem/plugin-kit';

export interface DeliveryOptions {
  /** Milliseconds one attempt may take, connection to last byte. */
  timeoutMs: number;
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Backoff before retry k (1-based) is `backoffMs × 2^(k−1)`, unless the service says how long. */
  backoffMs: number;
  /** The longest wait a 429 may ask for before lem gives up instead. */
  maxRetryAfterMs: number;
  /** Aborts the waits between attempts and the attempt in flight (the flush deadline at exit). */
  signal?: AbortSignal;
  /** Awaited before each attempt: a campaign's measured window holds retries back until it ends. */
  beforeAttempt?: () => Promise<void>;
}

export const DEFAULT_DELIVERY: DeliveryOptions = {timeoutMs: 5000, maxAttempts: 4, backoffMs: 1000, maxRetryAfterMs: 60_000};

export interface DeliveryOutcome {
  ok: boolean;
  /** The last HTTP status, or null when no answer came. */
  status: number | null;
  attempts: number;
  /** Why it failed, without the URL; null when it was delivered. */
  error: string | null;
}

type Attempt = {status: number; headers: Record<string, string>; body: string} | {error: string};

async function attempt(request: NotificationRequest, options: DeliveryOptions): Promise<Attempt> {
  const signals = [AbortSignal.timeout(options.timeoutMs), ...(options.signal ? [options.signal] : [])];
  try {
    const res = await fetch(request.url, {
      method: 'POST',
      headers: {'content-type': 'application/json', ...request.headers},
      body: JSON.stringify(request.body),
      signal: AbortSignal.any(signals),
    });
    return {status: res.status, headers: Object.fromEntries(res.headers.entries()), body: await res.text()};
  } catch (error) {
    const e = error as Error & {cause?: {code?: string}};
    if (e.name === 'TimeoutError') return {error: `no answer within ${options.timeoutMs / 1000} s`};
    if (e.name === 'AbortError') return {error: 'stopped: lem was exiting'};
    // fetch's own messages can carry the URL; only the cause's code is kept.
    return {error: `network error${e.cause?.code ? ` (${e.cause.code})` : ''}`};
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), {once: true});
  });

/** How long to wait before the next attempt, or null when this answer is final. */
function waitBefore(result: Attempt, retry: number, notifier: Pick<NotifierContribution, 'retryAfterS'>, options: DeliveryOptions): number | null {
  if ('error' in result) return options.backoffMs * 2 ** (retry - 1);
  if (result.status === 429) {
    const asked = notifier.retryAfterS?.(result.status, result.headers, result.body);
    const ms = asked !== undefined && Number.isFinite(asked) && asked >= 0 ? asked * 1000 : options.backoffMs * 2 ** (retry - 1);
    return ms <= options.maxRetryAfterMs ? ms : null;
  }
  if (result.status >= 500) return options.backoffMs * 2 ** (retry - 1);
  return null;
}

export async function deliver(request: NotificationRequest, notifier: Pick<NotifierContribution, 'retryAfterS'>, options: DeliveryOptions = DEFAULT_DELIVERY): Promise<DeliveryOutcome> {
  let last: Attempt = {error: 'not sent'};
  for (let n = 1; n <= options.maxAttempts; n++) {
    await options.beforeAttempt?.();
    last = await attempt(request, options);
    if (!('error' in last) && last.status >= 200 && last.status < 300) return {ok: true, status: last.status, attempts: n, error: null};
    const wait = n < options.maxAttempts && !options.signal?.aborted ? waitBefore(last, n, notifier, options) : null;
    if (wait === null) return failed(last, n);
    await sleep(wait, options.signal);
    if (options.signal?.aborted) return failed({error: 'stopped: lem was exiting'}, n);
  }
  return failed(last, options.maxAttempts);
}

function failed(last: Attempt, attempts: number): DeliveryOutcome {
  if ('error' in last) return {ok: false, status: null, attempts, error: last.error};
  const detail = last.body.trim().slice(0, 200);
  return {ok: false, status: last.status, attempts, error: `HTTP ${last.status}${detail ? `: ${detail}` : ''}`};
}
