/** The local runner: host-process servers, their ports, and the reaper of leftovers (DESIGN §4). */
export * from './local.js';
export * from './ports.js';
export * from './reaper.js';
export {isProcessAlive, pidFilePath, processStartTime, serversDir, type ServerPidRecord} from './proc.js';
export * from './types.js';
export * from './endpoint.js';
