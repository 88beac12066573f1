/**
 * Endpoints lem measures but did not start (`backend: openai` with a `base_url`): nothing to
 * launch or stop; what can be attributed on this host is the process that listens on the port.
 */
import {readdirSync, readFileSync, readlinkSync} from 'node:fs';
import {readProcStat} from '../measure/proc-stat.js';
import type {MeterTarget} from './types.js';

/**
 * The process listening on a loopback TCP port, found through /proc/net/tcp{,6} and the socket
 * inodes in /proc/<pid>/fd — for attributing CPU energy to an already-running endpoint.
 */
export function listeningProcess(port: number, procRoot = '/proc'): {pid: number; pgid: number} | null {
  const inodes = new Set<string>();
  for (const file of ['net/tcp', 'net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(`${procRoot}/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const localPort = Number.parseInt(f[1]!.split(':')[1]!, 16);
      if (localPort === port && f[3] === '0A') inodes.add(f[9]!); // 0A = LISTEN
    }
  }
  if (inodes.size === 0) return null;
  for (const entry of readdirSync(procRoot)) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`${procRoot}/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target = '';
      try {
        target = readlinkSync(`${procRoot}/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && inodes.has(m[1]!)) {
        const stat = readProcStat(Number(entry), procRoot);
        return stat ? {pid: stat.pid, pgid: stat.pgid} : null;
      }
    }
  }
  return null;
}

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** An endpoint lem did not start (`backend: openai`): where it is, and what on this host serves it. */
export interface AttachedEndpoint {
  baseUrl: string;
  /** The process group listening on its port, when it is on this host and found. */
  target: MeterTarget | null;
  /** Why its energy cannot be measured: `remote-endpoint` (another host), `endpoint-process-not-found`. */
  energyNullReason: string | null;
}

/**
 * Finds what serves `baseUrl`: energy is only measured for a server on this host (DESIGN §1.6),
 * attributed to the process group that listens on the port.
 */
export function attachEndpoint(baseUrl: string, procRoot?: string): AttachedEndpoint {
  const url = new URL(baseUrl);
  if (!isLoopbackHost(url.hostname)) return {baseUrl, target: null, energyNullReason: 'remote-endpoint'};
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const owner = listeningProcess(port, procRoot);
  return owner ? {baseUrl, target: {kind: 'process-group', pgid: owner.pgid}, energyNullReason: null} : {baseUrl, target: null, energyNullReason: 'endpoint-process-not-found'};
}
