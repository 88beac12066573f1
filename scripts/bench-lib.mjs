// What the benchmark scripts share: pinning a process to a CPU, a server child that reports its
// port, medians, and (for the campaign and Slurm benches) the registry and a tiny-model project.
import {spawn, spawnSync} from 'node:child_process';
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs';
import {cpus, tmpdir} from 'node:os';
import {join} from 'node:path';

const core = new URL('../packages/core/dist/index.js', import.meta.url).href;
const llamacpp = new URL('../plugins/backend-llamacpp/dist/index.js', import.meta.url).href;

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export const round = (x, digits = 3) => Number(x.toFixed(digits));
export const stats = (xs, digits = 3) => ({median: round(median(xs), digits), min: round(Math.min(...xs), digits), max: round(Math.max(...xs), digits), n: xs.length});
export const nowS = () => Number(process.hrtime.bigint()) / 1e9;

/** lem's registry with the bundled llama.cpp backend only (built: `pnpm run build`). */
export async function registry() {
  const {buildRegistry} = await import(core);
  const {backend} = await import(llamacpp);
  return buildRegistry([{plugin: {name: '@lem/backend-llamacpp', version: '0.1.0'}, result: [backend]}]);
}

/** A project folder holding the tiny model (seed 1, models/tiny.gguf) and campaign.yaml with the given body. */
export async function projectWith(body, prefix = 'lem-bench-campaign-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const {writeTinyModel} = await import(llamacpp);
  mkdirSync(join(dir, 'models'));
  await writeTinyModel(join(dir, 'models/tiny.gguf'), {seed: 1});
  writeFileSync(join(dir, 'campaign.yaml'), body);
  return dir;
}

/** True where `taskset` works and there are at least 2 CPUs: the load generator and the server then get one each. */
export const canPin = spawnSync('taskset', ['-c', '0', 'true']).status === 0 && cpus().length >= 2;

/** [command, args] that run `cmd args` on `cpu` when pinning is possible, else as they are. */
export function onCpu(cpu, cmd, args) {
  return canPin ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args];
}

/** Starts `node script ...args` on `cpu` and resolves once its first stdout line, JSON holding `port`, arrives. */
export async function startServerChild(script, args, cpu) {
  const [cmd, argv] = onCpu(cpu, process.execPath, [script, ...args]);
  const server = spawn(cmd, argv, {stdio: ['ignore', 'pipe', 'inherit']});
  const {port} = await new Promise((resolve, reject) => {
    let buf = '';
    server.stdout.setEncoding('utf8').on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl !== -1) resolve(JSON.parse(buf.slice(0, nl)));
    });
    server.on('exit', (code) => reject(new Error(`bench server exited ${code}`)));
  });
  return {server, port};
}
