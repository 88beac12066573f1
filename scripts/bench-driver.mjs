#!/usr/bin/env node
// The workload driver's own ceiling: how many requests and streamed chunks per second one core
// of `lem` can take in, timestamp and record, against a local server that streams instantly.
// Prints one JSON document. Needs core built first: `npx tsc -b packages/core`.
//
//   node scripts/bench-driver.mjs            # orchestrates: server child + driver child
//
// The server runs in its own process (so its CPU is not the driver's) and, where `taskset` exists
// and there are ≥ 2 CPUs, the driver is pinned to CPU 0 and the server to CPU 1.
//
// Server styles, picked by the base URL's path prefix:
//   coalesced  every chunk of a response in one write: many events per socket read (best case)
//   per-write  one write per chunk, yielding between them: about one read per chunk (worst case)
import {spawnSync} from 'node:child_process';
import http from 'node:http';
import {cpus} from 'node:os';
import {fileURLToPath} from 'node:url';
import {canPin, onCpu, startServerChild} from './bench-lib.mjs';

const CHUNKS_PER_REQUEST = 200;
const CONCURRENCY = 8;
const REQUESTS = Number(process.env.REQUESTS ?? 400);
const REPETITIONS = Number(process.env.REPS ?? 3);
const self = fileURLToPath(import.meta.url);
const dist = new URL('../packages/core/dist/workload/', import.meta.url);

const role = process.argv[2];
if (role === '--server') await serve();
else if (role === '--driver') await drive(process.argv[3]);
else await orchestrate();

// ------------------------------------------------------------------ server (child process)
async function serve() {
  const chunk = (text, finish) =>
    `data: ${JSON.stringify({id: 'cmpl-bench', object: 'text_completion', created: 1700000000, model: 'bench', choices: [{index: 0, text, logprobs: null, finish_reason: finish}]})}\n\n`;
  const chunks = Array.from({length: CHUNKS_PER_REQUEST}, (_, i) => Buffer.from(chunk(' tok', i === CHUNKS_PER_REQUEST - 1 ? 'length' : null)));
  const tail = Buffer.from(
    `data: ${JSON.stringify({id: 'cmpl-bench', object: 'text_completion', created: 1700000000, model: 'bench', choices: [], usage: {prompt_tokens: 8, completion_tokens: CHUNKS_PER_REQUEST, total_tokens: CHUNKS_PER_REQUEST + 8}})}\n\ndata: [DONE]\n\n`,
  );
  const whole = Buffer.concat([...chunks, tail]);
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, {'content-type': 'text/event-stream', 'cache-control': 'no-cache'});
      if (req.url.startsWith('/coalesced/')) {
        res.end(whole);
        return;
      }
      let i = 0;
      const next = () => {
        if (res.destroyed) return;
        if (i < chunks.length) {
          res.write(chunks[i++]);
          setImmediate(next);
        } else res.end(tail);
      };
      next();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({port: server.address().port}) + '\n'));
  process.on('SIGTERM', () => process.exit(0));
}

