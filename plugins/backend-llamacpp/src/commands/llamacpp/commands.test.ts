/** The plugin's oclif commands, run as real processes through @oclif/core. */
import {spawn} from 'node:child_process';
import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {ensureBuilt, http, tempDir} from '../../__fixtures__/harness.js';

const RUNNER = fileURLToPath(new URL('../../__fixtures__/run-command.mjs', import.meta.url));
const dir = tempDir();

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function lem(args: string[], options: {onStdout?: (text: string, child: ReturnType<typeof spawn>) => void; timeoutMs?: number} = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RUNNER, ...args], {stdio: ['ignore', 'pipe', 'pipe'], cwd: dir.path});
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      options.onStdout?.(stdout, child);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({code, stdout, stderr});
    });
  });
}

beforeAll(() => ensureBuilt());
afterAll(() => dir.remove());

describe('lem llamacpp tiny-model', () => {
  it('writes the model and says where, how big and its sha256', async () => {
    const result = await lem(['llamacpp', 'tiny-model', 'models/tiny.gguf', '--seed', '3']);
    expect(result.code).toBe(0);
    const path = join(dir.path, 'models', 'tiny.gguf');
    expect(existsSync(path)).toBe(true);
    expect(result.stdout).toContain(path);
    expect(result.stdout).toMatch(new RegExp(`size\\s+${readFileSync(path).length} bytes`));
    expect(result.stdout).toMatch(/sha256\s+[0-9a-f]{64}/);
  });

  it('refuses to overwrite without --force (E_FILE_EXISTS, exit 2), and overwrites with it', async () => {
    const path = join(dir.path, 'existing.gguf');
    writeFileSync(path, 'precious');
    const refused = await lem(['llamacpp', 'tiny-model', path]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('Error E_FILE_EXISTS:');
    expect(refused.stderr).toContain('Try: ');
    expect(refused.stderr).not.toMatch(/^\s+at /m);
    expect(readFileSync(path, 'utf8')).toBe('precious');

    const forced = await lem(['llamacpp', 'tiny-model', path, '--force', '--json']);
    expect(forced.code).toBe(0);
    const json = JSON.parse(forced.stdout) as {path: string; bytes: number; sha256: string};
    expect(json).toEqual({path, bytes: readFileSync(path).length, sha256: expect.stringMatching(/^[0-9a-f]{64}$/)});
  });

  it('reports E_FILE_EXISTS as JSON under --json', async () => {
    const path = join(dir.path, 'existing2.gguf');
    writeFileSync(path, 'x');
    const result = await lem(['llamacpp', 'tiny-model', path, '--json']);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({error: {code: 'E_FILE_EXISTS', exitCode: 2}});
  });
});

describe('lem llamacpp inspect', () => {
  it('prints the validated header summary, as text or JSON', async () => {
    await lem(['llamacpp', 'tiny-model', 'inspect-me.gguf']);
    const text = await lem(['llamacpp', 'inspect', 'inspect-me.gguf']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('is a valid GGUF model');
    expect(text.stdout).toMatch(/architecture\s+llama/);
    const json = await lem(['llamacpp', 'inspect', 'inspect-me.gguf', '--json', '--sha256']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({architecture: 'llama', blockCount: 2, vocabSize: 390, sha256: expect.stringMatching(/^[0-9a-f]{64}$/)});
  });

  it('reports a malformed file as E_MODEL_INVALID, exit 2, without a stack', async () => {
    writeFileSync(join(dir.path, 'bad.gguf'), 'GGUF but not really');
    const result = await lem(['llamacpp', 'inspect', 'bad.gguf']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Error E_MODEL_INVALID:');
    expect(result.stderr).toContain('bad.gguf');
    expect(result.stderr).toMatch(/^Try: /m);
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });
});

describe('lem llamacpp serve', () => {
  it('serves in the foreground and stops cleanly on SIGTERM', async () => {
    await lem(['llamacpp', 'tiny-model', 'serve.gguf']);
    let url = '';
    let health = 0;
    const result = await lem(['llamacpp', 'serve', '--model', 'serve.gguf', '--port', '0', '--threads', '1'], {
      onStdout: (stdout, child) => {
        const match = /listening on (http:\S+)/.exec(stdout);
        if (match && !url) {
          url = match[1]!;
          void http(`${url}/health`).then((res) => {
            health = res.status;
            child.kill('SIGTERM');
          });
        }
      },
    });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(health).toBe(200);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Server stopped.');
  });

  it('refuses a missing model before starting anything', async () => {
    const result = await lem(['llamacpp', 'serve', '--model', 'absent.gguf']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Error E_MODEL_NOT_FOUND:');
  });
});
