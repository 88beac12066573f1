/**
 * The ephemeral strategy (DESIGN §4): a container per launch whose command is the server behind
 * the wrapper (`run --rm` semantics without `AutoRemove`, so that its end can be inspected —
 * exit code, `OOMKilled` — before it is removed). lem attaches to it before starting it and keeps
 * that stream open for the server's life: when lem dies, the stream closes and the wrapper stops
 * the server within its grace.
 */
import type Docker from 'dockerode';
import type {StopSpec} from '@lem/plugin-kit';
import {sleepMs} from '../proc.js';
import {stopSpecOf} from '../readiness.js';
import type {LaunchedServer, LaunchRequest, ServerExit} from '../types.js';
import {exitOf, removeQuietly, startContainer, type HeldContainer} from './containers.js';
import {containerCreateOptions, containerLabels, containerName, type ContainerPlan} from './create.js';
import {beforeStart, containerInfo, launchedServer, readyOrGone, reportTarget, serverUrl, stopper, type ContainerServer, type ImageBackend, type RunnerContext} from './context.js';
import {demuxOutput} from './stream.js';
import {wrappedArgv, wrapperArgs} from './wrapper.js';

/** How long the last output may take to arrive after the container ended, ms. */
const OUTPUT_DRAIN_MS = 500;
/** The wrapper's pid file in an ephemeral container (one server per container). */
const PID_FILE = '/tmp/lem-server.pid';

export async function launchEphemeral(ctx: RunnerContext, request: LaunchRequest, backend: ImageBackend): Promise<LaunchedServer> {
  const stopSpec = stopSpecOf(request.spec);
  await beforeStart(ctx, request);
  const plan = ephemeralPlan(ctx, request, backend, stopSpec);
  const held = await startContainer(ctx.engine, containerCreateOptions(plan), {
    output: true,
    onStep: (step, id) => ctx.emit(step, {id, name: plan.name}, backend.id, 'ephemeral'),
  });
  const target = reportTarget(ctx, request, held.facts);
  const server = ephemeralServer(ctx, held, request, stopSpec, backend.id);
  await readyOrGone(ctx, request, server);
  return launchedServer(server, {
    argv: wrapperArgs(request.spec.argv, {...stopSpec, pidFile: PID_FILE}),
    target,
    container: containerInfo(held.facts, backend.image, 'ephemeral', {started: true, adopted: false}, request.cpus),
    warmupDelayS: ctx.options.warmupDelayS,
  });
}

/** The container of one launch: the wrapped server as its command, the launch's work folder mounted at its own path. */
function ephemeralPlan(ctx: RunnerContext, request: LaunchRequest, backend: ImageBackend, stopSpec: StopSpec): ContainerPlan {
  const {spec} = request;
  return {
    image: backend.image,
    name: containerName(backend.id),
    cmd: wrappedArgv(spec.argv, {...stopSpec, pidFile: PID_FILE}),
    env: spec.env,
    workingDir: request.workdir,
    mounts: [...(spec.mounts ?? []), ...ctx.options.mounts, {hostPath: request.workdir, containerPath: request.workdir}],
    gpus: request.gpus ?? [],
    cpus: request.cpus,
    shape: spec,
    labels: containerLabels({owner: ctx.owner, backend, strategy: 'ephemeral', campaign: ctx.options.campaign ?? request.labels?.campaign, experiment: request.labels?.experiment}),
    holdStdin: true,
    // `docker stop` sends it to docker-init, which passes it on to the server (the wrapper exec'd into it).
    stopSignal: stopSpec.signal,
    extraHostConfig: ctx.options.extraHostConfig,
  };
}

/**
 * The container as a server: output from the attached stream; its exit from `wait` then
 * `inspect`; once ended, it is removed. stop() is `docker stop` with the grace: the stop signal,
 * then SIGKILL from the engine when the grace runs out.
 */
function ephemeralServer(ctx: RunnerContext, held: HeldContainer, request: LaunchRequest, stopSpec: StopSpec, backendId: string): ContainerServer {
  const {container, facts} = held;
  const stream = held.stream!;
  const output = demuxOutput(ctx.engine.docker, stream, request.onLine);
  const exited = containerExit(container);
  const gone = exited.then(async () => {
    await Promise.race([output.closed, sleepMs(OUTPUT_DRAIN_MS)]);
    stream.destroy();
    await removeQuietly(container);
    ctx.emit('removed', facts, backendId, 'ephemeral');
  });
  const halt = async (graceS: number): Promise<boolean> => {
    await container.stop({t: Math.ceil(graceS)}).catch(() => undefined); // 304: already stopped
    const exit = await exited;
    return exit.signal === 'SIGKILL' && exit.oomKilled !== true;
  };
  return {baseUrl: serverUrl(ctx, request.spec.port), exited, output, stop: stopper(stopSpec, exited, halt, () => gone)};
}

/** The container's end: `wait`, then `inspect` for the exit code and `OOMKilled` (null: the engine could not say). */
async function containerExit(container: Docker.Container): Promise<ServerExit> {
  for (;;) {
    await container.wait().catch(() => undefined);
    const info = await container.inspect().catch(() => null);
    // A wait cut short (the connection dropped) while it still runs: wait again.
    if (info?.State.Running) {
      await sleepMs(100);
      continue;
    }
    return exitOf(info?.State.ExitCode ?? null, info ? info.State.OOMKilled === true : null);
  }
}
