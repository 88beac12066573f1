/**
 * Cross-field rules of the `pytorch:` section against the experiment: what transformers serve 5.15.0
 * would refuse (or fail on) after minutes of loading, settings it would accept while ignoring, and
 * GPUs it cannot use. Pure.
 */
import type {CheckContext, ConfigIssue} from '@lem/plugin-kit';
import {CB_KEYS, PAGED_ATTN_IMPLEMENTATIONS, type PytorchConfig} from './schema.js';

/** A checkpoint given as one weights file; transformers serve loads a folder or a hub id. */
const SINGLE_FILE = /\.(gguf|safetensors|bin|pt|pth)$/i;

/**
 * transformers serve has no tensor or pipeline parallelism: `--device` is from_pretrained's
 * device_map. One GPU named while the experiment gives more leaves the others idle, a GPU index past
 * the ones given does not exist in the container, and continuous batching sizes and allocates its
 * paged KV cache on one GPU (torch.device("cuda") and model.device, generation/continuous_batching/
 * requests.py and continuous_api.py) while device_map auto spreads the layers over all of them.
 */
function deviceIssues(cfg: PytorchConfig, ctx: CheckContext): ConfigIssue[] {
  const n = ctx.gpus;
  const index = /^cuda:(\d+)$/.exec(cfg.device)?.[1];
  if (index !== undefined && Number(index) >= n) {
    return [{path: ['device'], message: `device ${cfg.device} is not one of the ${n} GPU(s) the experiment gives the server (cuda:0 to cuda:${n - 1} in the container)`, try: `use a device from cuda:0 to cuda:${n - 1}, or device: auto`}];
  }
  if (cfg.device !== 'auto' && n > 1) {
    return [
      {
        path: ['device'],
        message: `device ${cfg.device} puts the whole model on one GPU, but the experiment gives the server ${n}: the other ${n - 1} would idle through the measurement`,
        try: `give the experiment 1 GPU, or set device: auto to spread the layers over all ${n}`,
      },
    ];
  }
  if (cfg.continuous_batching && n > 1) {
    return [
      {
        path: ['continuous_batching'],
        message: `continuous batching keeps its paged KV cache on one GPU, but with device auto and ${n} GPUs the model's layers are spread over all of them`,
        try: 'give the experiment 1 GPU, or turn continuous_batching off to serve the spread-out model with generate()',
      },
    ];
  }
  return [];
}

/** Settings that only the other generation path reads. */
function pathIssues(cfg: PytorchConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (!cfg.continuous_batching) {
    for (const key of CB_KEYS) {
      if (cfg[key] !== undefined) issues.push({path: [key], message: `${key} applies to continuous batching only, and continuous_batching is off`, try: `set continuous_batching: true, or remove ${key}`});
    }
    return issues;
  }
  // GenerationState._compile only gives generate() a static cache; the continuous-batching manager
  // compiles from the model config's compile_config, not from --compile.
  if (cfg.compile) {
    issues.push({path: ['compile'], message: 'compile has no effect with continuous batching: it only gives the sequential generate() path a static, compiled KV cache', try: 'remove compile, or turn continuous_batching off'});
  }
  const attn = cfg.attn_implementation;
  if (attn !== undefined && !(PAGED_ATTN_IMPLEMENTATIONS as readonly string[]).includes(attn)) {
    issues.push({
      path: ['attn_implementation'],
      message: `continuous batching runs a paged attention kernel, which transformers 5.15.0 has for ${PAGED_ATTN_IMPLEMENTATIONS.join(' and ')} (and flash attention), not for ${attn}`,
      try: `choose attn_implementation ${PAGED_ATTN_IMPLEMENTATIONS.join(' or ')}, or turn continuous_batching off`,
    });
  }
  return issues;
}

export function checkConfig(cfg: PytorchConfig, ctx: CheckContext): ConfigIssue[] {
  const issues = [...deviceIssues(cfg, ctx), ...pathIssues(cfg)];

  const served = cfg.model_path ?? ctx.model;
  if (SINGLE_FILE.test(served)) {
    const where = cfg.model_path === undefined ? "the experiment's model" : 'model_path';
    issues.push({path: ['model_path'], message: `${where} ${served} is a single weights file, but transformers serve loads a model folder (config, tokenizer and weights) or a hub id`, try: "set model_path to the model's folder or hub id"});
  }

  // ReasoningMode becomes the chat template's enable_thinking; /v1/completions applies no template.
  if (cfg.reasoning !== 'auto' && ctx.workload.api === 'completions') {
    issues.push({path: ['reasoning'], message: `reasoning ${cfg.reasoning} is applied through the chat template, which the completions API (raw prompts) does not use`, try: 'set workload.api to chat, or remove reasoning'});
  }
  return issues;
}
