import {describe, expect, it} from 'vitest';
import {checkArgs, parseCliReference, parseHelpText} from './testing.js';

const ARGPARSE = `usage: vllm serve [model_tag] [options]

options:
  --dtype {auto,bfloat16,float,float16,float32,half}
                        Data type for model weights and activations. (default: auto)
  --max-num-seqs MAX_NUM_SEQS, --max_num_seqs MAX_NUM_SEQS
                        Maximum number of sequences per iteration. (default: None)
  --gpu-memory-utilization GPU_MEMORY_UTILIZATION
                        The fraction of GPU memory. (default: 0.9)
  --tensor-parallel-size TENSOR_PARALLEL_SIZE, -tp TENSOR_PARALLEL_SIZE
                        Number of tensor parallel groups. (default: 1)
  --enforce-eager, --no-enforce-eager
                        Whether to always use eager-mode PyTorch. (default: False)
  --speculative-config SPECULATIVE_CONFIG  The configurations for speculative decoding.
`;

const CLICK = `Usage: trtllm-serve serve [OPTIONS] MODEL

Options:
  --tp_size INTEGER               Tensor parallelism size.  [default: 1]
  --kv_cache_free_gpu_memory_fraction FLOAT
                                  Free GPU memory fraction reserved for KV Cache.
  --backend [pytorch|tensorrt|_autodeploy]
                                  The backend to use.
  --trust_remote_code             Flag for HF transformers.
  --extra_llm_api_options TEXT    Path to a YAML file.
  --enable_chunked_prefill / --disable_chunked_prefill
                                  Chunked prefill.
`;

describe('CLI reference snapshots', () => {
  it('reads argparse help: choices, values, switches, pairs, aliases and shown defaults', () => {
    const flags = parseHelpText(ARGPARSE);
    expect(flags.get('--dtype')).toEqual({kind: 'value', choices: ['auto', 'bfloat16', 'float', 'float16', 'float32', 'half']});
    expect(flags.get('--max_num_seqs')).toEqual({kind: 'value'});
    expect(flags.get('--gpu-memory-utilization')).toEqual({kind: 'value', type: 'float'});
    expect(flags.get('-tp')).toEqual({kind: 'value', type: 'int'});
    expect(flags.get('--no-enforce-eager')).toEqual({kind: 'switch'});
    expect(flags.get('--speculative-config')).toEqual({kind: 'value'});
  });

  it('reads click help: typed metavars, choices and on/off pairs', () => {
    const flags = parseHelpText(CLICK);
    expect(flags.get('--tp_size')).toEqual({kind: 'value', type: 'int'});
    expect(flags.get('--kv_cache_free_gpu_memory_fraction')).toEqual({kind: 'value', type: 'float'});
    expect(flags.get('--backend')).toEqual({kind: 'value', choices: ['pytorch', 'tensorrt', '_autodeploy']});
    expect(flags.get('--trust_remote_code')).toEqual({kind: 'switch'});
    expect(flags.get('--disable_chunked_prefill')).toEqual({kind: 'switch'});
  });

  it('gives every spelling of a click option the value its help shows once, after the last spelling', () => {
    const flags = parseHelpText('Options:\n  --tensor_parallel_size, --tp_size INTEGER\n                                  Tensor parallelism size.\n  --config, --extra_llm_api_options TEXT\n                                  Path to a YAML file.\n  -h, --help  Show this message and exit.\n');
    expect(flags.get('--tensor_parallel_size')).toEqual({kind: 'value', type: 'int'});
    expect(flags.get('--tp_size')).toEqual({kind: 'value', type: 'int'});
    expect(flags.get('--config')).toEqual({kind: 'value', type: 'string'});
    expect(flags.get('--extra_llm_api_options')).toEqual({kind: 'value', type: 'string'});
    expect(flags.get('-h')).toEqual({kind: 'switch'});
  });

  it('finds unknown flags, missing values, switches with values and values of the wrong kind', () => {
    const flags = parseHelpText(ARGPARSE + CLICK);
    expect(checkArgs(['--dtype', 'half', '-tp', '2', '--enforce-eager', '--gpu-memory-utilization=0.85'], flags)).toEqual([]);
    expect(checkArgs(['--dtype', 'fp9', '--tp_size', '1.5', '--max-seqs', '3', '--enforce-eager=1', '--gpu-memory-utilization', 'lots', '--tensor-parallel-size'], flags)).toEqual([
      '--dtype fp9: not one of auto, bfloat16, float, float16, float32, half',
      '--tp_size 1.5: not an integer',
      '--max-seqs: not in the reference',
      '3: a value with no flag before it',
      '--enforce-eager: a switch given a value',
      '--gpu-memory-utilization lots: not a number',
      '--tensor-parallel-size: needs a value',
    ]);
  });

  it('refuses a snapshot whose header does not say its engine, version and source', () => {
    expect(() => parseCliReference(`# engine: vllm\n# version: 0.11.0\n${ARGPARSE}`)).toThrow('"# source:"');
    const ref = parseCliReference(`# engine: vllm\n# version: 0.11.0\n# source: https://example.org/x\n${ARGPARSE}`);
    expect(ref.header.version).toBe('0.11.0');
    expect(ref.flags.size).toBeGreaterThan(5);
  });
});
