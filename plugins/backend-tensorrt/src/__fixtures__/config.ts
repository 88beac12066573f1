import {readFileSync} from 'node:fs';
import {parseCliReference, sectionParser} from '@lem/plugin-kit/testing';
import type {CheckContext, ServerContext} from '@lem/plugin-kit';
import {configSchema, type TensorrtConfig} from '../schema.js';

/** The committed CLI reference of the pinned TensorRT-LLM. */
export const REFERENCE_TEXT = readFileSync(new URL('../../reference/tensorrt-llm-1.3.0rc5.txt', import.meta.url), 'utf8');
export const reference = parseCliReference(REFERENCE_TEXT);

export const serverContext: ServerContext = {model: 'meta-llama/Llama-3.1-8B-Instruct', port: 18124, gpus: ['GPU-aaaa'], workdir: '/tmp/lem/w2', threads: 4, runner: 'docker'};
export const checkContext: CheckContext = {gpus: 1, runner: 'docker', workload: {api: 'completions', concurrency: 8, fixedOutputLength: true}, model: 'meta-llama/Llama-3.1-8B-Instruct'};

export const {validate, config} = sectionParser<TensorrtConfig>(configSchema);

/** A section that sets every key of the PyTorch runtime (a draft model on the host, so it is mounted too). */
export const EVERY_OPTION = {
  model_path: '/data/models/Llama-3.1-8B-Instruct-FP8',
  runtime: 'pytorch',
  dtype: 'bfloat16',
  kv_cache_dtype: 'fp8',
  free_gpu_memory_fraction: 0.85,
  enable_block_reuse: false,
  max_batch_size: 256,
  max_num_tokens: 16384,
  max_seq_len: 8192,
  enable_chunked_prefill: true,
  tensor_parallel_size: 2,
  pipeline_parallel_size: 1,
  moe_expert_parallel_size: 2,
  enable_attention_dp: true,
  cuda_graphs: true,
  cuda_graph_max_batch_size: 256,
  cuda_graph_padding: true,
  overlap_scheduler: false,
  attention_backend: 'FLASHINFER',
  speculative: {decoding_type: 'Eagle3', max_draft_len: 3, speculative_model: '/data/drafts/eagle3-llama'},
  trust_remote_code: true,
  log_level: 'verbose',
  startup_timeout_s: 3600,
  extra_options: {stream_interval: 4},
  extra_args: ['--num_postprocess_workers', '2'],
} as const;
