/**
 * Without setpriv and taskset on PATH the launcher still works, unpinned and without pdeathsig,
 * and says so once. (A file of its own: the launcher looks the tools up once per process.)
 */
import {afterEach, describe, expect, it} from 'vitest';
import {fakeSpec, sandbox, type Sandbox} from './__fixtures__/helpers.js';
import {launchLocalServer} from './local.js';
import {findFreePort} from './ports.js';

let sb: Sandbox;
const path = process.env.PATH;
afterEach(() => {
  process.env.PATH = path;
  sb?.cleanup();
});

describe('launchLocalServer without util-linux', () => {
  it('runs the bare command, unpinned, and warns once per missing tool', async () => {
    sb = sandbox();
    process.env.PATH = sb.root; // holds neither setpriv nor taskset
    const warnings: string[] = [];
    for (let i = 0; i < 2; i++) {
      const spec = fakeSpec(sb, await findFreePort(), ['--mode', 'ready']);
      const server = await launchLocalServer({spec, model: 'm', stateDir: sb.stateDir, workdir: sb.workdir, cpus: [0], onWarning: (w) => warnings.push(w)});
      sb.track(server.pid);
      expect(server.argv).toEqual(spec.argv);
      expect(server.pinnedCpus).toBeNull();
      expect((await server.stop()).forced).toBe(false);
    }
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/setpriv/);
    expect(warnings[1]).toMatch(/taskset/);
  });
});
