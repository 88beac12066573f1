import {createServer, type Server} from 'node:http';
import type {AddressInfo} from 'node:net';
import {mkdtempSync, readFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterEach, describe, expect, it} from 'vitest';
import {monoNs} from '../measure/types.js';
import {ENGINE_METRICS_CSV_HEADER, parsePrometheus, readEngineFigures, startEngineScraper} from './engine-metrics.js';

const EXPOSITION = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 3.0
vllm:num_requests_running{engine="1",model_name="m"} 2.0
vllm:num_requests_waiting{engine="0",model_name="a } b"} 7
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.25
vllm:prompt_tokens_total{model_name="m"} 1.2e3 1700000000000
nan_series NaN
`;

describe('the engine metrics', () => {
  it('sums a Prometheus series over its label sets, with quoted braces, exponents and timestamps', () => {
    const sums = parsePrometheus(EXPOSITION);
    expect(sums.get('vllm:num_requests_running')).toBe(5);
    expect(sums.get('vllm:num_requests_waiting')).toBe(7);
    expect(sums.get('vllm:prompt_tokens_total')).toBe(1200);
    expect(sums.has('nan_series')).toBe(false);
  });

  it('reads the figures a backend names: series, JSON paths into the newest element, ratios and a scale', () => {
    expect(readEngineFigures(EXPOSITION, {running: 'vllm:num_requests_running', waiting: 'vllm:num_requests_waiting', kvCacheUsage: 'vllm:kv_cache_usage_perc'})).toEqual({running: 5, waiting: 7, kvCacheUsage: 0.25});
    const stats = JSON.stringify([
      {numActiveRequests: 1, numQueuedRequests: 0, kvCacheStats: {usedNumBlocks: 1, maxNumBlocks: 10}},
      {numActiveRequests: 4, numQueuedRequests: 2, kvCacheStats: {usedNumBlocks: 30, maxNumBlocks: 120}},
    ]);
    expect(readEngineFigures(stats, {format: 'json', running: 'numActiveRequests', waiting: 'numQueuedRequests', kvCacheUsage: 'kvCacheStats.usedNumBlocks/kvCacheStats.maxNumBlocks'})).toEqual({running: 4, waiting: 2, kvCacheUsage: 0.25});
    expect(readEngineFigures('sglang:token_usage 40', {kvCacheUsage: 'sglang:token_usage', kvCacheUsageScale: 0.01})).toEqual({running: null, waiting: null, kvCacheUsage: 0.4});
    expect(readEngineFigures(stats, {format: 'json', running: 'missing.path', kvCacheUsage: 'numActiveRequests/zero'})).toEqual({running: null, waiting: null, kvCacheUsage: null});
  });
});

describe('the engine metrics scraper', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  it('reads the endpoint at once and every second into engine-metrics.csv, counting failed reads, and summarises', async () => {
    let served = 0;
    const reached: Array<() => void> = [];
    server = createServer((_req, res) => {
      served++;
      if (served === 2) {
        res.writeHead(500).end('busy');
      } else {
        res.writeHead(200, {'content-type': 'text/plain'}).end(`eng:running ${served}\neng:waiting 0\neng:kv_used ${served}\neng:kv_total 10\n`);
      }
      reached.splice(0).forEach((r) => r());
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const dir = mkdtempSync(join(tmpdir(), 'lem-engine-'));
    const csvPath = join(dir, 'engine-metrics.csv');
    const scraper = startEngineScraper({
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      spec: {metricsPath: '/metrics', metrics: {running: 'eng:running', waiting: 'eng:waiting', kvCacheUsage: 'eng:kv_used/eng:kv_total'}},
      csvPath,
      t0Ns: monoNs(),
    });
    // Counts reads, not time: stop once the third has been answered.
    while (served < 3) await new Promise<void>((resolve) => reached.push(resolve));
    const summary = await scraper.stop();
    expect(summary).toMatchObject({path: '/metrics', format: 'prometheus', samples: 2, failedSamples: 1, running: {mean: 2, max: 3}, waiting: {mean: 0, max: 0}, firstError: 'GET /metrics: HTTP 500'});
    expect(summary.kvCacheUsage!.max).toBeCloseTo(0.3, 10);
    const lines = readFileSync(csvPath, 'utf8').trim().split('\n');
    expect(lines[0]).toBe(ENGINE_METRICS_CSV_HEADER);
    expect(lines.slice(1).map((l) => l.split(',').slice(1).join(','))).toEqual(['1,0,0.1,', ',,,"GET /metrics: HTTP 500"', '3,0,0.3,']);
    const times = lines.slice(1).map((l) => Number(l.split(',')[0]));
    expect(times[2]! - times[0]!).toBeGreaterThanOrEqual(1_900);
  });
});
