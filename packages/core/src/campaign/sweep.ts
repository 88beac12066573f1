/**
 * A campaign's `sweep`: dotted keys with value lists (axes) and named lists of override maps
 * (groups of alternatives), crossed into grid points. Each point becomes a settings layer whose
 * keys are located at the sweep value that set them, so an error or a source names that line.
 */
import type {ErrorDetail, SourceLocation} from '@lem/plugin-kit';
import {configError, ErrorCodes} from '../errors.js';
import {closest, isPlainObject, type KeyPath} from '../config/paths.js';
import type {LoadedFile} from '../config/yaml-file.js';

/** One key a point sets, and where in the campaign file that value is written. */
export interface SweepAssignment {
  key: string;
  value: unknown;
  at: KeyPath;
}

export interface SweepPoint {
  assignments: SweepAssignment[];
}

interface Dimension {
  /** The alternatives of this dimension; each sets one or more keys. */
  options: SweepAssignment[][];
}

/** How the sweep tells settings from group names and checks a setting's dotted key. */
export interface SweepKeys {
  /** Whether a dotted key's first segment names a setting (`workload`, `llamacpp`) rather than a group (`precision`). */
  isSetting(first: string): boolean;
  /** Top-level setting names, for did-you-mean. */
  known: string[];
  /** Why a dotted setting key names no setting (`unknown key "concurency" (did you mean …)`), or null. */
  problem(key: string): string | null;
}

/**
 * The grid points of `sweep`, in a stable order (the first key varies slowest). A key that
 * names no setting is a located error (at the key in the campaign file), before any point is
 * resolved. Without a sweep there is one empty point.
 */
export function sweepPoints(sweep: Record<string, unknown[]> | undefined, keys: SweepKeys, file: LoadedFile): SweepPoint[] {
  if (!sweep || Object.keys(sweep).length === 0) return [{assignments: []}];
  const dimensions: Dimension[] = [];
  const errors: ErrorDetail[] = [];
  for (const [key, values] of Object.entries(sweep)) {
    const setting = keys.isSetting(key.split('.')[0]!);
    if (!setting && values.every(isPlainObject)) {
      dimensions.push(groupDimension(key, values, keys, file, errors));
      continue;
    }
    const problem = setting ? keys.problem(key) : notASetting(key, keys.known);
    if (problem === null) dimensions.push({options: values.map((value, i) => [{key, value, at: ['sweep', key, i]}])});
    else errors.push({path: `sweep.${key}`, message: problem, location: file.locate(['sweep', key], {key: true})});
  }
  if (errors.length > 0) {
    const installs = [...new Set(errors.flatMap((e) => /that backend is not installed: (lem plugins install \S+)\)/.exec(e.message)?.[1] ?? []))];
    throw configError(ErrorCodes.configInvalid, `${file.path}: the sweep has ${errors.length === 1 ? 'an error' : `${errors.length} errors`}`, [
      ...installs,
      'a sweep key is a dotted setting (workload.concurrency) with a list of values, or a group name with a list of override maps',
    ], errors);
  }
  return cross(dimensions);
}

function groupDimension(group: string, alternatives: Array<Record<string, unknown>>, keys: SweepKeys, file: LoadedFile, errors: ErrorDetail[]): Dimension {
  return {
    options: alternatives.map((alternative, i) =>
      Object.entries(alternative).flatMap(([key, value]) => {
        const at = ['sweep', group, i, key];
        const problem = keys.isSetting(key.split('.')[0]!) ? keys.problem(key) : notASetting(key, keys.known);
        if (problem === null) return [{key, value, at}];
        errors.push({path: `sweep.${group}[${i}].${key}`, message: problem, location: file.locate(at, {key: true})});
        return [];
      }),
    ),
  };
}

/**
 * Why `key` names no setting. A dotted key is meant as a setting, and its first part, when
 * nothing close is known, is most likely the section of a backend that is not installed.
 */
function notASetting(key: string, known: string[]): string {
  const first = key.split('.')[0]!;
  const near = closest(first, known);
  if (near) return `"${first}" is not a setting (did you mean "${near}"?)${key.includes('.') ? '' : '; a group of alternatives is a list of override maps'}`;
  if (key.includes('.')) return `"${first}" is not a setting (if it is a backend's section, that backend is not installed: ${installHint(first)})`;
  return `"${first}" is not a setting; a group of alternatives is a list of override maps`;
}

const installHint = (id: string) => `lem plugins install @lem/backend-${id}`;

/** The Cartesian product, first dimension slowest. */
function cross(dimensions: Dimension[]): SweepPoint[] {
  let points: SweepAssignment[][] = [[]];
  for (const {options} of dimensions) {
    const next: SweepAssignment[][] = [];
    for (const point of points) for (const option of options) next.push([...point, ...option]);
    points = next;
  }
  return points.map((assignments) => ({assignments}));
}

/**
 * The point as a nested settings mapping. A key under a backend's section applies to that
 * backend only: for a run of another backend it is left out (and listed in `ignored`).
 */
export function pointData(point: SweepPoint, backend: string, backendIds: ReadonlySet<string>): {data: Record<string, unknown>; ignored: string[]} {
  const data: Record<string, unknown> = {};
  const ignored: string[] = [];
  for (const {key, value} of point.assignments) {
    const parts = key.split('.');
    if (backendIds.has(parts[0]!) && parts[0] !== backend) {
      ignored.push(key);
      continue;
    }
    let target = data;
    for (const part of parts.slice(0, -1)) {
      if (!isPlainObject(target[part])) target[part] = {};
      target = target[part] as Record<string, unknown>;
    }
    target[parts.at(-1)!] = value;
  }
  return {data, ignored};
}

/** Locates a key of the point's layer at the sweep value that set it (or the nearest one above it). */
export function pointFile(point: SweepPoint, campaign: LoadedFile, data: Record<string, unknown>): LoadedFile {
  return {
    path: campaign.path,
    data,
    locate(path: KeyPath, options?: {key?: boolean}): SourceLocation {
      const dotted = path.join('.');
      const hit =
        point.assignments.find((a) => a.key === dotted) ??
        point.assignments.find((a) => dotted.startsWith(`${a.key}.`)) ??
        point.assignments.find((a) => a.key.startsWith(`${dotted}.`));
      return campaign.locate(hit ? hit.at : ['sweep'], options);
    },
  };
}

/** `key=value, …` of a point, for listings of dropped points. */
export function describePoint(point: SweepPoint): string {
  return point.assignments.map((a) => `${a.key}=${typeof a.value === 'string' ? a.value : JSON.stringify(a.value)}`).join(', ') || '(no sweep)';
}
