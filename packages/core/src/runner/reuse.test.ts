import {describe, expect, it} from 'vitest';
import {withServerReuse} from './reuse.js';
import type {LaunchedServer, LaunchRequest, Runner} from './types.js';

/** A runner whose servers are plain records: counts launches and stops (the real ones are in the docker and campaign tests). */
function countingRunner() {
  const events: string[] = [];
  let n = 0;
  const runner: Runner = {
    id: 'local',
    targetKind: 'process-group',
    async launch() {
      const id = ++n;
      events.push(`launch ${id}`);
      let exit!: (v: {code: number; signal: null; oomKilled: null}) => void;
      const exited = new Promise<{code: number; signal: null; oomKilled: null}>((r) => (exit = r));
      const server: LaunchedServer = {
        baseUrl: `http://127.0.0.1:${1000 + id}`,
        target: {kind: 'process-group', pgid: id},
        argv: [],
        exited,
        outputTail: () => [],
        stop: async () => {
          events.push(`stop ${id}`);
          exit({code: 0, signal: null, oomKilled: null});
          return {code: 0, signal: null, oomKilled: null, forced: false, durationMs: 0};
        },
      };
      return server;
    },
  };
  return {runner, events};
}
const req = (reuse?: LaunchRequest['reuse']) => ({spec: {}, model: 'm', stateDir: '/tmp', workdir: '/tmp/w', reuse}) as unknown as LaunchRequest;

describe('withServerReuse', () => {
  it('a kept server is handed to the next launch with the same key, once, then stopped for real', async () => {
    const {runner, events} = countingRunner();
    const reusing = withServerReuse(runner);
    const first = await reusing.launch(req({key: 'k', take: false, keep: true}));
    await first.stop();
    const second = await reusing.launch(req({key: 'k', take: true, keep: false}));
    expect(second.reused).toBe(true);
    expect(second.baseUrl).toBe(first.baseUrl);
    await second.stop();
    expect(events).toEqual(['launch 1', 'stop 1']);
  });

  it('a launch with another key, or one that does not take, stops the kept server and starts its own', async () => {
    const {runner, events} = countingRunner();
    const reusing = withServerReuse(runner);
    await (await reusing.launch(req({key: 'k', take: false, keep: true}))).stop();
    const other = await reusing.launch(req({key: 'other', take: true, keep: false}));
    expect(other.reused).toBeUndefined();
    expect(events).toEqual(['launch 1', 'stop 1', 'launch 2']);
  });

  it('release() and close() stop a server nobody took', async () => {
    const {runner, events} = countingRunner();
    const reusing = withServerReuse(runner);
    await (await reusing.launch(req({key: 'k', take: false, keep: true}))).stop();
    expect(events).toEqual(['launch 1']);
    await reusing.close();
    expect(events).toEqual(['launch 1', 'stop 1']);
  });
});
