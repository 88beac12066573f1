import {z} from 'zod';
import type {JsonSchema} from '@lem/plugin-kit';
import type {Registry} from '../registry.js';
import {campaignKeysShape} from '../campaign/file.js';
import {experimentFileSchema, projectConfigSchema} from './schemas.js';

export type SchemaKind = 'experiment' | 'project' | 'campaign';

const TITLES: Record<SchemaKind, string> = {
  experiment: 'lem experiment file',
  project: 'lem project settings (.lem-config.yaml)',
  campaign: 'lem campaign file',
};

/** A campaign file: its own keys, and the experiment keys every run inherits (the name is the campaign's). */
const campaignFileSchema = z
  .object({...experimentFileSchema.omit({name: true}).shape, ...campaignKeysShape})
  .strict()
  .describe("A campaign: configurations from `base`, `experiments` and `sweep`, repeated over `cycles` in an `order`, spaced by `gaps`; top-level experiment keys apply to every run (below `base` and the entries).");

const CORE: Record<SchemaKind, z.ZodType> = {experiment: experimentFileSchema, project: projectConfigSchema, campaign: campaignFileSchema};

/**
 * JSON Schema of a file kind: core's schema with every registered backend's section as a
 * property and, for the project file, every notifier's settings under `notifications`.
 * `io: 'input'` so that keys with defaults are optional, as they are to a person writing the file.
 */
export function jsonSchemaFor(kind: SchemaKind, registry: Registry): JsonSchema {
  const schema = z.toJSONSchema(CORE[kind], {io: 'input', target: 'draft-2020-12'}) as JsonSchema & {properties: Record<string, JsonSchema>};
  const properties = schema.properties;
  for (const [id, {contribution, plugin}] of [...registry.backends].sort(([a], [b]) => a.localeCompare(b))) {
    properties[id] = {...contribution.jsonSchema, description: `${contribution.displayName} settings (from ${plugin.name}).`};
  }
  if (kind === 'project' && registry.notifiers.size > 0) {
    const notifierProps: Record<string, JsonSchema> = {};
    for (const [id, {contribution}] of [...registry.notifiers].sort(([a], [b]) => a.localeCompare(b))) notifierProps[id] = contribution.jsonSchema;
    properties.notifications = {...properties.notifications, type: 'object', properties: notifierProps, additionalProperties: false};
  }
  return {$schema: 'https://json-schema.org/draft/2020-12/schema', title: TITLES[kind], ...schema};
}
