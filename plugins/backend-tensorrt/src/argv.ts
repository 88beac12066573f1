/**
 * The `trtllm-serve serve` command line and its options file, inside the container. Pure. Every
 * option that shapes energy is given explicitly, defaults included (a default that moves between
 * TensorRT-LLM versions would silently change the measurement): the CLI's own options on the
 * command line, the LLM API's others in the options file `--config` names. What TensorRT-LLM
 * derives at start-up (max_seq_len) is given only when the section sets it.
 */
import {placeModel as placeHostModel, servedModelRef as servedModel, type ModelPlacement, type ServerContext} from '@lem/plugin-kit';
import {DEFAULT_CUDA_GRAPH_MAX_BATCH_SIZE, type SpeculativeConfig, type TensorrtConfig} from './schema.js';

/** Where the served model's folder is mounted, read-only, in the container. */
export const CONTAINER_MODEL_DIR = '/models';
/** Where a speculative draft model's folder is mounted. */
export const CONTAINER_DRAFT_DIR = '/draft-models';
/** The generated options file, under the launch's workdir (mounted at the same path). */
export const OPTIONS_FILE = 'trtllm-options.yaml';

/**
 * A hub id is passed as is; an absolute host path, a checkpoint or engine folder, is mounted
 * read-only at `<dir>/<name>` (TensorRT-LLM serves no single model files). By name only.
 */
export function placeModel(ref: string, dir: string): ModelPlacement {
  return placeHostModel(ref, dir);
}

/** The model lem serves: the section's `model_path` when it is a hub id or absolute, else lem's resolved model. */
export function servedModelRef(cfg: Pick<TensorrtConfig, 'model_path'>, ctx: Pick<ServerContext, 'model'>): string {
  return servedModel(cfg.model_path, ctx);
}

/** The options file's path in the container (the workdir is mounted at its host path). */
export function optionsPath(workdir: string): string {
  return `${workdir.replace(/\/+$/, '')}/${OPTIONS_FILE}`;
}

/** `speculative_config`, with the draft model at its container path. */
export function speculativeOptions(spec: SpeculativeConfig): Record<string, unknown> {
  const draft = spec.speculative_model === undefined ? undefined : placeModel(spec.speculative_model, CONTAINER_DRAFT_DIR).arg;
  return {
    decoding_type: spec.decoding_type,
    max_draft_len: spec.max_draft_len,
    ...(draft !== undefined ? {speculative_model_dir: draft} : {}),
    ...(spec.max_matching_ngram_size !== undefined ? {max_matching_ngram_size: spec.max_matching_ngram_size} : {}),
  };
}

/** TorchLlmArgs' settings, with TensorRT-LLM's defaults written out; the TensorRT runtime has none of them. */
function pytorchOptions(cfg: TensorrtConfig): Record<string, unknown> {
  if (cfg.runtime !== 'pytorch') return {};
  const graphs = cfg.cuda_graphs ?? true;
  return {
    cuda_graph_config: graphs ? {max_batch_size: cfg.cuda_graph_max_batch_size ?? DEFAULT_CUDA_GRAPH_MAX_BATCH_SIZE, enable_padding: cfg.cuda_graph_padding ?? false} : null,
    disable_overlap_scheduler: !(cfg.overlap_scheduler ?? true),
    attn_backend: cfg.attention_backend ?? 'TRTLLM',
    ...(cfg.speculative !== undefined ? {speculative_config: speculativeOptions(cfg.speculative)} : {}),
  };
}

/**
 * The options file's settings. kv_cache_config is written whole (the file's kv_cache_config
 * replaces the one trtllm-serve built from --kv_cache_free_gpu_memory_fraction, so the fraction is
 * repeated here). `enable_iter_perf_stats` makes /metrics answer the per-iteration statistics lem scrapes.
 */
export function llmApiOptions(cfg: TensorrtConfig): Record<string, unknown> {
  return {
    dtype: cfg.dtype,
    kv_cache_config: {
      ...(cfg.runtime === 'pytorch' ? {dtype: cfg.kv_cache_dtype} : {}),
      free_gpu_memory_fraction: cfg.free_gpu_memory_fraction,
      enable_block_reuse: cfg.enable_block_reuse,
    },
    enable_chunked_prefill: cfg.enable_chunked_prefill,
    enable_attention_dp: cfg.enable_attention_dp,
    enable_iter_perf_stats: true,
    ...pytorchOptions(cfg),
    ...cfg.extra_options,
  };
}

/**
 * The options file's text. JSON is YAML (1.2, and within what PyYAML's safe_load, which
 * trtllm-serve reads the file with, parses), so no YAML library is needed for a file lem only writes.
 */
export function optionsFileText(cfg: TensorrtConfig): string {
  return `# TensorRT-LLM LLM API options, written by lem for this run (trtllm-serve --config).\n${JSON.stringify(llmApiOptions(cfg), null, 2)}\n`;
}

/** `trtllm-serve serve <model> …`: argv[0] is the image's trtllm-serve console script. */
export function serverArgs(cfg: TensorrtConfig, ctx: Pick<ServerContext, 'model' | 'port' | 'workdir'>): string[] {
  const model = placeModel(servedModelRef(cfg, ctx), CONTAINER_MODEL_DIR).arg;
  const args = [
    'trtllm-serve',
    'serve',
    model,
    '--host',
    '127.0.0.1',
    '--port',
    String(ctx.port),
    '--backend',
    cfg.runtime,
    '--log_level',
    cfg.log_level,
    '--max_batch_size',
    String(cfg.max_batch_size),
    '--max_num_tokens',
    String(cfg.max_num_tokens),
    '--tp_size',
    String(cfg.tensor_parallel_size),
    '--pp_size',
    String(cfg.pipeline_parallel_size),
    '--kv_cache_free_gpu_memory_fraction',
    String(cfg.free_gpu_memory_fraction),
  ];
  if (cfg.max_seq_len !== undefined) args.push('--max_seq_len', String(cfg.max_seq_len));
  if (cfg.moe_expert_parallel_size !== undefined) args.push('--ep_size', String(cfg.moe_expert_parallel_size));
  if (cfg.trust_remote_code) args.push('--trust_remote_code');
  args.push('--config', optionsPath(ctx.workdir));
  return [...args, ...cfg.extra_args];
}
