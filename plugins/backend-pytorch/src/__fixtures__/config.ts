import {readFileSync} from 'node:fs';
import {parseCliReference, sectionParser} from '@lem/plugin-kit/testing';
import type {CheckContext, ServerContext} from '@lem/plugin-kit';
import {configSchema, type PytorchConfig} from '../schema.js';

/** The committed CLI reference of the pinned transformers. */
export const REFERENCE_TEXT = readFileSync(new URL('../../reference/transformers-5.15.0.txt', import.meta.url), 'utf8');
export const reference = parseCliReference(REFERENCE_TEXT);

export const serverContext: ServerContext = {model: 'meta-llama/Llama-3.1-8B-Instruct', port: 18123, gpus: ['GPU-aaaa'], workdir: '/tmp/lem/w1', threads: 4, runner: 'docker'};
export const checkContext: CheckContext = {gpus: 1, runner: 'docker', workload: {api: 'chat', concurrency: 8, fixedOutputLength: false}, model: 'meta-llama/Llama-3.1-8B-Instruct'};

export const {validate, config} = sectionParser<PytorchConfig>(configSchema);

/** A section that sets every key, continuous batching on (a host model folder, so it is mounted too). */
export const EVERY_OPTION = {
  model_path: '/data/models/llama-8b',
  dtype: 'bfloat16',
  quantization: 'bnb-4bit',
  attn_implementation: 'sdpa',
  device: 'cuda:0',
  continuous_batching: true,
  cb_block_size: 128,
  cb_num_blocks: 4096,
  cb_max_batch_tokens: 16384,
  cb_max_memory_percent: 0.85,
  cb_use_cuda_graph: true,
  compile: false,
  reasoning: 'off',
  trust_remote_code: true,
  startup_timeout_s: 3600,
  extra_args: ['--default-seed', '7'],
} as const;
