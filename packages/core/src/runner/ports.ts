/**
 * TCP ports for local servers: pick a free one, or check a configured one before launch so a
 * taken port is a clear `config` failure instead of a server that dies with a bind error.
 */
import {createServer} from 'node:net';
import {runError} from '../errors.js';

/** Listens on `port` (0 = any) and closes again; resolves with the port the kernel gave. */
function bindOnce(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({port, host, exclusive: true}, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : port;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * A port that was free a moment ago on `host`. Another process may take it before the server
 * binds it; the server then exits with its own port error, which the launcher maps to
 * `E_PORT_IN_USE`.
 */
export function findFreePort(host = '127.0.0.1'): Promise<number> {
  return bindOnce(0, host);
}

/**
 * Rejects with `E_PORT_IN_USE` (category `config`) when something already listens on
 * `host:port`, or `E_PORT_DENIED` when binding is not allowed (ports < 1024 without privileges).
 * Node sets SO_REUSEADDR, so a port whose old connections linger in TIME_WAIT counts as free,
 * as it does for the servers.
 */
export async function assertPortFree(port: number, host = '127.0.0.1'): Promise<void> {
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw runError('E_PORT_INVALID', `port ${port} is not a TCP port (1–65535)`, ['set the server port to a whole number between 1024 and 65535'], 'config');
  }
  try {
    await bindOnce(port, host);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw portInUseError(port, host);
    if (code === 'EACCES') {
      throw runError('E_PORT_DENIED', `binding port ${port} on ${host} is not permitted`, ['use a port of 1024 or above'], 'config', undefined, error);
    }
    throw error;
  }
}

/** The error for a taken port, shared with the launcher's mapping of the server's own message. */
export function portInUseError(port: number, host = '127.0.0.1', cause?: unknown): ReturnType<typeof runError> {
  return runError(
    'E_PORT_IN_USE',
    `port ${port} on ${host} is already in use`,
    [`stop the process listening on it (\`ss -ltnp 'sport = :${port}'\` names it)`, 'or run the server on another port'],
    'config',
    undefined,
    cause,
  );
}
