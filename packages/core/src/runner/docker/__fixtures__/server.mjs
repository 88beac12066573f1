// A minimal OpenAI-shaped server for the docker runner's tests: node server.mjs <port> <mode>.
// Modes: ok; exit (fails at once with code 3); never (health stays 503); oom (allocates without
// end before listening); oom-later (ready, then allocates without end on POST /oom); busy (serves
// and spins a CPU); ignore-term (serves, ignores SIGTERM). On SIGTERM it leaves the file
// `stopped-by-sigterm` in its working folder (the launch's work folder), which the host can see.
import {writeFileSync} from 'node:fs';
import http from 'node:http';

const port = Number(process.argv[2]);
const mode = process.argv[3] ?? 'ok';
const exhaust = () => {
  const held = [];
  for (;;) held.push(Buffer.alloc(1 << 20, 1)); // touched pages: resident memory
};
if (mode === 'exit') {
  console.error('fatal: the model file is broken');
  process.exit(3);
}
if (mode === 'oom') exhaust();
if (mode === 'busy') setInterval(() => { for (const end = Date.now() + 90; Date.now() < end; ); }, 100);
process.on('SIGTERM', () => {
  try {
    writeFileSync('stopped-by-sigterm', '');
  } catch {
    // a read-only folder: the exit code says it all the same
  }
  if (mode === 'ignore-term') return void console.log('ignoring SIGTERM');
  console.log('stopping');
  process.exit(0);
});
http
  .createServer((req, res) => {
    if (mode === 'never') return void (res.writeHead(503), res.end());
    if (req.url === '/health') return void (res.writeHead(200), res.end('{}'));
    if (req.url === '/oom') return void (res.writeHead(202), res.end(), setTimeout(exhaust, 10));
    if (req.url === '/pid') return void (res.writeHead(200), res.end(String(process.pid)));
    req.resume();
    req.on('end', () => (res.writeHead(200, {'content-type': 'application/json'}), res.end('{"choices":[{"text":"x"}]}')));
  })
  .listen(port, '127.0.0.1', () => console.log(`listening on ${port}`));
