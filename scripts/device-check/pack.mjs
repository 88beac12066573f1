#!/usr/bin/env node
// Packs lem's GPU device check into one file that travels to a GPU machine without Node.js:
// run.sh with its payload appended — Node's own binary, lem's production files (the CLI, core,
// plugin-kit and the bundled plugins with their production dependencies, from `pnpm deploy
// --prod`, less what the check never loads: node-llama-cpp's GPU and foreign-platform
// binaries, its llama.cpp source bundle, TypeScript, type declarations, source maps and docs),
// and the Python server, logger and report — as one xz-compressed tar.
//
//   node scripts/device-check/pack.mjs [--out .device-check/lem-device-check.run] [--xz-level 6]
//
// Then, on the GPU machine: OUT=<folder> bash lem-device-check.run (see run.sh).
// Needs a built tree (make build), pnpm, tar and xz. Exits 2 on bad input, 1 when the bundle is
// over the size limit (45 MiB: what travels to the GPU machine is at most 64 MiB in all).
import {execFileSync, spawnSync} from 'node:child_process';
import {chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join, relative, resolve} from 'node:path';
import {parseArgs} from 'node:util';
import {fileURLToPath} from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const LIMIT_BYTES = 45 * 1024 * 1024;
const OFFSET_PLACEHOLDER = 'PAYLOAD_OFFSET=0000000000';
const PYTHON_FILES = ['server.py', 'logger.py', 'report.py'];

/** Packages of the deployed store (`node_modules/.pnpm/<name>@<version>…`) the check never loads. */
const PRUNED_PACKAGES = [/^@node-llama-cpp\+(?!linux-x64@)/, /^typescript@/, /^@types\+/];
/** Files no production run reads: TypeScript sources and declarations, source maps, docs. */
const PRUNED_FILES = /\.(d\.[cm]?ts|[cm]?ts|map|md|markdown)$/;
/** node-llama-cpp's llama.cpp sources (a git bundle), for building from source: the prebuilt binary is kept. */
const PRUNED_PATHS = ['node-llama-cpp/llama/gitRelease.bundle'];

function refuse(code, message, tryLine) {
  console.error(`pack: ${code}: ${message}\n  Try: ${tryLine}`);
  process.exit(2);
}

function options() {
  let values;
  try {
    ({values} = parseArgs({options: {out: {type: 'string'}, 'xz-level': {type: 'string', default: '6'}}, strict: true}));
  } catch (error) {
    refuse('E_PACK_ARGS', error.message, 'node scripts/device-check/pack.mjs [--out FILE] [--xz-level 0-9]');
  }
  const level = values['xz-level'];
  if (!/^[0-9]$/.test(level)) refuse('E_PACK_ARGS', `--xz-level ${level} is not 0–9`, '--xz-level 6 (xz\'s default), lower is faster and larger');
  return {out: resolve(values.out ?? join(root, '.device-check', 'lem-device-check.run')), level};
}

function requireTools() {
  for (const [tool, why] of [['pnpm', 'pnpm deploy --prod'], ['tar', 'the payload'], ['xz', 'the payload\'s compression']]) {
    if (spawnSync(tool, ['--version'], {stdio: 'ignore'}).status !== 0) refuse('E_PACK_TOOL', `${tool} is not on PATH (${why})`, `install ${tool}, or run make setup`);
  }
  for (const built of ['packages/cli/dist/index.js', 'packages/cli/oclif.manifest.json', 'packages/core/dist/index.js']) {
    if (!existsSync(join(root, built))) refuse('E_PACK_NOT_BUILT', `${built} is missing: lem is not built`, 'make build');
  }
}

