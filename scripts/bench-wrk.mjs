#!/usr/bin/env node
// lem's workload driver beside `wrk` (a C HTTP load generator) on the same instant local server,
// measured in one run, so that the figures are ratios taken side by side: how far the client is
// from a load generator that does no per-chunk work. Prints one JSON document. Needs `wrk` on
// PATH (Debian: `apt-get install wrk`) and core built first (`npx tsc -b packages/core`).
//
//   node scripts/bench-wrk.mjs        # DURATION_S=3 REPS=3 CONCURRENCY=8 CHUNKS=200
//
// The server runs in its own process; where `taskset` exists and there are ≥ 2 CPUs, the load
// generator (lem or wrk) is pinned to CPU 0 and the server to CPU 1. lem runs a closed loop at
// concurrency C over keep-alive sockets; wrk runs `-c C -t 1` with a Lua script that POSTs the
// byte-identical JSON body lem sends. Both get the same response bytes, picked by path prefix:
//   short      one SSE data chunk (text + usage) and `[DONE]`, with content-length
//   coalesced  CHUNKS chunks + a usage chunk + `[DONE]` in one write, with content-length
//   per-write  the same events, one chunked-encoding write per event, yielding between writes
// The server is a minimal HTTP/1.1 responder on `node:net` with canned responses, cheaper per
// request than `node:http`, so that it caps wrk as late as possible. Its CPU utilisation is
// reported beside each figure: near 1, the server, not the client, set the pace (then the
// requests/s ratio is an upper bound of lem ÷ wrk, and requests per client CPU-second compare).
import {spawn, spawnSync} from 'node:child_process';
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import net from 'node:net';
import {cpus, loadavg, tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {canPin, onCpu, startServerChild} from './bench-lib.mjs';

const CHUNKS = Number(process.env.CHUNKS ?? 200);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const DURATION_S = Number(process.env.DURATION_S ?? 3);
const REPETITIONS = Number(process.env.REPS ?? 3);
const PROMPT = 'bench prompt';
const self = fileURLToPath(import.meta.url);
const dist = new URL('../packages/core/dist/workload/', import.meta.url);

/** Content chunks per response and the template lem sends, by server style. */
const STYLES = {short: {chunks: 1, streamed: false}, coalesced: {chunks: CHUNKS, streamed: true}, 'per-write': {chunks: CHUNKS, streamed: true}};
const template = (baseUrl, style) => ({baseUrl: `${baseUrl}/${style}/v1`, api: 'completions', model: 'bench', maxTokens: STYLES[style].chunks, temperature: 0, extras: {ignore_eos: true}, timeoutMs: 60_000});
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const role = process.argv[2];
if (role === '--server') serve();
else if (role === '--lem') await lem(process.argv[3], process.argv[4], Number(process.argv[5]), Number(process.argv[6]));
else await orchestrate();

// ------------------------------------------------------------------ responses (shared)
/** The exact bytes of one response of each style: what both clients read. */
function responses() {
  const chunk = (choices, usage) => `data: ${JSON.stringify({id: 'cmpl-bench', object: 'text_completion', created: 1700000000, model: 'bench', choices, ...(usage ? {usage} : {})})}\n\n`;
  const choice = (finish) => ({index: 0, text: ' tok', logprobs: null, finish_reason: finish});
  const usage = (n) => ({prompt_tokens: 8, completion_tokens: n, total_tokens: n + 8});
  const head = (extra) => `HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: keep-alive\r\n${extra}\r\n`;
  const withLength = (body) => Buffer.from(head(`content-length: ${Buffer.byteLength(body)}\r\n`) + body);
  const events = [...Array.from({length: CHUNKS}, (_, i) => chunk([choice(i === CHUNKS - 1 ? 'length' : null)])), chunk([], usage(CHUNKS)), 'data: [DONE]\n\n'];
  const framed = (e) => `${Buffer.byteLength(e).toString(16)}\r\n${e}\r\n`;
  const perWrite = [Buffer.from(head('transfer-encoding: chunked\r\n')), ...events.map((e) => Buffer.from(framed(e))), Buffer.from('0\r\n\r\n')];
  return {
    short: withLength(chunk([choice('length')], usage(1)) + 'data: [DONE]\n\n'),
    coalesced: withLength(events.join('')),
    'per-write': perWrite,
  };
}
function responseBytes(r) {
  return Array.isArray(r) ? r.reduce((s, b) => s + b.length, 0) : r.length;
}

// ------------------------------------------------------------------ server (child process)
function serve() {
  const canned = responses();
  const HEAD_END = Buffer.from('\r\n\r\n');
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    let buf = Buffer.alloc(0);
    let busy = false; // a per-write response is still being written
    const styleOf = (line) => {
      const path = line.split(' ')[1] ?? '';
      return path.startsWith('/short/') ? 'short' : path.startsWith('/coalesced/') ? 'coalesced' : path.startsWith('/per-write/') ? 'per-write' : null;
    };
    const drain = () => {
      while (!busy) {
        const end = buf.indexOf(HEAD_END);
        if (end === -1) return;
        const headText = buf.toString('latin1', 0, end);
        const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(headText)?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        buf = buf.subarray(end + 4 + length);
        const style = styleOf(headText.slice(0, headText.indexOf('\r\n')));
        if (style === null) {
          socket.write('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
          continue;
        }
        const r = canned[style];
        if (!Array.isArray(r)) {
          socket.write(r);
          continue;
        }
        busy = true;
        let i = 0;
        const next = () => {
          if (socket.destroyed) return;
          if (i < r.length) {
            socket.write(r[i++]);
            setImmediate(next);
          } else {
            busy = false;
            drain();
          }
        };
        next();
      }
    };
    socket.on('data', (piece) => {
      buf = buf.length === 0 ? piece : Buffer.concat([buf, piece]);
      drain();
    });
    socket.on('error', () => socket.destroy());
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({port: server.address().port}) + '\n'));
  process.on('SIGTERM', () => process.exit(0));
}

