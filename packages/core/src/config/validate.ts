import {basename} from 'node:path';
import {isPlainObject} from './paths.js';
import {PROJECT_CONFIG_FILE} from './project.js';
import {resolveExperiment, resolveProject, type ResolveInput, type Setting} from './resolve.js';
import {loadYamlFile} from './yaml-file.js';
import {configError, ErrorCodes} from '../errors.js';

export type FileKind = 'experiment' | 'project';

export interface ValidationReport {
  file: string;
  kind: FileKind;
  /** Every effective setting with its source, as the file would be run. */
  settings: Setting[];
}

/** Guesses a file's kind: `.lem-config.yaml` is the project file; anything else an experiment. */
export function detectKind(file: string, data: unknown): FileKind | 'campaign' {
  if (basename(file) === PROJECT_CONFIG_FILE) return 'project';
  if (isPlainObject(data) && ('experiments' in data || 'sweep' in data || 'base' in data)) return 'campaign';
  return 'experiment';
}

/**
 * Validates a file as it would be used: an experiment together with the project's
 * `.lem-config.yaml`, so that a backend chosen there and keys required anywhere are checked.
 */
export async function validateFile(file: string, input: ResolveInput & {kind?: FileKind}): Promise<ValidationReport> {
  const loaded = loadYamlFile(file, {
    kind: input.kind ?? (basename(file) === PROJECT_CONFIG_FILE ? 'project' : 'experiment'),
    command: 'lem config validate',
  });
  const detected = input.kind ?? detectKind(file, loaded.data);
  if (detected === 'campaign') {
    throw configError(ErrorCodes.configInvalid, `${loaded.path} looks like a campaign file (it has experiments:, sweep: or base:)`, [
      'campaign files are validated by `lem campaign run --dry-run <file>`',
      `lem config validate --kind experiment ${loaded.path}   # if it is an experiment`,
    ]);
  }
  if (detected === 'project') {
    const resolved = await resolveProject({...input, projectFile: loaded});
    return {file: loaded.path, kind: 'project', settings: resolved.sources};
  }
  const resolved = await resolveExperiment({...input, experimentFile: loaded});
  return {file: loaded.path, kind: 'experiment', settings: resolved.sources};
}
