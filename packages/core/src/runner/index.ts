/** The local runner: host-process servers, their ports, and the reaper of leftovers (DESIGN §4). */
export * from './local.js';
export * from './ports.js';
export * from './reaper.js';
export {isProcessAlive, pidFilePath, processStartTime, serversDir, type ServerPidRecord} from './proc.js';
export * from './types.js';
export * from './endpoint.js';
export * from './session.js';
export * from './reuse.js';
export * from './routing.js';
export * from './docker/index.js';