// ------------------------------------------------------------------ lem (child process)
/**
 * A probe and a warm-up run (about a second), then one measured run sized to about DURATION_S;
 * the server's CPU time is read around the measured run only.
 */
async function lem(baseUrl, style, serverPid, ticksPerS) {
  const {runWorkload} = await import(new URL('driver.js', dist).href);
  const {monoNs} = await import(new URL('../measure/types.js', dist).href);
  const {chunks} = STYLES[style];
  const once = async (requests) => {
    const prompts = Array.from({length: requests}, (_, i) => ({index: i, text: PROMPT}));
    const server0 = cpuSecondsOf(serverPid, ticksPerS);
    const cpu0 = process.cpuUsage();
    const t0Ns = monoNs();
    const result = await runWorkload({template: template(baseUrl, style), prompts, mode: {kind: 'closed', concurrency: CONCURRENCY}, phase: 'measure', t0Ns, firstId: 0});
    const wallS = Number(monoNs() - t0Ns) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const server1 = cpuSecondsOf(serverPid, ticksPerS);
    const failed = result.records.filter((r) => !r.ok);
    if (failed.length) throw new Error(`lem: ${failed.length} requests failed: ${failed[0].error.message}`);
    const contentChunks = result.records.reduce((s, r) => s + r.contentChunks, 0);
    if (contentChunks !== requests * chunks) throw new Error(`lem: expected ${requests * chunks} chunks, got ${contentChunks}`);
    if (result.records.some((r) => r.outputTokens !== chunks)) throw new Error('lem: a record lacks the usage chunk');
    return {requests, wallS, cpuS: (cpu.user + cpu.system) / 1e6, chunks: contentChunks, serverCpuS: server0 === null || server1 === null ? null : server1 - server0};
  };
  const probe = await once(style === 'short' ? 2000 : 200);
  const warm = await once(Math.max(probe.requests, Math.round(probe.requests / probe.wallS)));
  const measured = await once(Math.max(warm.requests, Math.round((warm.requests / warm.wallS) * DURATION_S)));
  process.stdout.write(JSON.stringify(measured) + '\n');
}

// ------------------------------------------------------------------ orchestrator
function wrkVersion() {
  const r = spawnSync('wrk', ['-v'], {encoding: 'utf8'});
  if (r.error) return null;
  return /^wrk\s+(\S+)/.exec(`${r.stdout}${r.stderr}`)?.[1] ?? 'unknown';
}

/** CPU seconds (user + system) a process has used so far, from /proc; null where there is none. */
function cpuSecondsOf(pid, ticksPerS) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerS;
  } catch {
    return null;
  }
}

/**
 * The CPU share each of CPUs 0 and 1 gives a busy process while both are busy, over 1 s: 1.0 on
 * two real cores; about 0.5 where two vCPUs share one core's worth of host time. Below 1, the
 * load generator and the server take time from each other, and throughput ratios mix their costs.
 */
async function cpuShareWhenBothBusy(onCpu) {
  const spin = `const t=process.hrtime.bigint(),c=process.cpuUsage();while(process.hrtime.bigint()-t<1000000000n);const u=process.cpuUsage(c);console.log((u.user+u.system)/1e6)`;
  const one = (cpu) =>
    new Promise((resolve) => {
      const [cmd, args] = onCpu(cpu, process.execPath, ['-e', spin]);
      let text = '';
      const child = spawn(cmd, args, {stdio: ['ignore', 'pipe', 'inherit']});
      child.stdout.on('data', (d) => (text += d));
      child.on('exit', () => resolve(Number(Number(text).toFixed(2))));
    });
  return Promise.all([one(0), one(1)]);
}

