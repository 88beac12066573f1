#!/usr/bin/env node
/**
 * A small OpenAI-compatible server for end-to-end tests of what the tiny llama.cpp model cannot
 * show: `node openai-server.mjs --port N [options]`
 *   --burn-cpu-s S        spend S seconds of its own CPU time before it listens (a model load)
 *   --log FILE            append every completion request received as a JSON line {prompt, maxTokens}
 *   --tokenize            serve POST /tokenize and /detokenize (one token per character)
 *   --no-usage            send no `usage` chunk (token counts then come from /tokenize, if any)
 *   --chunk-ms MS         wait this long between streamed tokens (default 0)
 * GET /health answers 200; POST /v1/completions streams `max_tokens` one-token chunks, then the
 * usage chunk and [DONE]. It prints `listening on http://127.0.0.1:PORT` once it listens.
 */
import {appendFileSync} from 'node:fs';
import {createServer} from 'node:http';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : args[i + 1];
};
const flag = (name) => args.includes(`--${name}`);
const port = Number(opt('port', '0'));
const log = opt('log');
const chunkMs = Number(opt('chunk-ms', '0'));
process.on('SIGTERM', () => process.exit(0));

const burnS = Number(opt('burn-cpu-s', '0'));
if (burnS > 0) {
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const end = cpu() + burnS;
  while (cpu() < end) {
    // a model load: CPU time, not wall-clock time
  }
}

const body = (req) =>
  new Promise((resolve) => {
    let text = '';
    req.on('data', (d) => (text += d));
    req.on('end', () => resolve(text ? JSON.parse(text) : {}));
  });
const json = (res, value) => {
  res.writeHead(200, {'content-type': 'application/json'});
  res.end(JSON.stringify(value));
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const server = createServer(async (req, res) => {
  if (req.method === 'GET' && req.url === '/health') return json(res, {status: 'ok'});
  if (req.method === 'GET' && req.url === '/v1/models') return json(res, {data: [{id: 'fake'}]});
  if (req.method === 'POST' && req.url === '/tokenize' && flag('tokenize')) {
    const {content} = await body(req);
    return json(res, {tokens: Array.from(String(content ?? '')).map((c) => c.codePointAt(0))});
  }
  if (req.method === 'POST' && req.url === '/detokenize' && flag('tokenize')) {
    const {tokens} = await body(req);
    return json(res, {content: String.fromCodePoint(...(tokens ?? []))});
  }
  if (req.method === 'POST' && req.url === '/v1/completions') {
    const request = await body(req);
    const n = Math.max(1, Number(request.max_tokens ?? 16));
    if (log) appendFileSync(log, `${JSON.stringify({prompt: request.prompt, maxTokens: n})}\n`);
    res.writeHead(200, {'content-type': 'text/event-stream'});
    const chunk = (text, finish) => `data: ${JSON.stringify({id: 'c', object: 'text_completion', model: 'fake', choices: [{index: 0, text, finish_reason: finish}]})}\n\n`;
    for (let i = 0; i < n; i++) {
      res.write(chunk('x', i === n - 1 ? 'length' : null));
      if (chunkMs > 0) await sleep(chunkMs);
    }
    if (!flag('no-usage')) {
      const promptTokens = Array.from(String(request.prompt ?? '')).length;
      res.write(`data: ${JSON.stringify({id: 'c', object: 'text_completion', model: 'fake', choices: [], usage: {prompt_tokens: promptTokens, completion_tokens: n, total_tokens: promptTokens + n}})}\n\n`);
    }
    res.end('data: [DONE]\n\n');
    return;
  }
  res.writeHead(404);
  res.end();
});
server.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${server.address().port}`));
