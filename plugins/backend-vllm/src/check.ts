/**
 * Cross-field rules of the `vllm:` section against the experiment: what vLLM 0.22.1 would refuse at
 * start-up (minutes into a launch), or accept while ignoring a setting the experiment asked for.
 * Pure.
 */
import {isGgufFile, type CheckContext, type ConfigIssue} from '@lem/plugin-kit';
import {DRAFT_MODEL_METHODS, NGRAM_METHODS, type SpeculativeConfig, type VllmConfig} from './schema.js';

const needsDraftModel = (method: string): boolean => (DRAFT_MODEL_METHODS as readonly string[]).includes(method);
const isNgram = (method: string): boolean => (NGRAM_METHODS as readonly string[]).includes(method);

function parallelIssues(cfg: VllmConfig, ctx: CheckContext): ConfigIssue[] {
  const tp = cfg.tensor_parallel_size;
  const pp = cfg.pipeline_parallel_size;
  const dp = cfg.data_parallel_size;
  const world = tp * pp * dp;
  if (world <= ctx.gpus) return [];
  return [
    {
      path: ['tensor_parallel_size'],
      message: `tensor_parallel_size × pipeline_parallel_size × data_parallel_size = ${tp} × ${pp} × ${dp} = ${world} GPUs, but the experiment gives the server ${ctx.gpus}`,
      try: `give the experiment ${world} GPUs, or lower the parallel sizes until their product is at most ${ctx.gpus}`,
    },
  ];
}

function cudaGraphIssues(cfg: VllmConfig): ConfigIssue[] {
  if (cfg.max_cudagraph_capture_size === undefined || !(cfg.enforce_eager || cfg.optimization_level === 0)) return [];
  const why = cfg.enforce_eager ? 'enforce_eager: true runs the model without CUDA graphs' : 'optimization_level 0 captures no CUDA graphs';
  return [
    {
      path: ['max_cudagraph_capture_size'],
      message: `${why}, so max_cudagraph_capture_size ${cfg.max_cudagraph_capture_size} would have no effect`,
      try: 'remove max_cudagraph_capture_size, or run with CUDA graphs (enforce_eager: false, optimization_level 1 or more)',
    },
  ];
}

/** SchedulerConfig.verify_max_model_len (vllm/config/scheduler.py) refuses both at start-up. */
function batchIssues(cfg: VllmConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (cfg.max_num_batched_tokens !== undefined && cfg.max_num_seqs !== undefined && cfg.max_num_batched_tokens < cfg.max_num_seqs) {
    issues.push({
      path: ['max_num_batched_tokens'],
      message: `max_num_batched_tokens (${cfg.max_num_batched_tokens}) must be at least max_num_seqs (${cfg.max_num_seqs}): every running sequence needs a token in each step`,
      try: `raise max_num_batched_tokens to ${cfg.max_num_seqs} or more, or lower max_num_seqs`,
    });
  }
  if (cfg.enable_chunked_prefill === false && cfg.max_num_batched_tokens !== undefined && cfg.max_model_len !== undefined && cfg.max_num_batched_tokens < cfg.max_model_len) {
    issues.push({
      path: ['max_num_batched_tokens'],
      message: `without chunked prefill a whole prompt is one step, so max_num_batched_tokens (${cfg.max_num_batched_tokens}) must be at least max_model_len (${cfg.max_model_len})`,
      try: `raise max_num_batched_tokens to ${cfg.max_model_len}, lower max_model_len, or enable chunked prefill`,
    });
  }
  return issues;
}

/** vLLM serves a GGUF model only as a single .gguf file, and reads no other format from one. */
function ggufIssues(cfg: VllmConfig, ctx: CheckContext): ConfigIssue[] {
  const served = cfg.model_path ?? ctx.model;
  const where = cfg.model_path === undefined ? 'the experiment\'s model' : 'model_path';
  if (cfg.quantization === 'gguf' && !isGgufFile(served)) {
    return [{path: ['quantization'], message: `quantization gguf needs a .gguf file, but ${where} is ${served}`, try: 'set model_path to the .gguf file, or remove quantization'}];
  }
  if (cfg.quantization !== undefined && cfg.quantization !== 'gguf' && isGgufFile(served)) {
    return [{path: ['quantization'], message: `${where} ${served} is a GGUF file, which vLLM reads only as quantization gguf, not ${cfg.quantization}`, try: 'remove quantization (vLLM detects GGUF), or serve a checkpoint of that format'}];
  }
  return [];
}

function draftModelIssues(spec: SpeculativeConfig): ConfigIssue[] {
  if (needsDraftModel(spec.method) && spec.model === undefined) {
    return [{path: ['speculative', 'model'], message: `speculative method ${spec.method} proposes tokens with a draft model, and none is given`, try: 'set speculative.model to the draft model (hub id or absolute path)'}];
  }
  if (!needsDraftModel(spec.method) && spec.model !== undefined) {
    return [
      {
        path: ['speculative', 'model'],
        message: `speculative method ${spec.method} needs no draft model (it reads the prompt or the model's own layers), but speculative.model is ${spec.model}`,
        try: `remove speculative.model, or choose a draft-model method (${DRAFT_MODEL_METHODS.join(', ')})`,
      },
    ];
  }
  return [];
}

function ngramIssues(spec: SpeculativeConfig): ConfigIssue[] {
  if (!isNgram(spec.method)) {
    return (['prompt_lookup_max', 'prompt_lookup_min'] as const)
      .filter((key) => spec[key] !== undefined)
      .map((key) => ({path: ['speculative', key], message: `speculative.${key} applies to the ngram methods only, not to ${spec.method}`, try: `remove speculative.${key}`}));
  }
  if (spec.prompt_lookup_min !== undefined && spec.prompt_lookup_max !== undefined && spec.prompt_lookup_min > spec.prompt_lookup_max) {
    return [
      {
        path: ['speculative', 'prompt_lookup_min'],
        message: `speculative.prompt_lookup_min (${spec.prompt_lookup_min}) is larger than prompt_lookup_max (${spec.prompt_lookup_max})`,
        try: 'make prompt_lookup_min at most prompt_lookup_max',
      },
    ];
  }
  return [];
}

/** SpeculativeConfig accepts a draft tensor-parallel size of 1 or the target's only. */
function draftParallelIssues(spec: SpeculativeConfig, tp: number): ConfigIssue[] {
  const draftTp = spec.draft_tensor_parallel_size;
  if (draftTp === undefined || draftTp === 1 || draftTp === tp) return [];
  return [
    {
      path: ['speculative', 'draft_tensor_parallel_size'],
      message: `speculative.draft_tensor_parallel_size ${draftTp} must be 1 or the target's tensor_parallel_size (${tp})`,
      try: `set draft_tensor_parallel_size to 1 or ${tp}`,
    },
  ];
}

export function checkConfig(cfg: VllmConfig, ctx: CheckContext): ConfigIssue[] {
  const spec = cfg.speculative;
  return [
    ...parallelIssues(cfg, ctx),
    ...cudaGraphIssues(cfg),
    ...batchIssues(cfg),
    ...ggufIssues(cfg, ctx),
    ...(spec !== undefined ? [...draftModelIssues(spec), ...ngramIssues(spec), ...draftParallelIssues(spec, cfg.tensor_parallel_size)] : []),
  ];
}
