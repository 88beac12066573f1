/**
 * The real Docker engine the docker tests use: `$DOCKER_HOST` (docker/engine.sh starts a private
 * one). Unreachable under CI (`CI=true`): the tests fail; elsewhere they are skipped, saying why.
 * The test image is busybox imported from a local root filesystem (docker/build-test-images.sh
 * base); the host's /usr is mounted read-only so the host's Node runs inside.
 */
import {execFileSync} from 'node:child_process';
import {fileURLToPath} from 'node:url';
import {dockerEngine, type DockerEngine} from '../engine.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../../../../', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('./', import.meta.url));
export const TEST_BASE = 'lem-test/base:latest';
/** Node from the host, and this folder (the test server) at /srv. */
export const TEST_MOUNTS = [
  {hostPath: '/usr', containerPath: '/usr', readOnly: true},
  {hostPath: FIXTURES, containerPath: '/srv', readOnly: true},
];

export interface EngineCheck {
  engine: DockerEngine;
  /** Why the tests cannot run here, or null. */
  missing: string | null;
}

/** The engine, with the test image on it (built when absent); throws under CI when either is missing. */
export async function testEngine(): Promise<EngineCheck> {
  const engine = dockerEngine();
  const missing = await whyNot(engine);
  if (missing && process.env.CI === 'true') throw new Error(`CI=true and the docker tests cannot run: ${missing}`);
  return {engine, missing};
}

async function whyNot(engine: DockerEngine): Promise<string | null> {
  try {
    await engine.docker.ping();
  } catch (error) {
    return `no Docker engine at ${engine.host} (${(error as Error).message}); start one: eval "$(docker/engine.sh start /tmp/lem-docker)"`;
  }
  if (await hasImage(engine)) return null;
  try {
    ensureTestBase();
  } catch (error) {
    return `the test image ${TEST_BASE} is missing and could not be built (${(error as Error).message})`;
  }
  return (await hasImage(engine)) ? null : `the test image ${TEST_BASE} is missing`;
}

/** Builds the test base image unless it is there already (idempotent, ~1 s when nothing changed). */
export function ensureTestBase(): void {
  execFileSync('bash', [`${REPO_ROOT}docker/build-test-images.sh`, 'base'], {stdio: 'inherit', env: process.env});
}

const hasImage = (engine: DockerEngine) =>
  engine.docker
    .getImage(TEST_BASE)
    .inspect()
    .then(() => true, () => false);

/** Removes every container carrying `label` (the tests' own), whatever state it is in. */
export async function removeContainers(engine: DockerEngine, label: string): Promise<void> {
  const list = await engine.docker.listContainers({all: true, filters: {label: [label]}});
  await Promise.all(list.map((c) => engine.docker.getContainer(c.Id).remove({force: true}).catch(() => undefined)));
}
