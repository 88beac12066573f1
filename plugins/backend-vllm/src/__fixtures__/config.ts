import {readFileSync} from 'node:fs';
import {parseCliReference, sectionParser} from '@lem/plugin-kit/testing';
import type {CheckContext, ServerContext} from '@lem/plugin-kit';
import {configSchema, type VllmConfig} from '../schema.js';

/** The committed CLI reference of the pinned vLLM. */
export const REFERENCE_TEXT = readFileSync(new URL('../../reference/vllm-0.22.1.txt', import.meta.url), 'utf8');
export const reference = parseCliReference(REFERENCE_TEXT);

export const serverContext: ServerContext = {model: 'meta-llama/Llama-3.1-8B-Instruct', port: 18123, gpus: ['GPU-aaaa'], workdir: '/tmp/lem/w1', threads: 4, runner: 'docker'};
export const checkContext: CheckContext = {gpus: 1, runner: 'docker', workload: {api: 'completions', concurrency: 8, fixedOutputLength: true}, model: 'meta-llama/Llama-3.1-8B-Instruct'};

export const {validate, config} = sectionParser<VllmConfig>(configSchema);

/** A section that sets every key (a draft model on the host, so it is mounted too). */
export const EVERY_OPTION = {
  model_path: '/data/models/llama-fp8',
  dtype: 'bfloat16',
  quantization: 'fp8',
  kv_cache_dtype: 'fp8_e4m3',
  gpu_memory_utilization: 0.85,
  max_model_len: 8192,
  max_num_seqs: 128,
  max_num_batched_tokens: 16384,
  tensor_parallel_size: 2,
  pipeline_parallel_size: 1,
  data_parallel_size: 2,
  enable_expert_parallel: true,
  enforce_eager: false,
  max_cudagraph_capture_size: 256,
  enable_prefix_caching: false,
  enable_chunked_prefill: true,
  async_scheduling: true,
  performance_mode: 'throughput',
  optimization_level: 3,
  speculative: {method: 'eagle3', model: '/data/drafts/eagle3-llama', num_speculative_tokens: 3, draft_tensor_parallel_size: 2},
  trust_remote_code: true,
  startup_timeout_s: 3600,
  extra_args: ['--seed', '7'],
} as const;
