/**
 * An ESTIMATE of the floating-point operations a decoder-only transformer spends serving requests
 * (DESIGN §6), from its shape and the token counts. Inference, not training: one forward pass per
 * token, ≈ 2 FLOPs per weight (a multiply-add), not the 6·N·T training rule.
 *
 * For one request with p prompt tokens and n output tokens, N active non-embedding parameters,
 * L layers, attention width A = heads × headDim, hidden size h and vocabulary V:
 *
 *   prefill = 2·N·p                      every prompt token through every block's matmuls
 *           + 2·L·A·p·(p+1)              causal attention: the token at position j (1…p) attends
 *                                        to j keys, QKᵀ and AV each 2·A·j per layer, Σ 4·L·A·j
 *           + 2·h·V                      LM head for the LAST prompt position only (it yields the
 *                                        first output token; servers skip the other prompt logits)
 *   decode  = Σ_{i=1}^{n−1} [2·N + 4·L·A·(p+i) + 2·h·V]
 *           = (n−1)·(2·N + 2·h·V) + 2·L·A·(n−1)·(2p+n)
 *                                        output tokens 1…n−1 are fed back one at a time; the one
 *                                        at position p+i attends to p+i keys (itself included);
 *                                        the last output token is never fed back
 *
 * so every output token costs one LM head (2·h·V) and p + n − 1 tokens pass through the blocks.
 * MoE models use active parameters (non-expert + used/count × expert). The LM head is separate
 * from N (embeddingParams are excluded from N) and is counted whether or not it is tied.
 *
 * Left out, so this is a lower bound on what a server does: norms, activations, softmax, RoPE,
 * sampling; and an upper bound where a server saves work: prefix caching (cached prompt tokens
 * are counted as computed), sliding-window attention (counted as full attention). Speculative
 * decoding's draft and rejected tokens are not counted.
 */
import type {ModelInfo} from './model-info.js';

/** What the estimate needs from a model; a whole {@link ModelInfo} fits. */
export type FlopsModel = Pick<ModelInfo, 'layers' | 'heads' | 'headDim' | 'hiddenSize' | 'vocabSize' | 'activeNonEmbeddingParams'>;

/** Token counts of one request; `RequestRecord` fits. */
export interface TokenCounts {
  promptTokens: number | null;
  outputTokens: number | null;
}

export type FlopsEstimate =
  | {
      available: true;
      /** Always true: a figure from a formula, never a measurement. */
      estimated: true;
      prefillFlops: number;
      decodeFlops: number;
      totalFlops: number;
      /** `totalFlops / outputTokens`, null when no output token was generated. */
      perOutputToken: number | null;
      requests: number;
      promptTokens: number;
      outputTokens: number;
      /** The formula in words, with the model's values filled in. */
      method: string;
    }
  | {available: false; reason: 'no-requests' | 'no-token-counts'; detail: string};

/** Attention width: query heads × per-head dimension. */
const attentionWidth = (m: FlopsModel): number => m.heads * m.headDim;

/** FLOPs of one request's prefill (p prompt tokens, n output tokens). */
export function prefillFlops(m: FlopsModel, p: number, n: number): number {
  if (p <= 0) return 0;
  const lmHead = n >= 1 ? 2 * m.hiddenSize * m.vocabSize : 0;
  return 2 * m.activeNonEmbeddingParams * p + 2 * m.layers * attentionWidth(m) * p * (p + 1) + lmHead;
}

/** FLOPs of one request's decode steps (n − 1 of them after a p-token prompt). */
export function decodeFlops(m: FlopsModel, p: number, n: number): number {
  if (n <= 1) return 0;
  const steps = n - 1;
  return steps * (2 * m.activeNonEmbeddingParams + 2 * m.hiddenSize * m.vocabSize) + 2 * m.layers * attentionWidth(m) * steps * (2 * p + n);
}

const isCount = (v: number | null): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/**
 * Sums the estimate over requests (the caller picks which: usually the measure window's completed
 * requests). Pure. Any request without both token counts makes the whole figure unavailable
 * (`no-token-counts`) rather than a silent undercount. Numbers are doubles: exact integers up to
 * 2^53 ≈ 9·10^15, relative error ~1e-16 beyond.
 */
export function estimateFlops(model: FlopsModel, requests: readonly TokenCounts[]): FlopsEstimate {
  if (requests.length === 0) return {available: false, reason: 'no-requests', detail: 'no requests to estimate FLOPs for'};
  const lacking = requests.filter((r) => !isCount(r.promptTokens) || !isCount(r.outputTokens)).length;
  if (lacking > 0) {
    return {
      available: false,
      reason: 'no-token-counts',
      detail: `${lacking} of ${requests.length} requests have no prompt or output token count (the server sent no usage and no tokenizer was available)`,
    };
  }
  let prefill = 0;
  let decode = 0;
  let promptTokens = 0;
  let outputTokens = 0;
  for (const r of requests) {
    const p = r.promptTokens as number;
    const n = r.outputTokens as number;
    prefill += prefillFlops(model, p, n);
    decode += decodeFlops(model, p, n);
    promptTokens += p;
    outputTokens += n;
  }
  const total = prefill + decode;
  return {
    available: true,
    estimated: true,
    prefillFlops: prefill,
    decodeFlops: decode,
    totalFlops: total,
    perOutputToken: outputTokens > 0 ? total / outputTokens : null,
    requests: requests.length,
    promptTokens,
    outputTokens,
    method: describeFlopsMethod(model),
  };
}

/** The formula in words with the model's values, for result.json and the report. */
export function describeFlopsMethod(m: FlopsModel): string {
  return (
    'Estimate, forward passes only (2 FLOPs per multiply-add). Per request with p prompt and n output tokens: ' +
    'prefill = 2·N·p + 2·L·A·p·(p+1) + 2·h·V (matmuls, causal attention QKᵀ and AV, LM head for the last prompt position only); ' +
    'decode = (n−1)·(2·N + 2·h·V) + 2·L·A·(n−1)·(2p+n) (output tokens 1…n−1 fed back one at a time, each attending to all earlier tokens). ' +
    `N = ${m.activeNonEmbeddingParams} active non-embedding parameters, L = ${m.layers} layers, A = heads × headDim = ${attentionWidth(m)}, ` +
    `h = ${m.hiddenSize}, V = ${m.vocabSize}. Not counted: norms, activations, softmax; prefix caching and sliding windows are ignored (full prompt, full attention).`
  );
}
