/**
 * runExperiment against real HTTP servers on 127.0.0.1, in this process: an endpoint on loopback
 * is measured as the process that listens (this one, with the CPU estimate), which lets a test
 * shape the server exactly — a slow tokenizer, a taken port, a figures step that throws.
 */
import {existsSync, mkdtempSync, readFileSync, readdirSync} from 'node:fs';
import {createServer, type Server} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterEach, describe, expect, it} from 'vitest';
import {defineBackend} from '@lem/plugin-kit';
import {parseYamlText} from '../config/yaml-file.js';
import {resolveExperiment} from '../config/resolve.js';
import {buildRegistry} from '../registry.js';
import {readTimelineCsv} from '../meters/index.js';
import {completionChunk, sleep, sse, startServer, startStream, type TestServer} from '../workload/__fixtures__/server.js';
import {recomputeRun} from './recompute.js';
import {runExperiment} from './run.js';
import {RUN_FILES} from '../results/run-files.js';

let server: TestServer | undefined;
let blocker: Server | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
  blocker = undefined;
});

const FAST = 'warmup:\n  mode: fixed\n  requests: 1\nmeasure:\n  baseline_s: 0.2\n  idle_settle_s: 0\n  sample_interval_ms: 20\n  meters: [cpu-estimate]\n';

/** A registry with one backend, written as a plugin would, whose server is `server`. */
function registryWith(id: string, server: Parameters<typeof defineBackend>[0]['server']) {
  const configSchema = {'~standard': {version: 1 as const, vendor: 'hand', validate: (v: unknown) => ({value: v ?? {}})}};
  return buildRegistry([{plugin: {name: id, version: '1.0.0'}, result: [defineBackend({id, displayName: id, configSchema, jsonSchema: {}, gpu: 'none', local: true, server})]}]);
}

async function run(yaml: string, options: Partial<Parameters<typeof runExperiment>[0]> = {}, registry = buildRegistry([])) {
  const root = mkdtempSync(join(tmpdir(), 'lem-run-'));
  const resolved = await resolveExperiment({registry, experimentFile: parseYamlText(`name: t\n${yaml}`, 't.yaml')});
  return runExperiment({resolved, baseDir: root, projectRoot: root, resultsDir: join(root, 'results'), cacheDir: join(root, 'cache'), lockDir: join(root, 'locks'), ...options});
}

/** An endpoint streaming two content chunks without usage; its tokenize path answers after `tokenizeMs`. */
async function endpoint(tokenizeMs: number): Promise<TestServer> {
  return startServer(async (req, res) => {
    if (req.path === '/tokenize') {
      await sleep(tokenizeMs);
      res.writeHead(200, {'content-type': 'application/json'});
      res.end(JSON.stringify({tokens: [1, 2]}));
      return;
    }
    startStream(res);
    res.end(sse(completionChunk('a')) + sse(completionChunk('b', 'length')) + sse('[DONE]'));
  });
}

describe('the measure window', () => {
  it('reads the meters at the first send and at the last response end: a slow token count after it does not stretch the energy window', async () => {
    server = await endpoint(300);
    // A backend whose server is this endpoint, so the tokenize path is used to count tokens.
    const registry = registryWith('here', () => ({argv: ['unused'], env: {}, port: 0, readiness: {healthPath: '/health', timeoutS: 1}, tokenizePath: '/tokenize'}));
    const url = server.url;
    const runner = {
      id: 'local',
      targetKind: 'process-group' as const,
      launch: async () => ({baseUrl: url, target: {kind: 'process-group' as const, pgid: process.pid}, argv: ['here'], exited: new Promise<never>(() => {}), outputTail: () => [], stop: async () => ({code: 0, signal: null, oomKilled: null, forced: false, durationMs: 0})}),
    };
    const outcome = await run(`backend: here\nmodel: m\ndataset:\n  kind: synthetic\n  input_tokens: 4\n  n_prompts: 3\n${FAST}`, {runner}, registry);
    expect(outcome.error).toBeUndefined();
    const m = outcome.result.metrics!;
    expect(m.tokens.source).toBe('tokenize');
    if (!m.energy.available) throw new Error(m.energy.reason);
    // T = [first send, last end]; the energy window brackets it by the read time only, not by the 300 ms count.
    expect(m.energy.window.startMs).toBeLessThanOrEqual(m.window.startMs);
    expect(m.energy.window.endMs).toBeGreaterThanOrEqual(m.window.endMs);
    expect(m.energy.window.durationS - m.window.durationS).toBeLessThan(0.15);
    expect(m.energy.avgPowerW).toBeCloseTo(m.energy.energyJ / m.energy.window.durationS, 12);
  });
});