/** The wrk script: lem's exact body and headers; done() prints the summary and wrk's own CPU time. */
function luaScript(body) {
  let level = '=';
  while (body.includes(`]${level}]`)) level += '=';
  return `wrk.method = "POST"
wrk.body = [${level}[${body}]${level}]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "text/event-stream"
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"durationUs":%.0f,"requests":%.0f,"bytes":%.0f,"cpuS":%.6f,"errors":{"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f}}\\n',
    summary.duration, summary.requests, summary.bytes, os.clock(), e.connect, e.read, e.write, e.status, e.timeout))
end
`;
}

async function orchestrate() {
  const version = wrkVersion();
  if (version === null) {
    console.error('bench-wrk: `wrk` is not installed (or not on PATH); this benchmark compares lem\'s driver with it.\nTry: apt-get install wrk   (Debian/Ubuntu; then rerun `pnpm bench wrk`)');
    process.exit(2);
  }
  const {requestBody} = await import(new URL('client.js', dist).href);
  const ticksPerS = Number(spawnSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).stdout?.trim()) || 100;
  const {server, port} = await startServerChild(self, ['--server'], 1);
  const base = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'lem-bench-wrk-'));
  const canned = responses();

  /** Runs fn, returning its figures plus the server's CPU utilisation over the same wall time. */
  const withServerCpu = (fn) => {
    const c0 = cpuSecondsOf(server.pid, ticksPerS);
    const t0 = process.hrtime.bigint();
    const figures = fn();
    const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
    const c1 = cpuSecondsOf(server.pid, ticksPerS);
    return {...figures, serverCpuUtilisation: c0 === null || c1 === null ? null : (c1 - c0) / wallS};
  };

  const runLem = (style) => {
    const [cmd, args] = onCpu(0, process.execPath, [self, '--lem', base, style, String(server.pid), String(ticksPerS)]);
    const r = spawnSync(cmd, args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit']});
    if (r.status !== 0) throw new Error(`lem driver (${style}) exited ${r.status}`);
    const m = JSON.parse(r.stdout);
    return {
      requestsPerS: m.requests / m.wallS,
      chunksPerS: m.chunks / m.wallS,
      cpuUtilisation: m.cpuS / m.wallS,
      requestsPerCpuS: m.requests / m.cpuS,
      serverCpuUtilisation: m.serverCpuS === null ? null : m.serverCpuS / m.wallS,
      requests: m.requests,
    };
  };

  const runWrk = (style, script, durationS) => {
    const [cmd, args] = onCpu(0, 'wrk', ['-t', '1', '-c', String(CONCURRENCY), '-d', `${durationS}s`, '-s', script, `${base}/${style}/v1/completions`]);
    const r = spawnSync(cmd, args, {encoding: 'utf8'});
    const line = r.stdout?.split('\n').find((l) => l.startsWith('WRKJSON '));
    if (r.status !== 0 || !line) throw new Error(`wrk (${style}) exited ${r.status}: ${r.stderr}${r.stdout}`);
    const s = JSON.parse(line.slice('WRKJSON '.length));
    const errors = Object.entries(s.errors).filter(([, n]) => n > 0);
    if (errors.length) throw new Error(`wrk (${style}): errors ${errors.map(([k, n]) => `${k} ${n}`).join(', ')}`);
    if (s.requests === 0) throw new Error(`wrk (${style}): no requests completed`);
    return s;
  };

  const loadAvgBefore = loadavg()[0];
  const cpuShareBefore = canPin ? await cpuShareWhenBothBusy(onCpu) : null;
  const out = {};
  try {
    for (const style of Object.keys(STYLES)) {
      const {chunks} = STYLES[style];
      const body = JSON.stringify(requestBody(template(base, style), {index: 0, text: PROMPT}));
      const script = join(dir, `${style}.lua`);
      writeFileSync(script, luaScript(body));
      const bytesPerResponse = responseBytes(canned[style]);
      const wrkOnce = () =>
        withServerCpu(() => {
          const s = runWrk(style, script, DURATION_S);
          const wallS = s.durationUs / 1e6;
          const measuredBytesPerResponse = s.bytes / s.requests;
          // Bytes read include a response in progress when the clock stops; more than one extra
          // response's worth per connection means the responses are not what the server sends.
          if (Math.abs(measuredBytesPerResponse - bytesPerResponse) > (bytesPerResponse * CONCURRENCY) / s.requests + 1) throw new Error(`wrk (${style}): ${measuredBytesPerResponse.toFixed(1)} bytes per response, expected ${bytesPerResponse}`);
          return {requestsPerS: s.requests / wallS, bytesPerS: s.bytes / wallS, equivalentChunksPerS: (s.bytes / wallS / bytesPerResponse) * chunks, cpuUtilisation: s.cpuS / wallS, requestsPerCpuS: s.requests / s.cpuS, requests: s.requests};
        });

      runWrk(style, script, 1); // warm-up: the server's JIT, before either client is measured
      const lemReps = [];
      const wrkReps = [];
      // Alternate, swapping the order every repetition (lem wrk, wrk lem, …), so drift hits both alike.
      for (let rep = 0; rep < REPETITIONS; rep++) {
        if (rep % 2 === 0) {
          lemReps.push(runLem(style));
          wrkReps.push(wrkOnce());
        } else {
          wrkReps.push(wrkOnce());
          lemReps.push(runLem(style));
        }
      }
      const med = (reps, key) => (reps.some((r) => r[key] === null) ? null : median(reps.map((r) => r[key])));
      const round = (x, d = 0) => (x === null ? null : Number(x.toFixed(d)));
      const lemFig = {
        requestsPerS: round(med(lemReps, 'requestsPerS')),
        ...(STYLES[style].streamed ? {chunksPerS: round(med(lemReps, 'chunksPerS'))} : {}),
        requestsPerCpuS: round(med(lemReps, 'requestsPerCpuS')),
        ...(STYLES[style].streamed ? {chunksPerCpuS: round(med(lemReps, 'requestsPerCpuS') * chunks)} : {}),
        cpuUtilisation: round(med(lemReps, 'cpuUtilisation'), 2),
        serverCpuUtilisation: round(med(lemReps, 'serverCpuUtilisation'), 2),
        repsRequestsPerS: lemReps.map((r) => round(r.requestsPerS)),
        repsRequests: lemReps.map((r) => r.requests),
      };
      const wrkFig = {
        requestsPerS: round(med(wrkReps, 'requestsPerS')),
        bytesPerS: round(med(wrkReps, 'bytesPerS')),
        ...(STYLES[style].streamed ? {equivalentChunksPerS: round(med(wrkReps, 'equivalentChunksPerS'))} : {}),
        requestsPerCpuS: round(med(wrkReps, 'requestsPerCpuS')),
        ...(STYLES[style].streamed ? {equivalentChunksPerCpuS: round(med(wrkReps, 'requestsPerCpuS') * chunks)} : {}),
        cpuUtilisation: round(med(wrkReps, 'cpuUtilisation'), 2),
        serverCpuUtilisation: round(med(wrkReps, 'serverCpuUtilisation'), 2),
        repsRequestsPerS: wrkReps.map((r) => round(r.requestsPerS)),
      };
      out[style] = {
        chunksPerResponse: chunks,
        bytesPerResponse,
        lem: lemFig,
        wrk: wrkFig,
        // Ratios of the medians, lem ÷ wrk.
        ratio: {
          requestsPerS: round(med(lemReps, 'requestsPerS') / med(wrkReps, 'requestsPerS'), 3),
          requestsPerCpuS: round(med(lemReps, 'requestsPerCpuS') / med(wrkReps, 'requestsPerCpuS'), 3),
        },
      };
    }
  } finally {
    server.kill('SIGTERM');
    rmSync(dir, {recursive: true, force: true});
  }
  const loadAvgAfter = loadavg()[0];
  const cpuShareAfter = canPin ? await cpuShareWhenBothBusy(onCpu) : null;
  console.log(
    JSON.stringify(
      {
        node: process.version,
        wrk: version,
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model,
        // Other work on the machine lowers both clients' figures: the 1-minute load average (the
        // value after counts this run's own two busy processes) and the share of CPUs 0 and 1 two
        // spinning processes get, before and after the measurements (1 = a CPU each).
        loadAvg1m: {before: Number(loadAvgBefore.toFixed(2)), after: Number(loadAvgAfter.toFixed(2))},
        pinning: canPin ? {loadGeneratorCpu: 0, serverCpu: 1, via: 'taskset -c', cpuShareWhenBothBusy: {before: cpuShareBefore, after: cpuShareAfter}} : null,
        workload: {concurrency: CONCURRENCY, lem: `closed loop, keep-alive, concurrency ${CONCURRENCY}`, wrkArgs: `-t 1 -c ${CONCURRENCY} -d ${DURATION_S}s`, durationS: DURATION_S, chunksPerStreamedResponse: CHUNKS, repetitions: REPETITIONS, figure: 'median of the repetitions; ratio = lem median ÷ wrk median'},
        ...out,
      },
      null,
      2,
    ),
  );
}