// ------------------------------------------------------------------ driver (child process)
async function drive(baseUrl) {
  const {runWorkload} = await import(new URL('driver.js', dist).href);
  const {SseParser} = await import(new URL('sse.js', dist).href);
  const {monoNs} = await import(new URL('../measure/types.js', dist).href);

  const prompts = Array.from({length: REQUESTS}, (_, i) => ({index: i, text: `bench prompt ${i}`}));
  const template = (style) => ({baseUrl: `${baseUrl}/${style}/v1`, api: 'completions', model: 'bench', maxTokens: CHUNKS_PER_REQUEST, temperature: 0, extras: {ignore_eos: true}, timeoutMs: 60_000});
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

  /** One closed-loop run through runWorkload: wall and CPU time of this process. */
  async function once(style) {
    const cpu0 = process.cpuUsage();
    const t0Ns = monoNs();
    const result = await runWorkload({template: template(style), prompts, mode: {kind: 'closed', concurrency: CONCURRENCY}, phase: 'measure', t0Ns, firstId: 0});
    const wallS = Number(monoNs() - t0Ns) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const failed = result.records.filter((r) => !r.ok);
    if (failed.length) throw new Error(`${failed.length} requests failed: ${failed[0].error.message}`);
    const chunks = result.records.reduce((s, r) => s + r.contentChunks, 0);
    if (chunks !== REQUESTS * CHUNKS_PER_REQUEST) throw new Error(`expected ${REQUESTS * CHUNKS_PER_REQUEST} chunks, got ${chunks}`);
    return {wallS, cpuS: (cpu.user + cpu.system) / 1e6, chunks, maxInFlight: result.maxInFlight};
  }

  /** The same work through fetch (undici): read the body stream, the same parser, one clock read per read. */
  async function onceFetch(style) {
    const url = `${baseUrl}/${style}/v1/completions`;
    const cpu0 = process.cpuUsage();
    const t0Ns = monoNs();
    let next = 0;
    let chunks = 0;
    const one = async (prompt) => {
      let nowNs = 0n;
      let last = null;
      const gaps = [];
      let count = 0;
      const parser = new SseParser((e) => {
        if (e.data === '[DONE]') return;
        const c = JSON.parse(e.data);
        if (c.choices?.[0]?.text) {
          count++;
          if (last !== null) gaps.push(Number(nowNs - last) / 1e6);
          last = nowNs;
        }
      });
      const body = JSON.stringify({model: 'bench', prompt: prompt.text, max_tokens: CHUNKS_PER_REQUEST, stream: true, stream_options: {include_usage: true}});
      const res = await fetch(url, {method: 'POST', headers: {'content-type': 'application/json'}, body});
      for await (const piece of res.body) {
        nowNs = monoNs();
        parser.push(Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
      }
      parser.end();
      chunks += count;
    };
    await Promise.all(
      Array.from({length: CONCURRENCY}, async () => {
        while (next < prompts.length) await one(prompts[next++]);
      }),
    );
    const wallS = Number(monoNs() - t0Ns) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    if (chunks !== REQUESTS * CHUNKS_PER_REQUEST) throw new Error(`fetch: expected ${REQUESTS * CHUNKS_PER_REQUEST} chunks, got ${chunks}`);
    return {wallS, cpuS: (cpu.user + cpu.system) / 1e6, chunks};
  }

  const figures = (reps) => {
    const wallS = median(reps.map((r) => r.wallS));
    const rep = reps.find((r) => r.wallS === wallS);
    return {
      requestsPerS: Math.round(REQUESTS / wallS),
      chunksPerS: Math.round(rep.chunks / wallS),
      chunksPerCpuS: Math.round(rep.chunks / rep.cpuS),
      driverCpuUtilisation: Number((rep.cpuS / wallS).toFixed(2)),
      repsChunksPerS: reps.map((r) => Math.round(r.chunks / r.wallS)),
    };
  };

  const out = {};
  for (const style of ['coalesced', 'per-write']) {
    await once(style); // warm-up: JIT, keep-alive connections
    const reps = [];
    for (let r = 0; r < REPETITIONS; r++) reps.push(await once(style));
    await onceFetch(style);
    const fetchReps = [];
    for (let r = 0; r < REPETITIONS; r++) fetchReps.push(await onceFetch(style));
    out[style] = {nodeHttp: {...figures(reps), maxInFlight: reps[0].maxInFlight}, fetch: figures(fetchReps)};
  }

  out.microbench = microbench(SseParser, monoNs);
  process.stdout.write(JSON.stringify(out) + '\n');
}

/** Per-chunk costs in isolation, ns per chunk (median of 5 rounds). */
function microbench(SseParser, monoNs) {
  const N = 2_000_000;
  const round = (fn) => {
    const xs = [];
    for (let k = 0; k < 5; k++) {
      const t = process.hrtime.bigint();
      fn();
      xs.push(Number(process.hrtime.bigint() - t) / N);
    }
    return xs.sort((a, b) => a - b)[2];
  };
  let sink = 0;
  // Baseline: the loop and a counter.
  const baseline = round(() => {
    let c = 0;
    for (let i = 0; i < N; i++) c++;
    sink += c;
  });
  // The clock read alone.
  const clock = round(() => {
    let x = 0n;
    for (let i = 0; i < N; i++) x = monoNs();
    sink += Number(x & 1n);
  });
  // What the client does per content chunk: read the clock, gap to the previous chunk in ms, keep it, count.
  const bookkeeping = round(() => {
    let last = null;
    let gaps = [];
    let count = 0;
    for (let i = 0; i < N; i++) {
      const nowNs = monoNs();
      if (last !== null) gaps.push(Number(nowNs - last) / 1e6);
      last = nowNs;
      count++;
      if (gaps.length === CHUNKS_PER_REQUEST) gaps = []; // one request's worth, as in a record
    }
    sink += count;
  });
  // Parsing: SseParser + JSON.parse on a realistic 200-chunk body fed in 1,400-byte pieces.
  const text = Array.from({length: CHUNKS_PER_REQUEST}, () => `data: {"id":"cmpl-bench","object":"text_completion","created":1700000000,"model":"bench","choices":[{"index":0,"text":" tok","logprobs":null,"finish_reason":null}]}\n\n`).join('');
  const body = Buffer.from(text);
  const pieces = [];
  for (let o = 0; o < body.length; o += 1400) pieces.push(body.subarray(o, o + 1400));
  const parseRounds = N / CHUNKS_PER_REQUEST / 10;
  const parseNs = [];
  for (let k = 0; k < 5; k++) {
    const t = process.hrtime.bigint();
    for (let r = 0; r < parseRounds; r++) {
      const p = new SseParser((e) => {
        sink += JSON.parse(e.data).choices.length;
      });
      for (const piece of pieces) p.push(piece);
      p.end();
    }
    parseNs.push(Number(process.hrtime.bigint() - t) / (parseRounds * CHUNKS_PER_REQUEST));
  }
  const parse = parseNs.sort((a, b) => a - b)[2];
  // The event-stream parser alone (no JSON.parse).
  const sseOnlyNs = [];
  for (let k = 0; k < 5; k++) {
    const t = process.hrtime.bigint();
    for (let r = 0; r < parseRounds; r++) {
      const p = new SseParser((e) => {
        sink += e.data.length;
      });
      for (const piece of pieces) p.push(piece);
      p.end();
    }
    sseOnlyNs.push(Number(process.hrtime.bigint() - t) / (parseRounds * CHUNKS_PER_REQUEST));
  }
  const sseOnly = sseOnlyNs.sort((a, b) => a - b)[2];
  if (sink === 42) console.error(''); // keep the loops from being optimised away
  return {
    clockReadNs: Number((clock - baseline).toFixed(1)),
    timestampAndRecordNsPerChunk: Number((bookkeeping - baseline).toFixed(1)),
    sseParseOnlyNsPerChunk: Number(sseOnly.toFixed(1)),
    sseParseAndJsonParseNsPerChunk: Number(parse.toFixed(1)),
    parserCeilingChunksPerS: Math.round(1e9 / parse),
  };
}

// ------------------------------------------------------------------ orchestrator
async function orchestrate() {
  const run = (cpu, args) => onCpu(cpu, process.execPath, [self, ...args]);
  const {server, port} = await startServerChild(self, ['--server'], 1);
  try {
    const [dcmd, dargs] = run(0, ['--driver', `http://127.0.0.1:${port}`]);
    const r = spawnSync(dcmd, dargs, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24});
    if (r.status !== 0) throw new Error(`driver exited ${r.status}`);
    const results = JSON.parse(r.stdout);
    console.log(
      JSON.stringify(
        {
          node: process.version,
          cpus: cpus().length,
          cpuModel: cpus()[0]?.model,
          pinning: canPin ? {driverCpu: 0, serverCpu: 1, via: 'taskset -c'} : null,
          workload: {mode: 'closed', concurrency: CONCURRENCY, requests: REQUESTS, chunksPerRequest: CHUNKS_PER_REQUEST, repetitions: REPETITIONS, figure: 'median repetition'},
          ...results,
        },
        null,
        2,
      ),
    );
  } finally {
    server.kill('SIGTERM');
  }
}