describe('a failure of the figures step', () => {
  it('still writes result.json (failed, with its category) beside complete raw files, and recompute computes them afterwards', async () => {
    server = await endpoint(0);
    const outcome = await run(`backend: openai\nbase_url: ${server.url}/v1\nmodel: m\ndataset:\n  kind: synthetic\n  input_tokens: 4\n  n_prompts: 5\n${FAST}`, {
      computeFigures: () => {
        throw new RangeError('Maximum call stack size exceeded');
      },
    });
    expect(outcome.status).toBe('failed');
    expect(outcome.result.failure).toMatchObject({code: 'E_FIGURES_FAILED', category: 'runtime'});
    expect(outcome.result.failure!.message).toContain('Maximum call stack size exceeded');
    expect(outcome.result.metrics).toBeNull();
    const files = readdirSync(outcome.runDir).sort();
    expect(files).toEqual([RUN_FILES.requests, RUN_FILES.result, RUN_FILES.timeline].sort());
    expect(readFileSync(join(outcome.runDir, RUN_FILES.requests), 'utf8').trim().split('\n').filter((l) => l.includes('"measure"'))).toHaveLength(5);
    expect([...readTimelineCsv(join(outcome.runDir, RUN_FILES.timeline))].length).toBeGreaterThan(5);
    const check = recomputeRun(outcome.runDir);
    expect(check).toMatchObject({figuresHadFailed: true, written: false});
    expect(check.recomputed!.requests.ok).toBe(5);
    const written = recomputeRun(outcome.runDir, {write: true});
    expect(written.written).toBe(true);
    const fixed = JSON.parse(readFileSync(join(outcome.runDir, RUN_FILES.result), 'utf8')) as {status: string; failure: unknown; metrics: {requests: {ok: number}}};
    expect(fixed).toMatchObject({status: 'completed', failure: null, metrics: {requests: {ok: 5}}});
    expect(recomputeRun(outcome.runDir).differences).toEqual([]);
  });
});

describe('the port a server is launched on', () => {
  it('is picked again when another process took it before the server could bind it', async () => {
    blocker = createServer();
    const taken = await new Promise<number>((resolve) => blocker!.listen(0, '127.0.0.1', () => resolve((blocker!.address() as {port: number}).port)));
    const free = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as {port: number}).port;
        s.close(() => resolve(port));
      });
    });
    const fakeServer = new URL('../runner/__fixtures__/openai-server.mjs', import.meta.url).pathname;
    const registry = registryWith('scripted', (_cfg, ctx) => ({argv: [process.execPath, fakeServer, '--port', String(ctx.port)], env: {}, port: ctx.port, readiness: {healthPath: '/health', timeoutS: 10}, stop: {signal: 'SIGTERM', graceS: 2}}));
    const picks = [taken, free];
    const outcome = await run(`backend: scripted\nmodel: m\ndataset:\n  kind: synthetic\n  input_tokens: 4\n  n_prompts: 2\n${FAST}`, {pickPort: async () => picks.shift()!}, registry);
    // The first port was taken: a race, not a setting — launched again on the next, and said so.
    expect(outcome.result.warnings.map((w) => w.code)).toContain('W_PORT_TAKEN');
    expect(outcome.result.backend.baseUrl).toBe(`http://127.0.0.1:${free}`);
    expect(outcome.result.phases.map((p) => p.name)).toContain('measure');
    expect(existsSync(join(outcome.runDir, RUN_FILES.result))).toBe(true);
  });
});
