/**
 * The real Docker engine the docker tests use: `$DOCKER_HOST` (started by `.ci/run` with
 * `docker/engine.sh`). Under CI an unreachable engine fails the tests; elsewhere they are
 * skipped with the reason. The test base image is built without a registry by
 * `docker/build-test-images.sh base`.
 */
import {execFileSync} from 'node:child_process';
import {fileURLToPath} from 'node:url';
import {dockerEngine, type DockerEngine} from '../engine.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../../../../', import.meta.url));
export const TEST_BASE = 'lem-test/base:latest';

export interface EngineCheck {
  engine: DockerEngine;
  /** Why the tests cannot run here, or null. */
  missing: string | null;
}

export async function testEngine(): Promise<EngineCheck> {
  const engine = dockerEngine();
  try {
    await engine.docker.ping();
    return {engine, missing: null};
  } catch (error) {
    const missing = `no Docker engine at ${engine.host} (${(error as Error).message}); start one with docker/engine.sh start <dir>`;
    if (process.env.CI === 'true') throw new Error(`CI: ${missing}`);
    return {engine, missing};
  }
}

/** The busybox base image (imported from a local root filesystem), built once. */
export function ensureTestBase(): void {
  execFileSync('bash', [`${REPO_ROOT}docker/build-test-images.sh`, 'base'], {stdio: 'inherit', env: process.env});
}

/** Removes every container lem made on this engine (the tests' own leftovers). */
export async function removeLemContainers(engine: DockerEngine): Promise<void> {
  const list = await engine.docker.listContainers({all: true, filters: {label: ['lem.managed=true']}});
  await Promise.all(list.map((c) => engine.docker.getContainer(c.Id).remove({force: true}).catch(() => undefined)));
}