/** Deletes what PRUNED_* name from a deployed tree, then the links left pointing at nothing. */
function prune(lem) {
  const store = join(lem, 'node_modules', '.pnpm');
  for (const entry of readdirSync(store)) {
    if (PRUNED_PACKAGES.some((re) => re.test(entry))) rmSync(join(store, entry), {recursive: true, force: true});
  }
  const walk = (dir) => {
    for (const entry of readdirSync(dir, {withFileTypes: true})) {
      const path = join(dir, entry.name);
      if (entry.isSymbolicLink()) {
        if (!existsSync(path)) rmSync(path);
      } else if (entry.isDirectory()) {
        walk(path);
      } else if (PRUNED_FILES.test(entry.name) || PRUNED_PATHS.some((p) => path.endsWith(p))) {
        rmSync(path);
      }
    }
  };
  walk(lem);
}

function gitDescribe() {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], {cwd: root, encoding: 'utf8'}).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], {cwd: root, encoding: 'utf8'}).trim() !== '';
    return {commit, dirty};
  } catch {
    return {commit: null, dirty: null};
  }
}

/** The payload's folder: node, lem/, check/. */
function stage(level) {
  const dir = mkdtempSync(join(tmpdir(), 'lem-device-check-pack-'));
  execFileSync('pnpm', ['--filter', '@lem/cli', 'deploy', '--prod', join(dir, 'lem')], {cwd: root, stdio: ['ignore', 'ignore', 'pipe']});
  prune(join(dir, 'lem'));
  copyFileSync(process.execPath, join(dir, 'node'));
  chmodSync(join(dir, 'node'), 0o755);
  mkdirSync(join(dir, 'check'));
  for (const file of PYTHON_FILES) copyFileSync(join(here, file), join(dir, 'check', file));
  const lemVersion = JSON.parse(readFileSync(join(root, 'packages/cli/package.json'), 'utf8')).version;
  const bundle = {lemVersion, ...gitDescribe(), node: process.version, packedAt: new Date().toISOString(), xzLevel: Number(level)};
  writeFileSync(join(dir, 'check', 'bundle.json'), JSON.stringify(bundle, null, 1) + '\n');
  return dir;
}

/** run.sh with the payload's offset written into it (same width, so the offset stays true). */
function header() {
  const text = readFileSync(join(here, 'run.sh'), 'utf8');
  if (!text.includes(OFFSET_PLACEHOLDER) || !text.endsWith('\nexit\n')) throw new Error('run.sh must hold the offset placeholder and end with a bare `exit` line');
  const length = Buffer.byteLength(text);
  return text.replace(OFFSET_PLACEHOLDER, `PAYLOAD_OFFSET=${String(length).padStart(10, '0')}`);
}

function pack({out, level}) {
  const started = process.hrtime.bigint();
  const dir = stage(level);
  try {
    mkdirSync(dirname(out), {recursive: true});
    const tmp = `${out}.tmp`;
    writeFileSync(tmp, header());
    // The payload goes straight after the script: no intermediate file.
    execFileSync('bash', ['-c', 'set -o pipefail; tar --sort=name --owner=0 --group=0 --numeric-owner -C "$1" -cf - node lem check | xz -T0 "-$2" >> "$3"', 'pack', dir, level, tmp], {stdio: ['ignore', 'ignore', 'inherit']});
    chmodSync(tmp, 0o755);
    renameSync(tmp, out);
  } finally {
    rmSync(dir, {recursive: true, force: true});
  }
  const bytes = statSync(out).size;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const line = {bundle: relative(process.cwd(), out) || out, bytes, mib: Number((bytes / 1048576).toFixed(2)), limitMib: LIMIT_BYTES / 1048576, xzLevel: Number(level), seconds: Number(seconds.toFixed(1))};
  console.log(JSON.stringify(line));
  if (bytes > LIMIT_BYTES) {
    rmSync(out);
    console.error(`pack: E_PACK_TOO_BIG: the bundle is ${line.mib} MiB, over the ${line.limitMib} MiB limit\n  Try: a higher --xz-level, or prune more in scripts/device-check/pack.mjs`);
    process.exit(1);
  }
}

const opts = options();
requireTools();
pack(opts);
