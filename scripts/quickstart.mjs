#!/usr/bin/env node
// The quickstart (`make demo`): writes the tiny test model, lists the backends, starts the
// embedded llama.cpp server on it and streams one completion, then stops the server.
// Everything runs offline on the CPU.
import {spawn, spawnSync} from 'node:child_process';
import {existsSync, mkdirSync} from 'node:fs';
import {join} from 'node:path';
import {createInterface} from 'node:readline';
import {fileURLToPath} from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const lemBin = join(root, 'packages/cli/bin/run.js');
const model = join(root, 'models/tiny.gguf');

function lem(args) {
  console.log(`\n$ lem ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [lemBin, ...args], {stdio: 'inherit'});
  if (r.status !== 0) process.exit(r.status ?? 1);
}

mkdirSync(join(root, 'models'), {recursive: true});
if (!existsSync(model)) lem(['llamacpp', 'tiny-model', model]);
lem(['backends']);

console.log(`\n$ lem llamacpp serve --model ${model} --port 0 --threads 1`);
const server = spawn(process.execPath, [lemBin, 'llamacpp', 'serve', '--model', model, '--port', '0', '--threads', '1'], {stdio: ['ignore', 'pipe', 'inherit']});
const stop = () => server.exitCode === null && server.kill('SIGTERM');
process.on('exit', stop);
const readyTimer = setTimeout(() => {
  console.error('the server did not become ready within 60 s');
  stop();
  process.exit(1);
}, 60_000);
const lines = createInterface({input: server.stdout});
const base = await new Promise((resolve, reject) => {
  server.on('exit', (code) => reject(new Error(`the server exited with code ${code} before it was ready`)));
  lines.on('line', (line) => {
    console.log(`  ${line}`);
    const m = /listening on (http:\/\/\S+)/.exec(line);
    if (m) resolve(m[1]);
  });
}).catch((error) => {
  console.error(error.message);
  process.exit(1);
});
clearTimeout(readyTimer);

const maxTokens = 64;
const t0 = performance.now();
const res = await fetch(`${base}/v1/completions`, {
  method: 'POST',
  headers: {'content-type': 'application/json'},
  body: JSON.stringify({prompt: 'The cost of running a language model is', max_tokens: maxTokens, stream: true, ignore_eos: true, stream_options: {include_usage: true}}),
});
let usage;
let firstMs;
let buffer = '';
for await (const chunk of res.body) {
  buffer += Buffer.from(chunk).toString('utf8');
  let i;
  while ((i = buffer.indexOf('\n\n')) >= 0) {
    const event = buffer.slice(0, i).replace(/^data: /, '');
    buffer = buffer.slice(i + 2);
    if (event === '[DONE]') continue;
    const data = JSON.parse(event);
    if (data.usage) usage = data.usage;
    if (data.choices?.[0]?.text && firstMs === undefined) firstMs = performance.now() - t0;
  }
}
const totalS = (performance.now() - t0) / 1000;
stop();
console.log(
  `\nstreamed ${usage?.completion_tokens} tokens (prompt ${usage?.prompt_tokens}) in ${totalS.toFixed(3)} s: ` +
    `${(usage.completion_tokens / totalS).toFixed(0)} tokens/s, first token after ${firstMs?.toFixed(1)} ms`,
);
console.log('The tiny model has random weights: its text is gibberish, its timings are real.');
