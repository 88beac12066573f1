import {z} from 'zod';
import type {JsonSchema} from '@lem/plugin-kit';
import type {Registry} from '../registry.js';
import {experimentFileSchema, projectConfigSchema} from './schemas.js';

export type SchemaKind = 'experiment' | 'project';

const TITLES: Record<SchemaKind, string> = {
  experiment: 'lem experiment file',
  project: 'lem project settings (.lem-config.yaml)',
};

/**
 * JSON Schema of a file kind: core's schema with every registered backend's section as a
 * property and, for the project file, every notifier's settings under `notifications`.
 * `io: 'input'` so that keys with defaults are optional, as they are to a person writing the file.
 */
export function jsonSchemaFor(kind: SchemaKind, registry: Registry): JsonSchema {
  const core = kind === 'experiment' ? experimentFileSchema : projectConfigSchema;
  const schema = z.toJSONSchema(core, {io: 'input', target: 'draft-2020-12'}) as JsonSchema & {properties: Record<string, JsonSchema>};
  const properties = schema.properties;
  for (const [id, {contribution, plugin}] of [...registry.backends].sort(([a], [b]) => a.localeCompare(b))) {
    properties[id] = {...contribution.jsonSchema, description: `${contribution.displayName} settings (from ${plugin.name}).`};
  }
  if (kind === 'project' && registry.notifiers.size > 0) {
    const notifierProps: Record<string, JsonSchema> = {};
    for (const [id, {contribution}] of registry.notifiers) notifierProps[id] = contribution.jsonSchema;
    properties.notifications = {...properties.notifications, type: 'object', properties: notifierProps, additionalProperties: false};
  }
  return {$schema: 'https://json-schema.org/draft/2020-12/schema', title: TITLES[kind], ...schema};
}
