import {readFileSync} from 'node:fs';
import {parseCliReference, sectionParser} from '@lem/plugin-kit/testing';
import type {CheckContext, ServerContext} from '@lem/plugin-kit';
import {configSchema, type SglangConfig} from '../schema.js';

/** The committed CLI reference of the pinned SGLang. */
export const REFERENCE_TEXT = readFileSync(new URL('../../reference/sglang-0.5.18.txt', import.meta.url), 'utf8');
export const reference = parseCliReference(REFERENCE_TEXT);

export const serverContext: ServerContext = {model: 'meta-llama/Llama-3.1-8B-Instruct', port: 18123, gpus: ['GPU-aaaa'], workdir: '/tmp/lem/w1', threads: 4, runner: 'docker'};
export const checkContext: CheckContext = {gpus: 1, runner: 'docker', workload: {api: 'completions', concurrency: 8, fixedOutputLength: true}, model: 'meta-llama/Llama-3.1-8B-Instruct'};

export const {validate, config} = sectionParser<SglangConfig>(configSchema);

/** A section that sets every key (a draft model on the host, so it is mounted too). */
export const EVERY_OPTION = {
  model_path: '/data/models/llama-fp8',
  dtype: 'bfloat16',
  quantization: 'fp8',
  kv_cache_dtype: 'fp8_e4m3',
  mem_fraction_static: 0.85,
  context_length: 8192,
  max_running_requests: 128,
  max_total_tokens: 500000,
  chunked_prefill_size: 4096,
  max_prefill_tokens: 8192,
  schedule_policy: 'lpm',
  disable_radix_cache: true,
  disable_overlap_schedule: true,
  enable_mixed_chunk: false,
  tp_size: 2,
  pp_size: 1,
  dp_size: 2,
  ep_size: 2,
  cuda_graph_backend_decode: 'full',
  cuda_graph_backend_prefill: 'breakable',
  cuda_graph_max_bs_decode: 160,
  enable_torch_compile: true,
  speculative: {algorithm: 'EAGLE3', draft_model_path: '/data/drafts/eagle3-llama', num_steps: 3, eagle_topk: 1, num_draft_tokens: 4},
  trust_remote_code: true,
  startup_timeout_s: 3600,
  extra_args: ['--random-seed', '7'],
} as const;
