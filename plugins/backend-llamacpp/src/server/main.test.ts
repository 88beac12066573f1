/**
 * The server process's life: exit codes for bad models, arguments and ports; client disconnects;
 * shutdown on signals. Real processes, a generated model.
 */
import {writeFileSync} from 'node:fs';
import {createServer, type Server} from 'node:net';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {ensureBuilt, http, runServerToExit, spawnServer, tempDir, type ServerProcess} from '../__fixtures__/harness.js';
import {tinyModelDocument, writeTinyModel} from '../gguf/tiny-model.js';
import {encodeGguf} from '../gguf/writer.js';

const dir = tempDir();
let modelPath: string;
/** Long context and one sequence: generation lasts long enough to interrupt. */
let server: ServerProcess;

beforeAll(async () => {
  ensureBuilt();
  modelPath = (await writeTinyModel(join(dir.path, 'tiny.gguf'), {seed: 1})).path;
  server = await spawnServer(['--model', modelPath, '--port', '0', '--threads', '1', '--parallel', '1', '--context-size', '4096']);
});

afterAll(async () => {
  await server?.stop('SIGKILL');
  dir.remove();
});

function expectCleanError(stderr: string, code: string): void {
  expect(stderr).toContain(`Error ${code}:`);
  expect(stderr).toMatch(/^Try: /m);
  expect(stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m); // no stack trace
}

async function counter(url: string, name: string): Promise<number> {
  const res = await http(`${url}/metrics`);
  return Number(new RegExp(`^llamacpp:${name} (\\d+)$`, 'm').exec(res.text)![1]);
}

describe('exit codes', () => {
  it('exits 2 with E_MODEL_INVALID for a model llama.cpp would abort on (no feed_forward_length), not 134', async () => {
    const doc = tinyModelDocument({seed: 1});
    const path = join(dir.path, 'no-ff.gguf');
    writeFileSync(path, encodeGguf({...doc, metadata: doc.metadata.filter(([key]) => key !== 'llama.feed_forward_length')}));
    const result = await runServerToExit(['--model', path, '--port', '0', '--threads', '1']);
    expect(result).toMatchObject({code: 2, signal: null});
    expectCleanError(result.stderr, 'E_MODEL_INVALID');
    expect(result.stderr).toContain('no-ff.gguf');
    expect(result.stderr).toContain('llama.feed_forward_length');
    expect(result.stdout).not.toContain('listening');
  });

  it("exits 2 with E_MODEL_INVALID and llama.cpp's reason for a header that passes but tensors that do not", async () => {
    const doc = tinyModelDocument({seed: 1});
    const path = join(dir.path, 'bad-shape.gguf');
    const tensors = doc.tensors.map((t) => (t.name === 'blk.0.attn_q.weight' ? {...t, dims: [64, 32], data: t.data.subarray(0, 64 * 32)} : t));
    writeFileSync(path, encodeGguf({...doc, tensors}));
    const result = await runServerToExit(['--model', path, '--port', '0', '--threads', '1']);
    expect(result).toMatchObject({code: 2, signal: null});
    expectCleanError(result.stderr, 'E_MODEL_INVALID');
    expect(result.stderr).toMatch(/Error E_MODEL_INVALID: llama\.cpp could not load .*bad-shape\.gguf: .*blk\.0\.attn_q\.weight.*wrong shape/);
  });

  it('exits 2 with E_MODEL_INVALID for a file that is not GGUF', async () => {
    const path = join(dir.path, 'notes.txt');
    writeFileSync(path, 'not a model\n');
    const result = await runServerToExit(['--model', path, '--port', '0']);
    expect(result).toMatchObject({code: 2, signal: null});
    expectCleanError(result.stderr, 'E_MODEL_INVALID');
  });

  it('exits 2 with E_MODEL_NOT_FOUND for a missing file', async () => {
    const result = await runServerToExit(['--model', join(dir.path, 'absent.gguf'), '--port', '0']);
    expect(result.code).toBe(2);
    expectCleanError(result.stderr, 'E_MODEL_NOT_FOUND');
  });

  it.each([
    [['--port', '0'], /--model/],
    [['--model', 'x.gguf', '--parallel', '0'], /--parallel/],
    [['--model', 'x.gguf', '--threads', 'two'], /--threads/],
    [['--model', 'x.gguf', '--gpu-layers', 'all'], /--gpu-layers/],
    [['--model', 'x.gguf', '--bogus'], /bogus/],
  ])('exits 2 with E_SERVER_ARGS for %j', async (args, message) => {
    const result = await runServerToExit(args);
    expect(result.code).toBe(2);
    expectCleanError(result.stderr, 'E_SERVER_ARGS');
    expect(result.stderr).toMatch(message);
  });

  it('exits 3 with E_PORT_IN_USE when the port is taken', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as {port: number}).port;
    try {
      const result = await runServerToExit(['--model', modelPath, '--port', String(port), '--threads', '1']);
      expect(result).toMatchObject({code: 3, signal: null});
      expectCleanError(result.stderr, 'E_PORT_IN_USE');
      expect(result.stderr).toContain(String(port));
    } finally {
      blocker.close();
    }
  });
});

