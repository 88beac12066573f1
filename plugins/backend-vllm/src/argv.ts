/**
 * The `vllm serve` command line, inside the container. Pure. Every option that shapes energy is
 * passed explicitly, defaults included (a default that moves between vLLM versions would silently
 * change the measurement); the values vLLM sizes at start-up from the GPU or the model are passed
 * only when the section sets them, and lem reads the chosen ones from the log (index.ts).
 */
import {isGgufFile, placeModel as placeHostModel, servedModelRef as servedModel, type ModelPlacement, type ServerContext} from '@lem/plugin-kit';
import type {SpeculativeConfig, VllmConfig} from './schema.js';

/** Where the served model's folder is mounted, read-only, in the container. */
export const CONTAINER_MODEL_DIR = '/models';
/** Where a speculative draft model's folder is mounted (apart, so two models with one name do not collide). */
export const CONTAINER_DRAFT_DIR = '/draft-models';

/**
 * A hub id is passed as is; an absolute host path is mounted read-only at `<dir>/<name>`: a folder
 * itself, a single file its folder (vLLM serves only GGUF models as one file). By name only.
 */
export function placeModel(ref: string, dir: string): ModelPlacement {
  return placeHostModel(ref, dir, isGgufFile);
}

/** The model lem serves: the section's `model_path` when it is a hub id or absolute, else lem's resolved model. */
export function servedModelRef(cfg: Pick<VllmConfig, 'model_path'>, ctx: Pick<ServerContext, 'model'>): string {
  return servedModel(cfg.model_path, ctx);
}

/** `--speculative-config` as vLLM's SpeculativeConfig JSON (keys absent where the section leaves vLLM's default). */
export function speculativeJson(spec: SpeculativeConfig): string {
  const draft = spec.model === undefined ? undefined : placeModel(spec.model, CONTAINER_DRAFT_DIR).arg;
  return JSON.stringify({
    method: spec.method,
    ...(draft !== undefined ? {model: draft} : {}),
    num_speculative_tokens: spec.num_speculative_tokens,
    ...(spec.draft_tensor_parallel_size !== undefined ? {draft_tensor_parallel_size: spec.draft_tensor_parallel_size} : {}),
    ...(spec.prompt_lookup_max !== undefined ? {prompt_lookup_max: spec.prompt_lookup_max} : {}),
    ...(spec.prompt_lookup_min !== undefined ? {prompt_lookup_min: spec.prompt_lookup_min} : {}),
  });
}

const onOff = (flag: string, on: boolean): string => (on ? `--${flag}` : `--no-${flag}`);

/**
 * `vllm serve <model> …`: argv[0] is the image's `vllm` console script. The model is served under
 * the name lem sends in its requests (`ctx.model`), not under its container path.
 */
export function serverArgs(cfg: VllmConfig, ctx: Pick<ServerContext, 'model' | 'port'>): string[] {
  const model = placeModel(servedModelRef(cfg, ctx), CONTAINER_MODEL_DIR).arg;
  const args = [
    'vllm',
    'serve',
    model,
    '--served-model-name',
    ctx.model,
    '--host',
    '127.0.0.1',
    '--port',
    String(ctx.port),
    '--dtype',
    cfg.dtype,
    '--kv-cache-dtype',
    cfg.kv_cache_dtype,
    '--gpu-memory-utilization',
    String(cfg.gpu_memory_utilization),
    '--tensor-parallel-size',
    String(cfg.tensor_parallel_size),
    '--pipeline-parallel-size',
    String(cfg.pipeline_parallel_size),
    '--data-parallel-size',
    String(cfg.data_parallel_size),
    onOff('enable-expert-parallel', cfg.enable_expert_parallel),
    onOff('enforce-eager', cfg.enforce_eager),
    '--performance-mode',
    cfg.performance_mode,
    '--optimization-level',
    String(cfg.optimization_level),
  ];
  if (cfg.quantization !== undefined) args.push('--quantization', cfg.quantization);
  if (cfg.max_model_len !== undefined) args.push('--max-model-len', String(cfg.max_model_len));
  if (cfg.max_num_seqs !== undefined) args.push('--max-num-seqs', String(cfg.max_num_seqs));
  if (cfg.max_num_batched_tokens !== undefined) args.push('--max-num-batched-tokens', String(cfg.max_num_batched_tokens));
  if (cfg.max_cudagraph_capture_size !== undefined) args.push('--max-cudagraph-capture-size', String(cfg.max_cudagraph_capture_size));
  if (cfg.enable_prefix_caching !== undefined) args.push(onOff('enable-prefix-caching', cfg.enable_prefix_caching));
  if (cfg.enable_chunked_prefill !== undefined) args.push(onOff('enable-chunked-prefill', cfg.enable_chunked_prefill));
  if (cfg.async_scheduling !== undefined) args.push(onOff('async-scheduling', cfg.async_scheduling));
  if (cfg.speculative !== undefined) args.push('--speculative-config', speculativeJson(cfg.speculative));
  if (cfg.trust_remote_code) args.push('--trust-remote-code');
  return [...args, ...cfg.extra_args];
}
