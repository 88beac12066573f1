/**
 * The prompts step, once the server runs: the request template, and the prompt lists made with
 * the server's own tokenizer where it has one — prompts cut to `max_input_tokens`, synthetic
 * prompts of exactly `input_tokens` tokens — and the warm-up prompts, disjoint from the measured.
 */
import {Agent} from 'node:http';
import {exactSyntheticPrompts, truncateToTokens, warmupPrompts, type Tokenizer} from '../datasets/index.js';
import {runError} from '../errors.js';
import type {Prompt, RequestTemplate} from '../workload/index.js';
import type {PromptsInfo} from '../results/result.js';
import type {Run} from './context.js';
import type {Server} from './launch.js';
import type {RunPlan} from './preflight.js';
import type {Client} from './requests.js';

/** The server's llama.cpp-style tokenizer: `POST tokenizePath {content}` and its `/detokenize` sibling. */
export function tokenizerOf(baseUrl: string, tokenizePath: string, signal?: AbortSignal): Tokenizer {
  const detokenizePath = tokenizePath.replace(/tokenize$/, 'detokenize');
  const post = async (path: string, body: unknown) => {
    // An absolute path resolves against the server's origin, whatever path the base URL has (`/v1`).
    const res = await fetch(new URL(path, baseUrl), {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body), signal});
    if (!res.ok) throw runError('E_TOKENIZE_FAILED', `${path} answered ${res.status}`, ['check that the backend serves a llama.cpp-style tokenizer'], 'runtime');
    return res.json() as Promise<Record<string, unknown>>;
  };
  return {
    tokenize: async (text: string) => (await post(tokenizePath, {content: text})).tokens as number[],
    detokenize: async (tokens: number[]) => (await post(detokenizePath, {tokens})).content as string,
  };
}

/** How many warm-up prompts the warm-up and the re-warm draw from. */
function warmupCount(run: Run): number {
  const w = run.settings.warmup;
  return Math.max(w.mode === 'fixed' ? w.requests : 1, run.settings.workload.concurrency, 1);
}

export async function prepareRequests(run: Run, plan: RunPlan, server: Server): Promise<Client> {
  const {settings} = run;
  const spec = server.spec;
  // Fixed output length: the backend says how (its request extras); an endpoint gets the common `ignore_eos`.
  const extras = settings.workload.fixed_output_length ? (plan.server ? (spec?.requestExtras ?? plan.server.offers.requestExtras ?? {}) : {ignore_eos: true}) : {};
  const tokenizePath = spec?.tokenizePath ?? plan.server?.offers.tokenizePath;
  const template: RequestTemplate = {
    baseUrl: server.baseUrl,
    api: settings.workload.api,
    // The name the server was started with (the readiness probe's too): engines that check it (vLLM, SGLang) serve exactly that.
    model: plan.server ? plan.modelRef : settings.model,
    maxTokens: settings.workload.max_output_tokens,
    temperature: settings.workload.temperature,
    seed: settings.workload.seed,
    extras,
    timeoutMs: settings.workload.request_timeout_s * 1000,
    apiKey: settings.api_key_env ? run.env[settings.api_key_env] : undefined,
    tokenizePath,
  };
  const tokenizer = tokenizePath ? tokenizerOf(server.baseUrl, tokenizePath, run.abort.signal) : null;
  const warm = warmupPrompts(plan.prompts, warmupCount(run));
  const {measure, warmup, lengths, truncated} = await sized(run, plan, tokenizer, warm.prompts);
  if (lengths === 'approximate') {
    run.warn({code: 'W_APPROXIMATE_PROMPT_LENGTHS', message: `synthetic prompts are ${(settings.dataset as {input_tokens: number}).input_tokens} common words each, about as many tokens: this server offers no tokenizer to make them exact`});
  }
  const info: PromptsInfo = {measure: {count: measure.length, lengths, truncated}, warmup: {count: warmup.length, source: warm.source, description: warm.description}};
  return {template, measure, warmup, info, agent: new Agent({keepAlive: true, maxSockets: Math.max(64, settings.workload.concurrency * 2)})};
}

/** The measured and warm-up prompts at their lengths: cut or drawn by the server's tokenizer where it has one. */
async function sized(run: Run, plan: RunPlan, tokenizer: Tokenizer | null, warm: Prompt[]): Promise<{measure: Prompt[]; warmup: Prompt[]; lengths: PromptsInfo['measure']['lengths']; truncated: number | null}> {
  const dataset = run.settings.dataset;
  const plain = (list: readonly {index: number; text: string}[]) => list.map((p) => ({index: p.index, text: p.text}));
  if (dataset.kind === 'synthetic') {
    if (!tokenizer) return {measure: plain(plan.prompts.measure), warmup: plain(warm), lengths: 'approximate', truncated: null};
    const measure = await exactSyntheticPrompts(dataset, tokenizer);
    const warmup = await truncateToTokens(warm, dataset.input_tokens, tokenizer);
    return {measure: plain(measure), warmup: plain(warmup), lengths: 'exact', truncated: null};
  }
  const max = dataset.max_input_tokens;
  if (max === undefined) return {measure: plain(plan.prompts.measure), warmup: plain(warm), lengths: 'as-given', truncated: null};
  // Preflight refused max_input_tokens without a tokenizer.
  const measure = await truncateToTokens(plan.prompts.measure, max, tokenizer!);
  const warmup = await truncateToTokens(warm, max, tokenizer!);
  return {measure: plain(measure), warmup: plain(warmup), lengths: 'as-given', truncated: measure.filter((p) => p.truncated).length};
}
