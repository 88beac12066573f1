/**
 * The docker runner (DESIGN §4): servers in containers, through dockerode. The orchestrator and
 * the meters stay on the host; a server is measured as its container's cgroup (a remote engine's
 * containers cannot be measured from here: `remote-docker-host`).
 *
 * - ephemeral (ephemeral.ts): a container per launch whose command is the server;
 * - persistent (persistent.ts): a long-lived container per key, a server exec'd per launch.
 *
 * Either way lem holds a stream on the wrapper's stdin (wrapper.ts): when lem dies, dockerd closes
 * it and the server stops within its grace; the reaper (reaper.ts) removes what is left.
 */
import {runError} from '../../errors.js';
import type {LaunchedServer, LaunchRequest, PlannedLaunch, Runner} from '../types.js';
import {imageBackend, runnerContext, type ContainerStrategy, type DockerRunnerOptions} from './context.js';
import {launchEphemeral} from './ephemeral.js';
import {persistentPool} from './persistent.js';

export type {DockerRunnerEvent, DockerRunnerOptions} from './context.js';

/** Why every run's energy is null when the engine is on another machine. */
export const REMOTE_DOCKER_HOST = 'remote-docker-host';

export interface DockerRunner extends Runner {
  readonly strategy: ContainerStrategy;
  /** Persistent with `startup: eager`: starts every container these planned launches need. Otherwise nothing. */
  prepare(launches: PlannedLaunch[]): Promise<void>;
  /**
   * Interrupts launches in progress, stops every server still running (each with its grace),
   * then removes the persistent containers this runner made — unless `autoTeardown` is false:
   * those stay, labelled `lem.keep=true`, for a later run to adopt. Idempotent.
   */
  close(): Promise<void>;
}

export function createDockerRunner(options: DockerRunnerOptions): DockerRunner {
  const ctx = runnerContext(options);
  const pool = persistentPool(ctx);
  let closing: Promise<void> | undefined;
  const launch = async (request: LaunchRequest): Promise<LaunchedServer> => {
    if (closing) throw runError('E_RUNNER_CLOSED', 'the docker runner was closed: no more servers are started', ['report this: a launch came after the campaign ended'], 'interrupted');
    const backend = imageBackend(request.backend);
    return options.strategy === 'persistent' ? pool.launch(request, backend) : launchEphemeral(ctx, request, backend);
  };
  return {
    id: 'docker',
    targetKind: 'cgroup',
    strategy: options.strategy,
    ...(options.engine.remote ? {energyNullReason: REMOTE_DOCKER_HOST} : {}),
    launch,
    async prepare(launches) {
      if (options.strategy === 'persistent' && options.startup === 'eager') await pool.prepare(launches);
    },
    close: () =>
      (closing ??= (async () => {
        const servers = [...ctx.live];
        for (const server of servers) server.interrupt();
        await Promise.allSettled(servers.map((server) => server.stop()));
        await pool.close();
      })()),
  };
}
