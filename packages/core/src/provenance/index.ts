export {collectProvenance, hashModel, probeEngineVersion, pickVersion, execVersionProbe, redactArgv, MODEL_HASH_CACHE_FILE} from './provenance.js';
export type {Provenance, ProvenanceInput, EngineVersion, ProbeExec, ProbeEngineVersionOptions, ModelHash, ModelFileHash, HashModelOptions} from './provenance.js';
export {acquireDeviceLocks, deviceLockPath, isLockOwnerAlive, parseLockRecord, DeviceLockErrorCodes} from './device-lock.js';
export type {AcquireDeviceLocksOptions, DeviceLocks, DeviceLockOwner, DeviceLockRecord} from './device-lock.js';
export {waitForCooldown, realWaitClock} from './cooldown.js';
export type {CooldownOptions, CooldownResult, WaitClock} from './cooldown.js';
