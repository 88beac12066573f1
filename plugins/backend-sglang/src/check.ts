/**
 * Cross-field rules of the `sglang:` section against the experiment: what SGLang 0.5.18 would
 * refuse at start-up (minutes into a launch), or accept while ignoring or overriding a setting the
 * experiment asked for. Pure. Sources: ServerArgs.check_server_args and the start-up handlers of
 * python/sglang/srt/server_args.py, python/sglang/srt/arg_groups/speculative_hook.py.
 */
import {isGgufFile, type CheckContext, type ConfigIssue} from '@lem/plugin-kit';
import {DRAFT_MODEL_ALGORITHMS, EAGLE_FAMILY_ALGORITHMS, type SglangConfig, type SpeculativeConfig} from './schema.js';

const isOneOf = (list: readonly string[], value: string): boolean => list.includes(value);

function parallelIssues(cfg: SglangConfig, ctx: CheckContext): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const {tp_size: tp, pp_size: pp, dp_size: dp, ep_size: ep} = cfg;
  const world = tp * pp * dp;
  if (world > ctx.gpus) {
    issues.push({
      path: ['tp_size'],
      message: `tp_size × pp_size × dp_size = ${tp} × ${pp} × ${dp} = ${world} GPUs, but the experiment gives the server ${ctx.gpus}`,
      try: `give the experiment ${world} GPUs, or lower the parallel sizes until their product is at most ${ctx.gpus}`,
    });
  }
  // Expert parallelism splits the tensor-parallel group (moe_tp_size = tp_size / ep_size).
  if (tp % ep !== 0) {
    issues.push({path: ['ep_size'], message: `ep_size ${ep} must divide tp_size ${tp}: expert parallelism runs inside the tensor-parallel group`, try: `set ep_size to a divisor of ${tp} (1 turns expert parallelism off)`});
  }
  return issues;
}

function scheduleIssues(cfg: SglangConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (cfg.cuda_graph_max_bs_decode !== undefined && cfg.cuda_graph_backend_decode === 'disabled') {
    issues.push({
      path: ['cuda_graph_max_bs_decode'],
      message: `cuda_graph_backend_decode: disabled captures no decode CUDA graphs, so cuda_graph_max_bs_decode ${cfg.cuda_graph_max_bs_decode} would have no effect`,
      try: 'remove cuda_graph_max_bs_decode, or choose a decode CUDA-graph backend',
    });
  }
  // SGLang lists full torch.compile among the settings tc_piecewise cannot run with, and an explicit prefill backend skips its auto-disable.
  if (cfg.enable_torch_compile && cfg.cuda_graph_backend_prefill === 'tc_piecewise') {
    issues.push({
      path: ['cuda_graph_backend_prefill'],
      message: 'cuda_graph_backend_prefill tc_piecewise cannot run with enable_torch_compile: true (full torch.compile mode)',
      try: 'choose another prefill backend (breakable, disabled), or leave it to SGLang, or turn enable_torch_compile off',
    });
  }
  if (cfg.enable_mixed_chunk && cfg.chunked_prefill_size === -1) {
    issues.push({path: ['enable_mixed_chunk'], message: 'enable_mixed_chunk mixes prefill chunks into decode batches, but chunked_prefill_size -1 turns chunked prefill off', try: 'remove enable_mixed_chunk, or give chunked_prefill_size a positive size'});
  }
  return issues;
}

/** The name SGLang serves under: lem's model (model_path when set). check_server_args refuses a colon in it. */
function modelIssues(cfg: SglangConfig, ctx: CheckContext): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const served = cfg.model_path ?? ctx.model;
  const where = cfg.model_path === undefined ? "the experiment's model" : 'model_path';
  if (served.includes(':')) {
    issues.push({path: ['model_path'], message: `SGLang serves the model under its name, and refuses a name with a colon (reserved for model:adapter), but ${where} is ${served}`, try: 'serve the model from a path or hub id without a colon'});
  }
  if (cfg.quantization === 'gguf' && !isGgufFile(served)) {
    issues.push({path: ['quantization'], message: `quantization gguf needs a .gguf file, but ${where} is ${served}`, try: 'set model_path to the .gguf file, or remove quantization'});
  } else if (cfg.quantization !== undefined && cfg.quantization !== 'gguf' && isGgufFile(served)) {
    issues.push({path: ['quantization'], message: `${where} ${served} is a GGUF file, which SGLang reads only as quantization gguf, not ${cfg.quantization}`, try: 'remove quantization (SGLang detects GGUF), or serve a checkpoint of that format'});
  }
  return issues;
}

