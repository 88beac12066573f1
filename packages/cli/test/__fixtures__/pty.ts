/**
 * A command in a real pseudo-terminal: util-linux `script` gives the child a PTY, copies what it
 * draws to our pipe and our writes to its input, so keystrokes arrive as a terminal sends them
 * (raw mode, Ctrl+C as the byte 0x03). The screen is read back as text with the escape sequences
 * removed; tests wait for what they expect to appear (events), never for a time.
 */
import {spawn, spawnSync} from 'node:child_process';
import {stripVTControlCharacters} from 'node:util';

export const KEYS = {enter: '\r', up: '\u001B[A', down: '\u001B[B', space: ' ', ctrlC: '\u0003', backspace: '\u007F'} as const;

export interface Pty {
  /** Everything drawn so far, escape sequences removed, lines ending in \n. */
  screen(): string;
  /** Resolves with the screen once `pattern` appears after the previous match; rejects with the screen if the command ends first or `timeoutMs` passes. */
  waitFor(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  /** Types into the terminal. */
  write(keys: string): void;
  /** The command's exit status, once it has ended. */
  exited: Promise<number | null>;
  kill(): void;
}

export const ptyMissing = (): string | null => (spawnSync('script', ['--version'], {encoding: 'utf8'}).status === 0 ? null : 'util-linux script (a pseudo-terminal) is not installed');

const shellWord = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export function spawnPty(argv: string[], options: {cwd: string; env: NodeJS.ProcessEnv; cols?: number; rows?: number}): Pty {
  const command = `stty cols ${options.cols ?? 120} rows ${options.rows ?? 50}; exec ${argv.map(shellWord).join(' ')}`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], {cwd: options.cwd, env: {...options.env, TERM: 'xterm-256color'}, stdio: ['pipe', 'pipe', 'pipe']});
  let raw = '';
  let from = 0;
  const listeners = new Set<() => void>();
  const onData = (data: Buffer) => {
    raw += data.toString('utf8');
    for (const listener of [...listeners]) listener();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  let ended = false;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    ended = true;
    for (const listener of [...listeners]) listener();
    resolve(code);
  }));
  const screen = () => stripVTControlCharacters(raw).replace(/\r\n/g, '\n');
  const waitFor = (pattern: RegExp | string, timeoutMs = 30_000) =>
    new Promise<string>((resolve, reject) => {
      const test = () => {
        const text = screen().slice(from);
        const match = typeof pattern === 'string' ? (text.includes(pattern) ? {index: text.indexOf(pattern), length: pattern.length} : null) : (() => { const m = pattern.exec(text); return m ? {index: m.index, length: m[0].length} : null; })();
        if (match) {
          from += match.index + match.length;
          done();
          resolve(screen());
        } else if (ended) {
          done();
          reject(new Error(`the command ended before ${String(pattern)} appeared; screen:\n${screen()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${String(pattern)} did not appear in ${timeoutMs} ms; screen:\n${screen()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        listeners.delete(test);
      };
      listeners.add(test);
      test();
    });
  return {screen, waitFor, write: (keys) => child.stdin.write(keys), exited, kill: () => child.kill('SIGKILL')};
}
