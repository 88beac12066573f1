#!/usr/bin/env node
// Throughput of the embedded llama.cpp server on the tiny model: streaming completions with
// ignore_eos (fixed output length), closed loop at concurrency 1 and 4, after a warm-up.
// Prints one JSON object; outputTokensPerS is the median over the repetitions of
// Σ usage.completion_tokens / wall time of the repetition. Needs the plugin built (tsc -b).
import {spawn} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import {request} from 'node:http';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {SERVER_MAIN_PATH, writeTinyModel} from '../plugins/backend-llamacpp/dist/index.js';

const MAX_TOKENS = 64;
const REQUESTS_PER_REP = 32;
const REPETITIONS = Number(process.env.REPS ?? 3);
const CONCURRENCIES = [1, 4];
const THREADS = 1;
const PARALLEL = 4;

function startServer(modelPath) {
  const child = spawn(process.execPath, [SERVER_MAIN_PATH, '--model', modelPath, '--port', '0', '--threads', String(THREADS), '--parallel', String(PARALLEL)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const match = /listening on (http:\S+)/.exec(out);
      if (match) resolve({child, url: match[1]});
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${err}`)));
  });
}

/** One streaming completion; resolves with its completion_tokens from the final usage chunk. */
function complete(url, prompt) {
  const body = JSON.stringify({prompt, max_tokens: MAX_TOKENS, ignore_eos: true, stream: true, stream_options: {include_usage: true}});
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/completions`, {method: 'POST', headers: {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body)}});
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d) => (text += d));
      res.on('end', () => {
        const usage = text
          .split('\n\n')
          .filter((e) => e.startsWith('data: {'))
          .map((e) => JSON.parse(e.slice(6)))
          .find((e) => e.usage)?.usage;
        if (res.statusCode !== 200 || !usage) reject(new Error(`bad answer ${res.statusCode}: ${text.slice(0, 200)}`));
        else resolve(usage.completion_tokens);
      });
    });
    req.end(body);
  });
}

/** Closed loop: `concurrency` workers each send the next request as soon as theirs ends. */
async function closedLoop(url, concurrency, count) {
  let next = 0;
  let tokens = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({length: concurrency}, async () => {
      while (next < count) {
        const i = next++;
        const completionTokens = await complete(url, `the energy of request ${i} is measured`);
        tokens += completionTokens; // not `tokens += await …`: that reads `tokens` before awaiting and loses updates
      }
    }),
  );
  const durationS = (performance.now() - started) / 1000;
  return {tokens, durationS, tokensPerS: tokens / durationS};
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const dir = mkdtempSync(join(tmpdir(), 'lem-bench-'));
const model = await writeTinyModel(join(dir, 'tiny.gguf'), {seed: 1});
const {child, url} = await startServer(model.path);
try {
  const results = {};
  for (const concurrency of CONCURRENCIES) {
    await closedLoop(url, concurrency, REQUESTS_PER_REP); // warm-up (JIT, caches), not counted
    const reps = [];
    for (let r = 0; r < REPETITIONS; r++) reps.push(await closedLoop(url, concurrency, REQUESTS_PER_REP));
    results[`concurrency${concurrency}`] = {
      outputTokensPerS: Math.round(median(reps.map((x) => x.tokensPerS))),
      repsTokensPerS: reps.map((x) => Math.round(x.tokensPerS)),
    };
  }
  console.log(
    JSON.stringify(
      {
        model: {file: 'tiny.gguf (seed 1)', bytes: model.bytes},
        server: {threads: THREADS, parallel: PARALLEL},
        workload: {maxTokens: MAX_TOKENS, ignoreEos: true, stream: true, requestsPerRep: REQUESTS_PER_REP, repetitions: REPETITIONS},
        ...results,
        speedup4v1: Number((results.concurrency4.outputTokensPerS / results.concurrency1.outputTokensPerS).toFixed(2)),
      },
      null,
      2,
    ),
  );
} finally {
  child.removeAllListeners('exit');
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  rmSync(dir, {recursive: true, force: true});
}
