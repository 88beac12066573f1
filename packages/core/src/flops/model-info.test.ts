import {mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises';
import {createServer, type IncomingHttpHeaders, type Server} from 'node:http';
import type {AddressInfo} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {gguf as readGguf} from '@huggingface/gguf';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {encodeGguf, gguf, writeTinyModel, TINY_MODEL_SHAPE, type GgufTensor} from '../../../../plugins/backend-llamacpp/dist/index.js';
import {loadModelInfo, modelInfoFromConfigJson, modelInfoFromGguf, ModelInfoErrorCodes, type ModelInfo} from './model-info.js';

let dir: string;
let tinyPath: string;
/** Vocabulary size as the file states it, read independently of the code under test. */
let tinyVocab: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lem-flops-'));
  tinyPath = (await writeTinyModel(join(dir, 'tiny.gguf'))).path;
  const {metadata} = await readGguf(tinyPath, {allowLocalFile: true});
  tinyVocab = ((metadata as Record<string, unknown>)['tokenizer.ggml.tokens'] as string[]).length;
});
afterAll(async () => {
  await rm(dir, {recursive: true, force: true});
});

/** The tiny model by hand: 2 layers, n_embd 64, 4 heads (head_dim 16), 4 kv heads, n_ff 256, untied output. */
function tinyByHand(vocab: number) {
  const h = 64;
  const ff = 256;
  const perLayer = h /* attn_norm */ + 4 * h * h /* q, k, v, o */ + h /* ffn_norm */ + 3 * h * ff; /* gate, up, down */
  const nonEmbedding = 2 * perLayer + h; /* output_norm */
  const embedding = 2 * h * vocab; /* token_embd + output */
  return {nonEmbedding, embedding, total: nonEmbedding + embedding};
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await expect(promise).rejects.toMatchObject({code});
}

describe('modelInfoFromGguf', () => {
  it('counts the tiny model from its tensor shapes', async () => {
    const info = await modelInfoFromGguf(tinyPath);
    const byHand = tinyByHand(tinyVocab);
    expect(byHand.nonEmbedding).toBe(131_392);
    expect(info).toMatchObject<Partial<ModelInfo>>({
      source: 'gguf',
      architecture: 'llama',
      layers: TINY_MODEL_SHAPE.blockCount,
      hiddenSize: 64,
      heads: 4,
      kvHeads: 4,
      headDim: 16,
      ffnSize: 256,
      vocabSize: tinyVocab,
      contextLength: 256,
      tiedEmbeddings: false,
      totalParams: byHand.total,
      embeddingParams: byHand.embedding,
      nonEmbeddingParams: byHand.nonEmbedding,
      activeNonEmbeddingParams: byHand.nonEmbedding,
    });
    expect(info.experts).toBeUndefined();
  });

  it('counts elements, not bytes: an F16 file has the same counts', async () => {
    const f16 = (await writeTinyModel(join(dir, 'tiny-f16.gguf'), {weightType: 'F16'})).path;
    const a = await modelInfoFromGguf(tinyPath);
    const b = await modelInfoFromGguf(f16);
    expect({...b, origin: a.origin}).toEqual(a);
  });

  it('counts active parameters of an MoE file from the *_exps tensors, and a tied head once', async () => {
    const t = (name: string, dims: number[]): GgufTensor => ({name, dims, type: 'F32', data: new Float32Array(dims.reduce((x, y) => x * y, 1))});
    const path = join(dir, 'moe.gguf');
    await writeFile(
      path,
      encodeGguf({
        metadata: [
          ['general.architecture', gguf.str('qwen2moe')],
          ['qwen2moe.block_count', gguf.u32(1)],
          ['qwen2moe.embedding_length', gguf.u32(8)],
          ['qwen2moe.feed_forward_length', gguf.u32(32)],
          ['qwen2moe.attention.head_count', gguf.u32(2)],
          ['qwen2moe.expert_count', gguf.u32(4)],
          ['qwen2moe.expert_used_count', gguf.u32(2)],
        ],
        tensors: [
          t('token_embd.weight', [8, 10]),
          t('output_norm.weight', [8]),
          t('blk.0.attn_norm.weight', [8]),
          t('blk.0.attn_q.weight', [8, 8]),
          t('blk.0.attn_k.weight', [8, 8]),
          t('blk.0.attn_v.weight', [8, 8]),
          t('blk.0.attn_output.weight', [8, 8]),
          t('blk.0.ffn_norm.weight', [8]),
          t('blk.0.ffn_gate_inp.weight', [8, 4]),
          t('blk.0.ffn_gate_exps.weight', [8, 16, 4]),
          t('blk.0.ffn_up_exps.weight', [8, 16, 4]),
          t('blk.0.ffn_down_exps.weight', [16, 8, 4]),
        ],
      }),
    );
    const info = await modelInfoFromGguf(path);
    const nonExpert = 8 + 8 + 4 * 64 + 8 + 32; // norms, q k v o, router
    const expert = 3 * 8 * 16 * 4;
    expect(info).toMatchObject({
      tiedEmbeddings: true,
      embeddingParams: 80,
      nonEmbeddingParams: nonExpert + expert,
      totalParams: 80 + nonExpert + expert,
      experts: {count: 4, used: 2},
      activeNonEmbeddingParams: nonExpert + expert / 2,
      headDim: 4,
      vocabSize: 10,
      contextLength: null,
    });
  });

  it('refuses a file that is not a GGUF, a truncated one, and one without block_count', async () => {
    const bad = join(dir, 'bad.gguf');
    await writeFile(bad, 'this is not a gguf file at all');
    await expectCode(modelInfoFromGguf(bad), ModelInfoErrorCodes.invalid);

    const truncated = join(dir, 'truncated.gguf');
    await writeFile(truncated, (await readFile(tinyPath)).subarray(0, 3000));
    await expectCode(modelInfoFromGguf(truncated), ModelInfoErrorCodes.invalid);

    const noBlocks = join(dir, 'noblocks.gguf');
    await writeFile(
      noBlocks,
      encodeGguf({
        metadata: [['general.architecture', gguf.str('llama')], ['llama.embedding_length', gguf.u32(8)]],
        tensors: [{name: 'token_embd.weight', dims: [8, 4], type: 'F32', data: new Float32Array(32)}],
      }),
    );
    const error = await modelInfoFromGguf(noBlocks).catch((e: unknown) => e);
    expect(error).toMatchObject({code: ModelInfoErrorCodes.invalid, message: expect.stringContaining('llama.block_count')});

    await expectCode(modelInfoFromGguf(join(dir, 'absent.gguf')), 'E_FILE_NOT_FOUND');
  });
});

