/**
 * The `python3 -m sglang.launch_server` command line, inside the container. Pure. Every option that
 * shapes energy is passed explicitly, value options at their defaults too (a default that moves
 * between SGLang versions would silently change the measurement); SGLang's on/off options are
 * store_true switches with no negative form, so they appear only when turned on. The values SGLang
 * sizes at start-up from the GPU or the model are passed only when the section sets them, and lem
 * reads the chosen ones from the log (index.ts).
 */
import {isGgufFile, placeModel as placeHostModel, servedModelRef as servedModel, type ModelPlacement, type ServerContext} from '@lem/plugin-kit';
import type {SglangConfig, SpeculativeConfig} from './schema.js';

/** Where the served model's folder is mounted, read-only, in the container. */
export const CONTAINER_MODEL_DIR = '/models';
/** Where a speculative draft model's folder is mounted (apart, so two models with one name do not collide). */
export const CONTAINER_DRAFT_DIR = '/draft-models';

/**
 * A hub id is passed as is; an absolute host path is mounted read-only at `<dir>/<name>`: a folder
 * itself, a single file its folder (SGLang serves only GGUF models as one file). By name only.
 */
export function placeModel(ref: string, dir: string): ModelPlacement {
  return placeHostModel(ref, dir, isGgufFile);
}

/** The model lem serves: the section's `model_path` when it is a hub id or absolute, else lem's resolved model. */
export function servedModelRef(cfg: Pick<SglangConfig, 'model_path'>, ctx: Pick<ServerContext, 'model'>): string {
  return servedModel(cfg.model_path, ctx);
}

/** The `--speculative-*` flags of the section (those it leaves unset stay SGLang's choice). */
export function speculativeArgs(spec: SpeculativeConfig): string[] {
  const args = ['--speculative-algorithm', spec.algorithm];
  if (spec.draft_model_path !== undefined) args.push('--speculative-draft-model-path', placeModel(spec.draft_model_path, CONTAINER_DRAFT_DIR).arg);
  if (spec.num_steps !== undefined) args.push('--speculative-num-steps', String(spec.num_steps));
  if (spec.eagle_topk !== undefined) args.push('--speculative-eagle-topk', String(spec.eagle_topk));
  if (spec.num_draft_tokens !== undefined) args.push('--speculative-num-draft-tokens', String(spec.num_draft_tokens));
  return args;
}

/** The options SGLang sizes or picks at start-up, passed only when the section sets them. */
function startupChosenArgs(cfg: SglangConfig): string[] {
  const args: string[] = [];
  const optional: Array<[string, string | number | undefined]> = [
    ['--quantization', cfg.quantization],
    ['--mem-fraction-static', cfg.mem_fraction_static],
    ['--context-length', cfg.context_length],
    ['--max-running-requests', cfg.max_running_requests],
    ['--max-total-tokens', cfg.max_total_tokens],
    ['--chunked-prefill-size', cfg.chunked_prefill_size],
    ['--cuda-graph-backend-decode', cfg.cuda_graph_backend_decode],
    ['--cuda-graph-backend-prefill', cfg.cuda_graph_backend_prefill],
    ['--cuda-graph-max-bs-decode', cfg.cuda_graph_max_bs_decode],
  ];
  for (const [flag, value] of optional) if (value !== undefined) args.push(flag, String(value));
  return args;
}

/** SGLang's store_true switches, present only when on. */
function switchArgs(cfg: SglangConfig): string[] {
  const switches: Array<[string, boolean]> = [
    ['--disable-radix-cache', cfg.disable_radix_cache],
    ['--disable-overlap-schedule', cfg.disable_overlap_schedule],
    ['--enable-mixed-chunk', cfg.enable_mixed_chunk],
    ['--enable-torch-compile', cfg.enable_torch_compile],
    ['--trust-remote-code', cfg.trust_remote_code],
  ];
  return switches.filter(([, on]) => on).map(([flag]) => flag);
}

/**
 * `python3 -m sglang.launch_server --model-path <model> …`: argv[0] is the image's python3. The
 * model is served under the name lem sends in its requests (`ctx.model`), not under its container
 * path; Prometheus metrics are always on, since lem scrapes them during measure.
 */
export function serverArgs(cfg: SglangConfig, ctx: Pick<ServerContext, 'model' | 'port'>): string[] {
  const model = placeModel(servedModelRef(cfg, ctx), CONTAINER_MODEL_DIR).arg;
  return [
    'python3',
    '-m',
    'sglang.launch_server',
    '--model-path',
    model,
    '--served-model-name',
    ctx.model,
    '--host',
    '127.0.0.1',
    '--port',
    String(ctx.port),
    '--enable-metrics',
    '--log-level',
    'info',
    '--dtype',
    cfg.dtype,
    '--kv-cache-dtype',
    cfg.kv_cache_dtype,
    '--max-prefill-tokens',
    String(cfg.max_prefill_tokens),
    '--schedule-policy',
    cfg.schedule_policy,
    '--tp-size',
    String(cfg.tp_size),
    '--pp-size',
    String(cfg.pp_size),
    '--dp-size',
    String(cfg.dp_size),
    '--ep-size',
    String(cfg.ep_size),
    ...startupChosenArgs(cfg),
    ...switchArgs(cfg),
    ...(cfg.speculative !== undefined ? speculativeArgs(cfg.speculative) : []),
    ...cfg.extra_args,
  ];
}
