/**
 * Cross-field rules of the `tensorrt:` section against the experiment: what TensorRT-LLM 1.3.0rc5
 * would refuse at start-up (often after minutes of loading or an engine build), or accept while
 * ignoring a setting the experiment asked for. Pure.
 */
import type {CheckContext, ConfigIssue} from '@lem/plugin-kit';
import {DRAFT_MODEL_DECODING, PYTORCH_ONLY_KEYS, type SpeculativeConfig, type TensorrtConfig} from './schema.js';

const needsDraftModel = (type: string): boolean => (DRAFT_MODEL_DECODING as readonly string[]).includes(type);
/** Model files TensorRT-LLM cannot serve: it reads checkpoint or engine folders (or hub ids). */
const SINGLE_FILE = /\.(gguf|safetensors|bin|pt|pth|onnx)$/i;

function parallelIssues(cfg: TensorrtConfig, ctx: CheckContext): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const tp = cfg.tensor_parallel_size;
  const pp = cfg.pipeline_parallel_size;
  if (tp * pp > ctx.gpus) {
    issues.push({
      path: ['tensor_parallel_size'],
      message: `tensor_parallel_size × pipeline_parallel_size = ${tp} × ${pp} = ${tp * pp} GPUs, but the experiment gives the server ${ctx.gpus}`,
      try: `give the experiment ${tp * pp} GPUs, or lower the parallel sizes until their product is at most ${ctx.gpus}`,
    });
  }
  // Expert parallelism splits the tensor-parallel group: moe_tp_size × moe_ep_size = tp_size.
  const ep = cfg.moe_expert_parallel_size;
  if (ep !== undefined && tp % ep !== 0) {
    issues.push({
      path: ['moe_expert_parallel_size'],
      message: `moe_expert_parallel_size ${ep} must divide tensor_parallel_size ${tp}: experts are spread within the tensor-parallel group`,
      try: `set moe_expert_parallel_size to a divisor of ${tp} (${tp} for pure expert parallelism)`,
    });
  }
  if (cfg.enable_attention_dp && tp === 1) {
    issues.push({path: ['enable_attention_dp'], message: 'enable_attention_dp needs tensor_parallel_size above 1: with one rank there is nothing to run in parallel', try: 'raise tensor_parallel_size, or remove enable_attention_dp'});
  }
  return issues;
}

function runtimeIssues(cfg: TensorrtConfig): ConfigIssue[] {
  if (cfg.runtime === 'pytorch') return [];
  const issues: ConfigIssue[] = [];
  // TrtLlmArgs.validate_kv_cache_dtype: "KvCacheConfig.dtype is not supported by the TensorRT backend."
  if (cfg.kv_cache_dtype !== 'auto') {
    issues.push({path: ['kv_cache_dtype'], message: `kv_cache_dtype ${cfg.kv_cache_dtype} is not supported by the tensorrt runtime, which takes the KV-cache type from the engine`, try: 'use runtime: pytorch, or remove kv_cache_dtype'});
  }
  // TrtLlmArgs forbids unknown fields: the PyTorch runtime's settings would stop the server.
  for (const key of PYTORCH_ONLY_KEYS) {
    if (cfg[key] !== undefined) issues.push({path: [key], message: `${key} is a setting of the pytorch runtime, and runtime is tensorrt`, try: `remove ${key}, or use runtime: pytorch`});
  }
  return issues;
}

function cudaGraphIssues(cfg: TensorrtConfig): ConfigIssue[] {
  if (cfg.cuda_graphs !== false) return [];
  return (['cuda_graph_max_batch_size', 'cuda_graph_padding'] as const)
    .filter((key) => cfg[key] !== undefined)
    .map((key) => ({path: [key], message: `cuda_graphs: false decodes without CUDA graphs, so ${key} would have no effect`, try: `remove ${key}, or set cuda_graphs: true`}));
}

function batchIssues(cfg: TensorrtConfig): ConfigIssue[] {
  if (cfg.enable_chunked_prefill || cfg.max_seq_len === undefined || cfg.max_num_tokens >= cfg.max_seq_len) return [];
  return [
    {
      path: ['max_num_tokens'],
      message: `without chunked prefill a whole prompt is one iteration, so max_num_tokens (${cfg.max_num_tokens}) must be at least max_seq_len (${cfg.max_seq_len})`,
      try: `raise max_num_tokens to ${cfg.max_seq_len}, lower max_seq_len, or set enable_chunked_prefill: true`,
    },
  ];
}

function speculativeIssues(spec: SpeculativeConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (needsDraftModel(spec.decoding_type) && spec.speculative_model === undefined) {
    issues.push({path: ['speculative', 'speculative_model'], message: `decoding_type ${spec.decoding_type} proposes tokens with a draft model, and none is given`, try: 'set speculative.speculative_model to the draft model (hub id or absolute path)'});
  }
  if (!needsDraftModel(spec.decoding_type) && spec.speculative_model !== undefined) {
    issues.push({
      path: ['speculative', 'speculative_model'],
      message: `decoding_type ${spec.decoding_type} needs no draft model, but speculative.speculative_model is ${spec.speculative_model}`,
      try: `remove speculative.speculative_model, or choose ${DRAFT_MODEL_DECODING.join(' or ')}`,
    });
  }
  if (spec.max_matching_ngram_size !== undefined && spec.decoding_type !== 'NGram') {
    issues.push({path: ['speculative', 'max_matching_ngram_size'], message: `speculative.max_matching_ngram_size applies to decoding_type NGram only, not ${spec.decoding_type}`, try: 'remove speculative.max_matching_ngram_size'});
  }
  return issues;
}

function modelIssues(cfg: TensorrtConfig, ctx: CheckContext): ConfigIssue[] {
  const served = cfg.model_path ?? ctx.model;
  if (!SINGLE_FILE.test(served)) return [];
  const where = cfg.model_path === undefined ? "the experiment's model" : 'model_path';
  return [
    {
      path: ['model_path'],
      message: `${where} ${served} is a single file; TensorRT-LLM serves a Hugging Face checkpoint folder, a TensorRT engine folder or a hub id (and no GGUF)`,
      try: 'set tensorrt.model_path to the checkpoint folder or hub id (an FP8 checkpoint for FP8 weights)',
    },
  ];
}

export function checkConfig(cfg: TensorrtConfig, ctx: CheckContext): ConfigIssue[] {
  return [
    ...parallelIssues(cfg, ctx),
    ...runtimeIssues(cfg),
    ...cudaGraphIssues(cfg),
    ...batchIssues(cfg),
    ...(cfg.speculative !== undefined ? speculativeIssues(cfg.speculative) : []),
    ...modelIssues(cfg, ctx),
  ];
}