/** Llama-3.2-1B's published config.json, trimmed to the keys that matter. */
const LLAMA_32_1B = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 2048,
  num_hidden_layers: 16,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  head_dim: 64,
  intermediate_size: 8192,
  vocab_size: 128256,
  tie_word_embeddings: true,
  max_position_embeddings: 131072,
  attention_bias: false,
  mlp_bias: false,
  rope_scaling: {factor: 32, rope_type: 'llama3'},
};

const MIXTRAL_8X7B = {
  model_type: 'mixtral',
  hidden_size: 4096,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  intermediate_size: 14336,
  vocab_size: 32000,
  tie_word_embeddings: false,
  max_position_embeddings: 32768,
  num_local_experts: 8,
  num_experts_per_tok: 2,
};

describe('modelInfoFromConfigJson', () => {
  it('counts a Llama-3.2-1B-shaped model: ~0.97 B non-embedding, ~1.24 B total', () => {
    const info = modelInfoFromConfigJson(LLAMA_32_1B);
    // Per layer: q 2048² + k, v 2·2048·512 + o 2048² + MLP 3·2048·8192 + 2 norms.
    const perLayer = 2 * 2048 * 2048 + 2 * 2048 * 512 + 3 * 2048 * 8192 + 2 * 2048;
    expect(info.nonEmbeddingParams).toBe(16 * perLayer + 2048);
    expect(info.nonEmbeddingParams).toBe(973_146_112);
    expect(info.embeddingParams).toBe(128256 * 2048);
    expect(info.totalParams).toBe(1_235_814_400);
    expect(info.nonEmbeddingParams).toBeGreaterThan(0.97e9);
    expect(info.nonEmbeddingParams).toBeLessThan(1.0e9);
    expect(info.totalParams / 1e9).toBeCloseTo(1.24, 2);
    expect(info).toMatchObject({source: 'config.json', architecture: 'llama', headDim: 64, kvHeads: 8, tiedEmbeddings: true, contextLength: 131072});
    expect(info.activeNonEmbeddingParams).toBe(info.nonEmbeddingParams);
  });

  it('counts an untied head twice and derives head_dim from hidden/heads', () => {
    const info = modelInfoFromConfigJson({...LLAMA_32_1B, tie_word_embeddings: false, head_dim: undefined});
    expect(info.headDim).toBe(64);
    expect(info.embeddingParams).toBe(2 * 128256 * 2048);
  });

  it('counts a Mixtral-8x7B-shaped MoE: 46.7 B total, 12.9 B active', () => {
    const info = modelInfoFromConfigJson(MIXTRAL_8X7B);
    expect(info.experts).toEqual({count: 8, used: 2});
    expect(info.totalParams).toBe(46_702_792_704);
    expect(info.activeNonEmbeddingParams + info.embeddingParams).toBe(12_879_925_248);
    expect(info.activeNonEmbeddingParams).toBeLessThan(info.nonEmbeddingParams);
  });

  it('counts Qwen-MoE shared experts, dense layers and qkv biases exactly', () => {
    const h = 8;
    const info = modelInfoFromConfigJson({
      model_type: 'qwen2_moe',
      hidden_size: h,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      intermediate_size: 16,
      moe_intermediate_size: 4,
      shared_expert_intermediate_size: 6,
      num_experts: 4,
      num_experts_per_tok: 2,
      mlp_only_layers: [0],
      vocab_size: 10,
    });
    const attention = h * 8 + 2 * h * 4 + 8 * h + (8 + 2 * 4); // q, k, v, o + q,k,v biases
    const dense = attention + 2 * h + 3 * h * 16;
    const routed = 4 * 3 * h * 4;
    const moe = attention + 2 * h + h * 4 /* router */ + routed + 3 * h * 6 + h; /* shared expert + its gate */
    expect(info.nonEmbeddingParams).toBe(dense + moe + h);
    expect(info.activeNonEmbeddingParams).toBe(dense + moe + h - routed / 2);
    expect(info.tiedEmbeddings).toBe(false);
  });

  it('reads text_config of a multimodal config', () => {
    const info = modelInfoFromConfigJson({model_type: 'llava', text_config: LLAMA_32_1B, vision_config: {hidden_size: 1024}});
    expect(info.nonEmbeddingParams).toBe(973_146_112);
    expect(info.architecture).toBe('llama');
  });

  it('refuses missing keys (invalid) and architectures the formula does not fit (unsupported)', () => {
    expect(() => modelInfoFromConfigJson({model_type: 'llama', hidden_size: 2048})).toThrow(expect.objectContaining({code: ModelInfoErrorCodes.invalid}));
    expect(() => modelInfoFromConfigJson({...LLAMA_32_1B, vocab_size: -1})).toThrow(expect.objectContaining({code: ModelInfoErrorCodes.invalid}));
    expect(() => modelInfoFromConfigJson([])).toThrow(expect.objectContaining({code: ModelInfoErrorCodes.invalid}));
    expect(() => modelInfoFromConfigJson({...MIXTRAL_8X7B, num_experts_per_tok: undefined})).toThrow(expect.objectContaining({code: ModelInfoErrorCodes.invalid}));
    expect(() => modelInfoFromConfigJson({model_type: 'gpt2', n_embd: 768})).toThrow(expect.objectContaining({code: ModelInfoErrorCodes.unsupported}));
    expect(() => modelInfoFromConfigJson({...LLAMA_32_1B, model_type: 'deepseek_v3', kv_lora_rank: 512})).toThrow(
      expect.objectContaining({code: ModelInfoErrorCodes.unsupported}),
    );
  });
});