function draftModelIssues(spec: SpeculativeConfig): ConfigIssue[] {
  if (isOneOf(DRAFT_MODEL_ALGORITHMS, spec.algorithm) && spec.draft_model_path === undefined) {
    return [{path: ['speculative', 'draft_model_path'], message: `speculative algorithm ${spec.algorithm} proposes tokens with a draft model, and none is given`, try: 'set speculative.draft_model_path to the draft model (hub id or absolute path)'}];
  }
  if (spec.algorithm === 'NGRAM' && spec.draft_model_path !== undefined) {
    return [{path: ['speculative', 'draft_model_path'], message: `speculative algorithm NGRAM looks drafts up in the prompt and needs no draft model, but speculative.draft_model_path is ${spec.draft_model_path}`, try: `remove speculative.draft_model_path, or choose a draft-model algorithm (${DRAFT_MODEL_ALGORITHMS.join(', ')})`}];
  }
  return [];
}

/** What SGLang's speculative handlers assert, or override with a warning, about the draft shape. */
function draftShapeIssues(spec: SpeculativeConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const {algorithm, num_steps: steps, eagle_topk: topk, num_draft_tokens: tokens} = spec;
  if (isOneOf(EAGLE_FAMILY_ALGORITHMS, algorithm) && steps === undefined) {
    for (const key of ['eagle_topk', 'num_draft_tokens'] as const) {
      if (spec[key] !== undefined) issues.push({path: ['speculative', key], message: `speculative.${key} needs speculative.num_steps: without it SGLang chooses all three together`, try: `set speculative.num_steps too, or remove speculative.${key}`});
    }
  }
  if (isOneOf(EAGLE_FAMILY_ALGORITHMS, algorithm) && steps !== undefined && topk === 1 && tokens !== undefined && tokens !== steps + 1) {
    issues.push({path: ['speculative', 'num_draft_tokens'], message: `with eagle_topk 1 SGLang sets num_draft_tokens to num_steps + 1 = ${steps + 1}, not ${tokens}`, try: `set num_draft_tokens to ${steps + 1}, or remove it`});
  }
  if ((algorithm === 'NGRAM' || algorithm === 'DFLASH') && topk !== undefined) {
    const why = algorithm === 'NGRAM' ? 'NGRAM takes its breadth from its own n-gram settings' : 'DFLASH drafts one block (topk 1)';
    issues.push({path: ['speculative', 'eagle_topk'], message: `speculative.eagle_topk is overridden by SGLang: ${why}`, try: 'remove speculative.eagle_topk'});
  }
  if (algorithm === 'DFLASH' && steps !== undefined && steps !== 1) {
    issues.push({path: ['speculative', 'num_steps'], message: `DFLASH runs one draft step, and SGLang overrides speculative.num_steps ${steps} to 1`, try: 'remove speculative.num_steps'});
  }
  return issues;
}

function speculativeIssues(cfg: SglangConfig): ConfigIssue[] {
  const spec = cfg.speculative;
  if (spec === undefined) return [];
  const issues = [...draftModelIssues(spec), ...draftShapeIssues(spec)];
  if (cfg.pp_size > 1) {
    issues.push({path: ['speculative'], message: `SGLang runs no speculative decoding with pipeline parallelism, but pp_size is ${cfg.pp_size}`, try: 'set pp_size to 1, or remove speculative'});
  }
  if (cfg.enable_mixed_chunk) {
    issues.push({path: ['enable_mixed_chunk'], message: 'SGLang turns enable_mixed_chunk off with speculative decoding', try: 'remove enable_mixed_chunk, or remove speculative'});
  }
  return issues;
}

export function checkConfig(cfg: SglangConfig, ctx: CheckContext): ConfigIssue[] {
  return [...parallelIssues(cfg, ctx), ...scheduleIssues(cfg), ...modelIssues(cfg, ctx), ...speculativeIssues(cfg)];
}
