/**
 * Why a server died during launch, read from its last output lines and exit status (DESIGN §7):
 * the category decides retries (`runtime` and `resource` are retried, `config` is not).
 */
import type {ServerSpec} from '@lem/plugin-kit';
import type {FailureCategory} from '../errors.js';

/** Output that means the port was taken (lem's servers print the code; others the OS text). */
const PORT_IN_USE = ['E_PORT_IN_USE', 'EADDRINUSE', 'Address already in use', 'address already in use'];

/**
 * Resource exhaustion any engine may report, whatever its backend says: GPU or host memory, and
 * disk. Case-sensitive substrings, like a backend's `errorPatterns`.
 */
const KNOWN_RESOURCE = [
  'CUDA out of memory',
  'CUDA error: out of memory',
  'OutOfMemoryError',
  'std::bad_alloc',
  'Cannot allocate memory',
  'No space left on device',
  'ENOSPC',
];

export interface FailureDiagnosis {
  /** `E_PORT_IN_USE` when the port was taken, else `E_SERVER_EXITED`. */
  code: 'E_PORT_IN_USE' | 'E_SERVER_EXITED';
  category: FailureCategory;
  /** The output line that decided the category, if one did. */
  evidence?: string;
}

const find = (lines: string[], patterns: readonly string[] | undefined): string | undefined =>
  patterns && patterns.length > 0 ? lines.findLast((line) => patterns.some((p) => p !== '' && line.includes(p))) : undefined;

/**
 * Diagnoses a server that exited during launch. Order: a taken port (`config`, its own code);
 * the backend's `errorPatterns.resource`, then `.config`; core's known resource texts; exit 126
 * or 127 (the command could not be run: `config`); otherwise `runtime`.
 */
export function diagnoseFailure(outputLines: string[], exitCode: number | null, spec: Pick<ServerSpec, 'errorPatterns'>): FailureDiagnosis {
  let evidence = find(outputLines, PORT_IN_USE);
  if (evidence !== undefined) return {code: 'E_PORT_IN_USE', category: 'config', evidence};
  evidence = find(outputLines, spec.errorPatterns?.resource);
  if (evidence !== undefined) return {code: 'E_SERVER_EXITED', category: 'resource', evidence};
  evidence = find(outputLines, spec.errorPatterns?.config);
  if (evidence !== undefined) return {code: 'E_SERVER_EXITED', category: 'config', evidence};
  evidence = find(outputLines, KNOWN_RESOURCE);
  if (evidence !== undefined) return {code: 'E_SERVER_EXITED', category: 'resource', evidence};
  if (exitCode === 126 || exitCode === 127) return {code: 'E_SERVER_EXITED', category: 'config'};
  return {code: 'E_SERVER_EXITED', category: 'runtime'};
}

/** The failure category of a server that exited during launch (see {@link diagnoseFailure}). */
export function classifyFailure(outputLines: string[], exitCode: number | null, spec: Pick<ServerSpec, 'errorPatterns'>): FailureCategory {
  return diagnoseFailure(outputLines, exitCode, spec).category;
}