describe('loadModelInfo', () => {
  const env = {};

  it('reads a .gguf path relative to baseDir, a folder with config.json, and a folder with one GGUF', async () => {
    const fromFile = await loadModelInfo('tiny.gguf', {baseDir: dir, env});
    expect(fromFile).toMatchObject({available: true, info: {source: 'gguf', origin: tinyPath}});

    const configDir = join(dir, 'llama-1b');
    await mkdir(configDir);
    await writeFile(join(configDir, 'config.json'), JSON.stringify(LLAMA_32_1B));
    expect(await loadModelInfo('llama-1b', {baseDir: dir, env})).toMatchObject({available: true, info: {source: 'config.json', totalParams: 1_235_814_400}});
    expect(await loadModelInfo(join(configDir, 'config.json'), {baseDir: '/', env})).toMatchObject({available: true});

    const ggufDir = join(dir, 'one-gguf');
    await mkdir(ggufDir);
    await writeTinyModel(join(ggufDir, 'model.gguf'));
    expect(await loadModelInfo(ggufDir, {baseDir: dir, env})).toMatchObject({available: true, info: {source: 'gguf'}});
  });

  it('says why when nothing describes the model, and throws only for a malformed local file', async () => {
    const missing = await loadModelInfo('nowhere.gguf', {baseDir: dir, env});
    expect(missing).toMatchObject({available: false, reason: expect.stringContaining('does not exist')});
    expect(await loadModelInfo('llama3.2:1b', {baseDir: dir, env})).toMatchObject({available: false, reason: expect.stringContaining('not a hub id')});
    expect(await loadModelInfo('https://example.com/m.gguf', {baseDir: dir, env})).toMatchObject({available: false});
    expect(await loadModelInfo('org/model', {baseDir: dir, env: {HF_HUB_OFFLINE: '1'}})).toMatchObject({available: false, reason: expect.stringContaining('HF_HUB_OFFLINE')});

    const emptyDir = join(dir, 'empty');
    await mkdir(emptyDir);
    expect(await loadModelInfo(emptyDir, {baseDir: dir, env})).toMatchObject({available: false});

    const gpt2 = join(dir, 'gpt2');
    await mkdir(gpt2);
    await writeFile(join(gpt2, 'config.json'), JSON.stringify({model_type: 'gpt2', n_embd: 768, n_layer: 12}));
    expect(await loadModelInfo(gpt2, {baseDir: dir, env})).toMatchObject({available: false, reason: expect.stringContaining('gpt2')});

    const broken = join(dir, 'broken');
    await mkdir(broken);
    await writeFile(join(broken, 'config.json'), '{"hidden_size": 20');
    await expectCode(loadModelInfo(broken, {baseDir: dir, env}), ModelInfoErrorCodes.invalid);
    await writeFile(join(dir, 'garbage.gguf'), 'garbage');
    await expectCode(loadModelInfo('garbage.gguf', {baseDir: dir, env}), ModelInfoErrorCodes.invalid);
  });

  describe('from a hub (a real HTTP server on 127.0.0.1 as HF_ENDPOINT)', () => {
    let server: Server;
    let endpoint: string;
    const seen: Array<{url: string; headers: IncomingHttpHeaders}> = [];

    beforeAll(async () => {
      server = createServer((req, res) => {
        seen.push({url: req.url ?? '', headers: req.headers});
        if (req.url === '/meta-llama/Llama-3.2-1B/resolve/main/config.json') {
          res.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify(LLAMA_32_1B));
        } else if (req.url === '/old-org/renamed/resolve/main/config.json') {
          res.writeHead(307, {location: '/meta-llama/Llama-3.2-1B/resolve/main/config.json'}).end();
        } else if (req.url === '/org/login-page/resolve/main/config.json') {
          res.writeHead(200, {'content-type': 'text/html'}).end('<html>sign in</html>');
        } else if (req.url?.startsWith('/org/gated/')) {
          res.writeHead(401).end();
        } else {
          res.writeHead(404, {'content-type': 'text/plain'}).end('Entry not found');
        }
      });
      await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
      endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    });
    afterAll(async () => {
      await new Promise((done) => server.close(done));
    });

    it('fetches config.json for org/name, sending HF_TOKEN', async () => {
      const result = await loadModelInfo('meta-llama/Llama-3.2-1B', {baseDir: dir, env: {HF_ENDPOINT: endpoint, HF_TOKEN: 'hf_test'}});
      expect(result).toMatchObject({available: true, info: {source: 'config.json', totalParams: 1_235_814_400, origin: `${endpoint}meta-llama/Llama-3.2-1B/resolve/main/config.json`}});
      expect(seen.at(-1)?.headers.authorization).toBe('Bearer hf_test');
    });

    it('follows a redirect and drops a :quant tag', async () => {
      expect(await loadModelInfo('old-org/renamed:Q4_K_M', {baseDir: dir, env: {HF_ENDPOINT: endpoint}})).toMatchObject({available: true});
      expect(seen.at(-1)?.headers.authorization).toBeUndefined();
    });

    it('answers available: false with a reason for a 404, a 401 and a non-JSON answer', async () => {
      const notFound = await loadModelInfo('org/no-such-model', {baseDir: dir, env: {HF_ENDPOINT: endpoint}});
      expect(notFound).toMatchObject({available: false, reason: expect.stringMatching(/404.*no such model/)});
      expect(await loadModelInfo('org/gated', {baseDir: dir, env: {HF_ENDPOINT: endpoint}})).toMatchObject({available: false, reason: expect.stringContaining('HF_TOKEN')});
      expect(await loadModelInfo('org/login-page', {baseDir: dir, env: {HF_ENDPOINT: endpoint}})).toMatchObject({available: false, reason: expect.stringContaining('JSON')});
    });

    it('answers available: false when the endpoint cannot be reached', async () => {
      const closed = createServer();
      await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
      const port = (closed.address() as AddressInfo).port;
      await new Promise((done) => closed.close(done));
      const result = await loadModelInfo('org/model', {baseDir: dir, env: {HF_ENDPOINT: `http://127.0.0.1:${port}`}});
      expect(result).toMatchObject({available: false, reason: expect.stringContaining('could not fetch')});
    });
  });
});
