/**
 * Server reuse (`reuse_server`, DESIGN §4), for any runner: a run may leave its server running
 * for the next run when the plan says that run is an identical launch, and that run then takes
 * it instead of starting one. The decision is the plan's (campaign/plan.ts), per configuration,
 * so a configuration's CI never mixes fresh and reused servers; this only carries it out, and
 * falls back to a fresh launch — recorded as such — when the kept server is gone.
 */
import type {LaunchedServer, LaunchRequest, ReuseRequest, Runner, ServerStopResult} from './types.js';

export type {ReuseRequest} from './types.js';

interface Parked {
  key: string;
  server: LaunchedServer;
  alive: boolean;
}

export interface ReusingRunner extends Runner {
  close(): Promise<void>;
  /** Stops a kept server nobody took. Idempotent. */
  release(): Promise<void>;
}

/** `base`, with launches that carry `reuse` taking and leaving kept servers. */
export function withServerReuse(base: Runner): ReusingRunner {
  let parked: Parked | null = null;
  const release = async () => {
    const p = parked;
    parked = null;
    if (p) await p.server.stop().catch(() => undefined);
  };
  return {
    id: base.id,
    targetKind: base.targetKind,
    energyNullReason: base.energyNullReason,
    prepare: base.prepare?.bind(base),
    close: async () => {
      await release();
      await base.close?.();
    },
    release,
    async launch(request: LaunchRequest): Promise<LaunchedServer> {
      const reuse = request.reuse;
      const kept = parked;
      parked = null;
      if (reuse?.take && kept && kept.key === reuse.key && kept.alive) {
        request.onTarget?.(kept.server.target);
        return keeping({...kept.server, reused: true, warmupDelayS: 0}, reuse, (p) => (parked = p));
      }
      if (kept) await kept.server.stop().catch(() => undefined);
      const server = await base.launch(request);
      return reuse?.keep ? keeping(server, reuse, (p) => (parked = p)) : server;
    },
  };
}

/** A server whose stop() parks it for the next launch (when `keep`), instead of stopping it. */
function keeping(server: LaunchedServer, reuse: ReuseRequest, park: (p: Parked) => void): LaunchedServer {
  if (!reuse.keep) return server;
  const entry: Parked = {key: reuse.key, server, alive: true};
  void server.exited.then(() => (entry.alive = false));
  return {
    ...server,
    stop: async (): Promise<ServerStopResult> => {
      if (!entry.alive) return server.stop();
      park(entry);
      return {code: null, signal: null, oomKilled: null, forced: false, durationMs: 0};
    },
  };
}
