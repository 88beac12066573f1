/**
 * `lem init` building a backend image on the real engine, in a pseudo-terminal: Docker is found
 * working, the default backend's missing image is offered checked, and the build runs with its
 * progress, on the imported test base passed through the Dockerfile's `BASE` argument (nothing
 * can be pulled here). Then `lem doctor` finds the image present. Under CI=true an engine that
 * does not answer fails the file.
 */
import {execFileSync} from 'node:child_process';
import {mkdtempSync, readFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {backend} from '@lem/backend-llamacpp';
import {beforeAll, describe, expect, it} from 'vitest';
import {docker, engineMissing, REPO} from './__fixtures__/docker-cli.js';
import {KEYS, ptyMissing, spawnPty, type Pty} from './__fixtures__/pty.js';
import {freshHome, lem, LEM_BIN, lemEnv} from './helpers.js';

const missing = engineMissing() ?? ptyMissing();
if (missing && process.env.CI === 'true') throw new Error(`CI: ${missing}`);
const REF = backend.image!.ref;
const BUILD_ARGS = ['--build-arg', 'BASE=lem-test/base:latest', '--build-arg', 'LEM_SOURCE=mounted', '--build-arg', `LEM_LLAMACPP_HOME=${join(REPO, 'plugins', 'backend-llamacpp')}`];

beforeAll(() => {
  if (missing) return;
  execFileSync('bash', [join(REPO, 'docker', 'build-test-images.sh'), 'base'], {stdio: 'inherit'});
  // Untagged, not deleted: an image built on it keeps its layers, and the build below tags it again.
  try {
    docker('image', 'rm', REF);
  } catch {
    // Not there: nothing to untag.
  }
});

async function answer(pty: Pty, key: string, keys: string): Promise<void> {
  await pty.waitFor(`? ${key}`);
  pty.write(keys);
}

describe.skipIf(Boolean(missing))(`lem init with Docker${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it("offers the default backend's missing image, builds it on the imported base with progress, and lem doctor then finds it", async () => {
    const home = freshHome();
    const cwd = mkdtempSync(join(tmpdir(), 'lem-wizard-docker-'));
    const pty = spawnPty([process.execPath, LEM_BIN, 'init', ...BUILD_ARGS], {cwd, env: lemEnv(home)});
    await pty.waitFor(/Docker +ok +Docker \S+ at /);
    await pty.waitFor(/Backend images +warning +llamacpp missing/);
    await answer(pty, 'runner', KEYS.down + KEYS.enter);
    for (const key of ['backend', 'gaps.between_experiments_s', 'gaps.between_cycles_s', 'results_dir', 'dataset.kind', 'verbosity', 'docker.strategy', 'docker.warmup_delay_s', 'retry.max_attempts', 'failure_threshold.ratio', 'notifications.slack.webhook_url', 'notifications.discord.webhook_url', 'Write']) {
      await answer(pty, key, KEYS.enter);
    }
    // The default backend's image checked; the GPU engines' offered, unchecked (the whole list is one frame).
    await pty.waitFor(/\? Build backend images now\?[^\n]*\n\S*\s*\[x\] llamacpp \(missing\)\n\s*\[ \] pytorch \(missing\)\n\s*\[ \] sglang \(missing\)\n\s*\[ \] vllm \(missing\)/);
    pty.write(KEYS.enter);
    await pty.waitFor(`Building ${REF} (llamacpp)`);
    // The Dockerfile's `FROM ${BASE}` resolved to the imported base, as the engine reports it.
    const baseId = docker('image', 'inspect', 'lem-test/base:latest', '--format', '{{.Id}}').replace('sha256:', '').slice(0, 12);
    await pty.waitFor(new RegExp(`^ {2}Step \\d+/\\d+ : FROM \\$\\{BASE\\}\n {2}---> ${baseId}$`, 'm'));
    await pty.waitFor(new RegExp(`Built ${REF.replace(/[./]/g, '\\$&')} \\(sha256:[0-9a-f]{12}.*\\) from lem-test/base:latest in [\\d.]+ s`));
    await pty.waitFor('next: lem experiment');
    expect(await pty.exited).toBe(0);

    const version = (JSON.parse(readFileSync(join(REPO, 'plugins', 'backend-llamacpp', 'package.json'), 'utf8')) as {version: string}).version;
    expect(docker('image', 'inspect', REF, '--format', '{{index .Config.Labels "lem.plugin.version"}}')).toBe(version);
    const doctor = lem(['doctor', '--json'], {home, cwd});
    const images = (JSON.parse(doctor.stdout) as {checks: Array<{id: string; detail: string}>}).checks.find((c) => c.id === 'images');
    expect(images?.detail).toMatch(/llamacpp present/);
  });
});
