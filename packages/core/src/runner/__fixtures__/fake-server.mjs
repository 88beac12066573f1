#!/usr/bin/env node
/**
 * A scripted stand-in for an inference server, to drive the launcher through every failure it
 * must handle. `node fake-server.mjs --mode MODE [--port N] [options]`:
 *   ready        listen; GET /health 503 for --ready-after-ms, then 200; POST /v1/completions 200
 *   never-ready  listen; GET /health always 503
 *   die          after --die-after-ms print --stderr TEXT on stderr, exit --exit-code (default 1)
 *   hang         print nothing, listen on nothing, never exit
 * Options: --ignore-term (SIGTERM does nothing), --grandchild (start a child in the same process
 * group that also ignores SIGTERM; prints `grandchild PID`), --cat FILE (print FILE's contents),
 * --print-env NAME (print `env NAME=value`).
 * Every process it starts writes its pid into $FAKE_PID_DIR (when set), so a test can kill it
 * even when the code under test failed to.
 */
import {spawn} from 'node:child_process';
import {readFileSync, writeFileSync} from 'node:fs';
import {createServer} from 'node:http';
import {join} from 'node:path';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : args[i + 1];
};
const flag = (name) => args.includes(`--${name}`);
const mode = opt('mode', 'ready');
const startedMs = Date.now();

// Outlive a dead reader of our output (lem killed with -9) instead of dying of EPIPE, as a stubborn server would.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});
if (process.env.FAKE_PID_DIR) writeFileSync(join(process.env.FAKE_PID_DIR, String(process.pid)), '');
if (flag('ignore-term')) process.on('SIGTERM', () => process.stderr.write('ignoring SIGTERM\n'));
else process.on('SIGTERM', () => process.exit(0));
if (flag('grandchild')) {
  // Wait until the grandchild has recorded itself and ignores SIGTERM, so tests see a settled group.
  const child = spawn(process.execPath, ['-e', `
    if (process.env.FAKE_PID_DIR) require('fs').writeFileSync(require('path').join(process.env.FAKE_PID_DIR, String(process.pid)), '');
    process.on('SIGTERM', () => {});
    process.stdout.write('ok');
    setInterval(() => {}, 1000);
  `], {stdio: ['ignore', 'pipe', 'ignore']});
  await new Promise((resolve) => child.stdout.once('data', resolve));
  child.stdout.destroy();
  process.stdout.write(`grandchild ${child.pid}\n`);
}
if (opt('cat')) process.stdout.write(`cat ${readFileSync(opt('cat'), 'utf8')}\n`);
if (opt('print-env')) process.stdout.write(`env ${opt('print-env')}=${process.env[opt('print-env')] ?? ''}\n`);

if (mode === 'die') {
  setTimeout(() => {
    if (opt('stderr')) process.stderr.write(`${opt('stderr')}\n`);
    process.exit(Number(opt('exit-code', '1')));
  }, Number(opt('die-after-ms', '0')));
} else if (mode === 'hang') {
  setInterval(() => {}, 1000);
} else {
  const readyAfterMs = Number(opt('ready-after-ms', '0'));
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const ready = mode === 'ready' && Date.now() - startedMs >= readyAfterMs;
      if (req.url === '/health') {
        res.writeHead(ready ? 200 : 503, {'content-type': 'application/json'}).end(JSON.stringify({status: ready ? 'ok' : 'loading'}));
      } else if (req.method === 'POST' && req.url === '/v1/completions' && ready) {
        const {model} = JSON.parse(body);
        process.stdout.write(`probe model=${model}\n`);
        res.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify({choices: [{text: 'x'}]}));
      } else {
        res.writeHead(ready ? 404 : 503).end();
      }
    });
  });
  server.listen(Number(opt('port')), '127.0.0.1', () => process.stdout.write(`listening on http://127.0.0.1:${opt('port')}\n`));
}
