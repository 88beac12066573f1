/**
 * The `llamacpp:` section of experiment and settings files. Defaults and descriptions live here
 * and only here; `jsonSchema` is derived from it for `lem config schema`.
 */
import {z} from 'zod';
import {sectionJsonSchema, type JsonSchema} from '@lem/plugin-kit';

/** Highest context the server picks by itself when `context_size` is not set (tokens). */
export const DEFAULT_CONTEXT_CAP = 4096;
export const DEFAULT_PARALLEL = 4;

export const gpuLayersSchema = z
  .union([z.int().min(0), z.enum(['auto', 'max'])])
  .describe('Layers offloaded to the GPU: a count, `max` (all), or `auto` (offload when a usable GPU build exists, else run on the CPU).');

export const configSchema = z
  .object({
    model_path: z
      .string()
      .min(1)
      .optional()
      .describe("Path of the GGUF file to serve instead of the experiment's top-level `model`, e.g. a quantised variant."),
    context_size: z
      .int()
      .min(16)
      .optional()
      .describe("Context window per sequence, tokens. Default: the model's trained context, capped at 4096."),
    parallel: z
      .int()
      .min(1)
      .default(DEFAULT_PARALLEL)
      .describe('Sequences of one llama.cpp context: the most requests decoded together in one batch; more wait in a FIFO queue.'),
    threads: z.int().min(1).optional().describe('CPU threads for evaluation. Default: the threads lem gives the server (after reserving its own).'),
    gpu_layers: gpuLayersSchema.default('auto'),
    batch_size: z.int().min(1).optional().describe("Tokens evaluated per llama.cpp batch (prompt processing). Default: node-llama-cpp's (512, or the context size if smaller)."),
    flash_attention: z.boolean().default(false).describe('Use flash attention where the model and hardware support it.'),
  })
  .strict()
  .describe('Settings of the embedded llama.cpp backend (an OpenAI-compatible server on node-llama-cpp).');

/** The validated section, defaults applied: what `server()` receives. */
export type LlamacppConfig = z.output<typeof configSchema>;

/** The section as JSON Schema (draft 2020-12, input view: keys with defaults are optional). */
export const jsonSchema: JsonSchema = sectionJsonSchema(z.toJSONSchema(configSchema, {io: 'input', target: 'draft-2020-12'}));
