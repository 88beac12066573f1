import {createServer, type Server} from 'node:net';
import {afterEach, describe, expect, it} from 'vitest';
import {assertPortFree, findFreePort} from './ports.js';

const open: Server[] = [];
afterEach(() => {
  for (const server of open.splice(0)) server.close();
});

function listen(port: number, host = '127.0.0.1'): Promise<Server> {
  const server = createServer();
  open.push(server);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

describe('ports', () => {
  it('finds a port that can then be listened on', async () => {
    const port = await findFreePort();
    expect(port).toBeGreaterThan(1023);
    const server = await listen(port);
    expect((server.address() as {port: number}).port).toBe(port);
  });

  it('accepts a free port and refuses a taken one with E_PORT_IN_USE (config)', async () => {
    const port = await findFreePort();
    await expect(assertPortFree(port)).resolves.toBeUndefined();
    await listen(port);
    await expect(assertPortFree(port)).rejects.toMatchObject({code: 'E_PORT_IN_USE', category: 'config', exitCode: 1});
  });

  it('sees a port taken on all interfaces as taken on 127.0.0.1', async () => {
    const port = await findFreePort();
    await listen(port, '0.0.0.0');
    await expect(assertPortFree(port)).rejects.toMatchObject({code: 'E_PORT_IN_USE'});
  });

  it('refuses what is not a port', async () => {
    await expect(assertPortFree(0)).rejects.toMatchObject({code: 'E_PORT_INVALID', category: 'config'});
    await expect(assertPortFree(70_000)).rejects.toMatchObject({code: 'E_PORT_INVALID'});
  });
});
