import {afterEach, describe, expect, it} from 'vitest';
import {startReceiver, type Receiver} from './__fixtures__/receiver.js';
import {deliver, type DeliveryOptions} from './deliver.js';

let receiver: Receiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

const FAST: DeliveryOptions = {timeoutMs: 2000, maxAttempts: 4, backoffMs: 50, maxRetryAfterMs: 5000};
const slackLike = {retryAfterS: (status: number, headers: Record<string, string>) => (status === 429 ? Number(headers['retry-after']) : undefined)};
const discordLike = {retryAfterS: (status: number, _h: Record<string, string>, body: string) => (status === 429 ? (JSON.parse(body) as {retry_after: number}).retry_after : undefined)};

describe('deliver', () => {
  it('posts the JSON body and succeeds on 2xx at the first attempt', async () => {
    receiver = await startReceiver([{status: 204}]);
    const outcome = await deliver({url: receiver.url(), body: {text: 'hi'}}, {}, FAST);
    expect(outcome).toEqual({ok: true, status: 204, attempts: 1, error: null});
    expect(receiver.received.map((r) => r.body)).toEqual([{text: 'hi'}]);
  });

  it('honours a 429 with Retry-After (Slack) before trying again', async () => {
    receiver = await startReceiver([{status: 429, headers: {'retry-after': '1'}}, {status: 200}]);
    const outcome = await deliver({url: receiver.url(), body: {}}, slackLike, FAST);
    expect(outcome).toMatchObject({ok: true, attempts: 2});
    // Timers never fire early: the second request came a whole second after the first.
    expect(receiver.received[1]!.at - receiver.received[0]!.at).toBeGreaterThanOrEqual(990);
  });

  it("honours a 429 with retry_after in the body (Discord)", async () => {
    receiver = await startReceiver([{status: 429, body: '{"message": "You are being rate limited.", "retry_after": 0.4, "global": false}'}, {status: 204}]);
    const outcome = await deliver({url: receiver.url(), body: {}}, discordLike, FAST);
    expect(outcome).toMatchObject({ok: true, attempts: 2});
    expect(receiver.received[1]!.at - receiver.received[0]!.at).toBeGreaterThanOrEqual(390);
  });

  it('gives up on a 429 that asks for longer than lem waits', async () => {
    receiver = await startReceiver([{status: 429, headers: {'retry-after': '3600'}}]);
    expect(await deliver({url: receiver.url(), body: {}}, slackLike, FAST)).toMatchObject({ok: false, status: 429, attempts: 1});
  });

  it('retries a 500 and succeeds; does not retry a 4xx', async () => {
    receiver = await startReceiver([{status: 500}, {status: 502}, {status: 200}]);
    expect(await deliver({url: receiver.url(), body: {}}, {}, FAST)).toMatchObject({ok: true, attempts: 3});
    await receiver.close();
    receiver = await startReceiver([{status: 404, body: 'no_service'}]);
    expect(await deliver({url: receiver.url(), body: {}}, {}, FAST)).toEqual({ok: false, status: 404, attempts: 1, error: 'HTTP 404: no_service'});
  });

  it('stops after its attempts against a server that always fails', async () => {
    receiver = await startReceiver([{status: 503}]);
    expect(await deliver({url: receiver.url(), body: {}}, {}, {...FAST, maxAttempts: 3})).toMatchObject({ok: false, status: 503, attempts: 3});
    expect(receiver.received).toHaveLength(3);
  });

  it('times each attempt out against a receiver that never answers', async () => {
    receiver = await startReceiver([{hang: true}]);
    const t0 = performance.now();
    const outcome = await deliver({url: receiver.url(), body: {}}, {}, {...FAST, timeoutMs: 300, maxAttempts: 2});
    expect(outcome).toEqual({ok: false, status: null, attempts: 2, error: 'no answer within 0.3 s'});
    // Two 300 ms attempts and a 50 ms backoff: well under twice that.
    expect(performance.now() - t0).toBeLessThan(2 * (2 * 300 + 50) + 500);
  });

  it('says a network error without the URL', async () => {
    receiver = await startReceiver();
    const url = receiver.url();
    await receiver.close();
    receiver = undefined;
    const outcome = await deliver({url, body: {}}, {}, {...FAST, maxAttempts: 2});
    expect(outcome).toMatchObject({ok: false, status: null, attempts: 2});
    expect(outcome.error).toMatch(/^network error/);
    expect(outcome.error).not.toContain('SECRET');
    expect(outcome.error).not.toContain('127.0.0.1');
  });

  it('stops waiting when its signal aborts', async () => {
    receiver = await startReceiver([{status: 500}]);
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 200);
    const outcome = await deliver({url: receiver.url(), body: {}}, {}, {...FAST, backoffMs: 10_000, signal: abort.signal});
    expect(outcome).toMatchObject({ok: false, attempts: 1, error: 'stopped: lem was exiting'});
  });
});
