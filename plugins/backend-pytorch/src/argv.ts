/**
 * The `transformers serve` command line, inside the container. Pure. Every option that shapes energy
 * is passed explicitly, defaults included (a default that moves between transformers versions would
 * silently change the measurement); the values transformers sizes at start-up from the GPU are passed
 * only when the section sets them, and lem reads the chosen ones from the log (index.ts).
 */
import {posix} from 'node:path';
import type {Mount, ServerContext} from '@lem/plugin-kit';
import type {PytorchConfig} from './schema.js';

/** A model as `transformers serve` is given it, and the mount that makes it visible when it is a host path. */
export interface ModelPlacement {
  arg: string;
  mount?: Mount;
}

/**
 * The model is given as `transformers serve`'s positional FORCE_MODEL, and with one, the server
 * answers 400 to a request whose `model` is any other string (BaseHandler._resolve_model,
 * src/transformers/cli/serving/utils.py): it has no `--served-model-name`. So the argument is the
 * very string lem sends (`ctx.model`), and a host folder is mounted read-only at its own path, where
 * that string finds it inside the container. A hub id is passed as is. Classified by name: this
 * must not touch the file system.
 */
export function placeModel(ref: string): ModelPlacement {
  if (!posix.isAbsolute(ref)) return {arg: ref};
  const folder = posix.normalize(ref).replace(/(.)\/+$/, '$1');
  return {arg: ref, mount: {hostPath: folder, containerPath: folder, readOnly: true}};
}

const onOff = (flag: string, on: boolean): string => (on ? `--${flag}` : `--no-${flag}`);

/** The `--cb-*` options: the block size always (transformers' default made explicit), the sizes only when set. */
function continuousBatchingArgs(cfg: PytorchConfig): string[] {
  const args = ['--cb-block-size', String(cfg.cb_block_size)];
  if (cfg.cb_num_blocks !== undefined) args.push('--cb-num-blocks', String(cfg.cb_num_blocks));
  if (cfg.cb_max_batch_tokens !== undefined) args.push('--cb-max-batch-tokens', String(cfg.cb_max_batch_tokens));
  if (cfg.cb_max_memory_percent !== undefined) args.push('--cb-max-memory-percent', String(cfg.cb_max_memory_percent));
  if (cfg.cb_use_cuda_graph !== undefined) args.push(onOff('cb-use-cuda-graph', cfg.cb_use_cuda_graph));
  return args;
}

/**
 * `transformers serve <model> …`: argv[0] is the console script transformers installs. The model is
 * the string lem names it by in every request (see placeModel). `--log-level warning` is
 * transformers' default, made explicit: the continuous-batching lines lem reads are let through by
 * the generated sitecustomize (index.ts), not by this flag.
 */
export function serverArgs(cfg: PytorchConfig, ctx: Pick<ServerContext, 'model' | 'port'>): string[] {
  const args = [
    'transformers',
    'serve',
    placeModel(ctx.model).arg,
    '--host',
    '127.0.0.1',
    '--port',
    String(ctx.port),
    '--log-level',
    'warning',
    '--device',
    cfg.device,
    '--dtype',
    cfg.dtype,
    onOff('continuous-batching', cfg.continuous_batching),
    onOff('compile', cfg.compile),
    '--reasoning',
    cfg.reasoning,
    onOff('trust-remote-code', cfg.trust_remote_code),
  ];
  if (cfg.quantization !== undefined) args.push('--quantization', cfg.quantization);
  if (cfg.attn_implementation !== undefined) args.push('--attn-implementation', cfg.attn_implementation);
  if (cfg.continuous_batching) args.push(...continuousBatchingArgs(cfg));
  return [...args, ...cfg.extra_args];
}
