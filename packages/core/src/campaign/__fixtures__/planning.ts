/**
 * What the planning tests share: a registry holding the real llama.cpp plugin's contribution
 * beside a plain-JS backend with a hand-written Standard Schema, a project folder of real files,
 * and planning from it the way `lem campaign run` does.
 */
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {defineBackend, isCodedError, type CodedError, type StandardSchemaV1} from '@lem/plugin-kit';
import {backend as llamacpp} from '../../../../../plugins/backend-llamacpp/dist/index.js';
import type {CliSetting} from '../../config/resolve.js';
import {loadYamlFile} from '../../config/yaml-file.js';
import {buildRegistry} from '../../registry.js';
import {planCampaign, type PlanInput, type Planned} from '../plan.js';
import type {PlannedConfiguration, PlannedSetting} from '../types.js';

/** `handmade:` takes `size` (a positive number, required) and nothing else; no zod involved. */
const handSchema: StandardSchemaV1<unknown, {size: number}> = {
  '~standard': {
    version: 1,
    vendor: 'hand',
    validate(value) {
      const v = (value ?? {}) as Record<string, unknown>;
      const extra = Object.keys(v).filter((k) => k !== 'size');
      if (extra.length > 0) return {issues: extra.map((k) => ({message: `unknown key "${k}"`, path: [{key: k}]}))};
      if (typeof v.size !== 'number' || v.size <= 0) return {issues: [{message: 'size must be a positive number', path: [{key: 'size'}]}]};
      return {value: {size: v.size}};
    },
  },
};

const handmade = defineBackend({
  id: 'handmade',
  displayName: 'Hand-made',
  configSchema: handSchema,
  jsonSchema: {type: 'object'},
  gpu: 'none',
  local: true,
  server: () => ({argv: ['true'], env: {}, port: 1, readiness: {healthPath: '/health', timeoutS: 1}}),
});

/** A backend that runs only in a container (`local: false`), like the GPU engines. */
const boxed = defineBackend({...handmade, id: 'boxed', displayName: 'Boxed', local: false, image: {ref: 'lem-test/boxed:1', dockerfile: '/nonexistent/Dockerfile'}});

export const registry = buildRegistry([
  {plugin: {name: '@lem/backend-llamacpp', version: '0.1.0'}, result: [llamacpp]},
  {plugin: {name: 'handmade-plugin', version: '1.0.0'}, result: [handmade, boxed]},
]);

export const PLUGINS = [
  {name: '@lem/backend-llamacpp', version: '0.1.0'},
  {name: 'handmade-plugin', version: '1.0.0'},
];

export interface PlanOptions {
  cli?: CliSetting[];
  seed?: number;
  now?: Date;
  env?: NodeJS.ProcessEnv;
}

/** A temporary project folder; `write` puts a file in it (folders made), `plan` plans a campaign from it. */
export interface Project {
  root: string;
  write(path: string, text: string): string;
  plan(campaign: string, options?: PlanOptions): Promise<Planned>;
  remove(): void;
}

export function project(files: Record<string, string> = {}): Project {
  const root = mkdtempSync(join(tmpdir(), 'lem-plan-'));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), {recursive: true});
    writeFileSync(join(root, path), text);
    return join(root, path);
  };
  for (const [path, text] of Object.entries(files)) write(path, text);
  return {
    root,
    write,
    plan: (campaign, options = {}) => planCampaign(planInput(root, campaign, options)),
    remove: () => rmSync(root, {recursive: true, force: true}),
  };
}

function planInput(root: string, campaign: string, options: PlanOptions): PlanInput {
  let projectFile;
  try {
    projectFile = loadYamlFile(join(root, '.lem-config.yaml'), {kind: 'project', cwd: root});
  } catch {
    projectFile = undefined;
  }
  return {
    registry,
    campaignPath: campaign,
    projectFile,
    projectRoot: root,
    cwd: root,
    cacheDir: join(root, '.cache'),
    plugins: PLUGINS,
    env: {},
    ...options,
  };
}

/** `--set key=value` as the CLI parses it. */
export function set(key: string, value: unknown): CliSetting {
  return {key, value, flag: `--set ${key}`};
}

export async function failure(promise: Promise<unknown>): Promise<CodedError> {
  try {
    await promise;
  } catch (error) {
    if (isCodedError(error)) return error;
    throw error;
  }
  throw new Error('expected a coded error');
}

export function settingOf(configuration: PlannedConfiguration | undefined, key: string): PlannedSetting {
  const found = configuration?.settings.find((s) => s.key === key);
  if (!found) throw new Error(`no setting ${key} in ${configuration?.name ?? '(no configuration)'}`);
  return found;
}

/**
 * `file:line:col` of a value in `text`, found by reading the text (not through lem): the line
 * holding `line` (its first occurrence) and the column where `token` starts on it, 1-based.
 */
export function at(file: string, text: string, line: string, token: string): string {
  const lines = text.split('\n');
  const index = lines.findIndex((l) => l.includes(line));
  if (index === -1) throw new Error(`no line holding ${JSON.stringify(line)} in ${file}`);
  const col = lines[index]!.indexOf(token, lines[index]!.indexOf(line));
  if (col === -1) throw new Error(`no ${JSON.stringify(token)} on line ${index + 1} of ${file}`);
  return `${file}:${index + 1}:${col + 1}`;
}
