import {spawn} from 'node:child_process';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';
import {CRASH_POINTS, crashPoint} from './crash.js';

const CRASH = new URL('./crash.ts', import.meta.url).href;
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'lem-crash-'));
});
afterEach(() => rmSync(root, {recursive: true, force: true}));

/** Runs a script calling crashPoint(point) in a real child node, with LEM_TEST_CRASH_AT set to `armed` (or unset). */
function runChild(point: string, armed: string | undefined): Promise<{code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string}> {
  const script = join(root, 'child.ts');
  writeFileSync(script, `import {crashPoint} from ${JSON.stringify(CRASH)};\ncrashPoint(${JSON.stringify(point)});\nprocess.stdout.write('survived\\n');\n`);
  const env = {...process.env};
  delete env.LEM_TEST_CRASH_AT;
  if (armed !== undefined) env.LEM_TEST_CRASH_AT = armed;
  const child = spawn(process.execPath, ['--import', 'tsx', script], {cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe']});
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({code, signal, stdout, stderr})));
}

describe('crashPoint', () => {
  it('kills the process with SIGKILL at the armed point, saying so on stderr', async () => {
    const result = await runChild('in-gap', 'in-gap');
    expect(result.signal).toBe('SIGKILL');
    expect(result.stderr).toContain('LEM_TEST_CRASH_AT=in-gap\n');
    expect(result.stdout).toBe('');
  });

  it('is inert at other points and when unset', async () => {
    expect(await runChild('in-gap', 'in-teardown')).toMatchObject({code: 0, signal: null, stdout: 'survived\n'});
    expect(await runChild('in-gap', undefined)).toMatchObject({code: 0, signal: null, stdout: 'survived\n'});
  });

  it('reads the variable at every call', () => {
    const saved = process.env.LEM_TEST_CRASH_AT;
    delete process.env.LEM_TEST_CRASH_AT;
    try {
      for (const point of CRASH_POINTS) crashPoint(point);
      process.env.LEM_TEST_CRASH_AT = 'not-a-point';
      for (const point of CRASH_POINTS) crashPoint(point);
    } finally {
      if (saved === undefined) delete process.env.LEM_TEST_CRASH_AT;
      else process.env.LEM_TEST_CRASH_AT = saved;
    }
    expect(CRASH_POINTS).toHaveLength(5);
  });
});
