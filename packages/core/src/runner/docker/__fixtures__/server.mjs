// A minimal OpenAI-shaped server for the docker runner's tests: node server.mjs <port> <mode>.
// Modes: ok; exit (exits at once with 3); never (health stays 503); oom (allocates without end);
// busy (serves and spins a CPU).
import http from 'node:http';
const port = Number(process.argv[2]);
const mode = process.argv[3] ?? 'ok';
if (mode === 'exit') {
  console.error('fatal: the model file is broken');
  process.exit(3);
}
if (mode === 'oom') {
  const held = [];
  for (;;) held.push(Buffer.alloc(1 << 20, 1));
}
if (mode === 'busy') setInterval(() => { const end = Date.now() + 90; while (Date.now() < end); }, 100);
http
  .createServer((req, res) => {
    if (mode === 'never') return void (res.writeHead(503), res.end());
    if (req.url === '/health') return void (res.writeHead(200), res.end('{}'));
    req.resume();
    req.on('end', () => (res.writeHead(200, {'content-type': 'application/json'}), res.end('{"choices":[{"text":"x"}]}')));
  })
  .listen(port, '127.0.0.1', () => console.log(`listening on ${port}`));
process.on('SIGTERM', () => (console.log('stopping'), process.exit(0)));