describe('a running server', () => {
  it('stops generating and frees the sequence when the client disconnects mid-stream', async () => {
    const before = await counter(server.url, 'tokens_predicted_total');
    let chunks = 0;
    await http(
      `${server.url}/v1/completions`,
      {prompt: 'hello world', max_tokens: 4000, ignore_eos: true, stream: true},
      {
        onPiece: (_text, req) => {
          if (++chunks === 3) req.destroy();
        },
      },
    ).catch(() => undefined);
    // Wait until the server has noticed (its sequence is free again) rather than a fixed time,
    // then check it did not go on to 4000 tokens. One that never noticed would still be
    // processing at the deadline, or would have generated all 4000 (seconds at this model's speed).
    const deadline = performance.now() + 10_000;
    while ((await counter(server.url, 'requests_processing')) !== 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const generated = (await counter(server.url, 'tokens_predicted_total')) - before;
    expect(generated).toBeGreaterThanOrEqual(3);
    expect(generated).toBeLessThan(2000);
    expect(await counter(server.url, 'requests_processing')).toBe(0);
    // The only sequence is free again: a new request is served at once.
    const res = await http(`${server.url}/v1/completions`, {prompt: 'hello', max_tokens: 5, ignore_eos: true});
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text).usage.completion_tokens).toBe(5);
  });

  it('exits 0 promptly on SIGTERM, ending an in-flight stream', async () => {
    let sawChunk!: () => void;
    const firstChunk = new Promise<void>((resolve) => (sawChunk = resolve));
    const inFlight = http(`${server.url}/v1/completions`, {prompt: 'hello world', max_tokens: 4000, ignore_eos: true, stream: true}, {onPiece: () => sawChunk()}).catch(
      (error: Error) => ({status: 0, text: error.message, pieces: [], headers: {}}),
    );
    await firstChunk;
    const exit = await server.stop('SIGTERM');
    expect(exit).toMatchObject({code: 0, signal: null});
    expect(exit.durationMs).toBeLessThan(2500);
    const response = await inFlight;
    expect(response.text).not.toContain('[DONE]'); // cut short, not completed
    expect(server.stderr()).toContain('SIGTERM');
    expect(server.stderr()).not.toMatch(/^\s+at /m);
  });

  it('exits 0 on SIGINT too', async () => {
    const other = await spawnServer(['--model', modelPath, '--port', '0', '--threads', '1', '--parallel', '1']);
    expect((await http(`${other.url}/health`)).status).toBe(200);
    const exit = await other.stop('SIGINT');
    expect(exit).toMatchObject({code: 0, signal: null});
    expect(exit.durationMs).toBeLessThan(2500);
  });
});
