/**
 * The server's command line and exit codes, apart from main.ts so they can be imported without
 * starting a server.
 */
import {availableParallelism} from 'node:os';
import {parseArgs} from 'node:util';
import {codedError, ExitCode} from '@lem/plugin-kit';
import type {ServerOptions} from './http.js';

/**
 * Exit codes of `dist/server/main.js`:
 *   0  clean shutdown after SIGTERM or SIGINT
 *   1  any other failure (out of memory, internal error)
 *   2  invalid model file (also one llama.cpp refuses to load) or invalid arguments
 *      (E_MODEL_NOT_FOUND, E_MODEL_INVALID, E_SERVER_ARGS, E_GPU_UNAVAILABLE, E_HOST_INVALID, E_PORT_DENIED)
 *   3  the port is already in use (E_PORT_IN_USE)
 */
export const ServerExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  portInUse: 3,
} as const;

/**
 * Threads when none are given: half the logical CPUs (about the physical cores), at least 1.
 * llama.cpp's own default oversubscribes small machines and collapses to a few tokens/s.
 */
export function defaultThreads(): number {
  return Math.max(1, Math.floor(availableParallelism() / 2));
}

const USAGE =
  'node dist/server/main.js --model FILE.gguf [--host 127.0.0.1] [--port 8080] [--threads N] [--parallel 4] [--context-size N] [--gpu-layers auto|max|N] [--batch-size N] [--flash-attention]';

function usageError(message: string): Error {
  return codedError({code: 'E_SERVER_ARGS', message, try: [USAGE], exitCode: ExitCode.usage});
}

function positiveInt(name: string, value: string | undefined, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) throw usageError(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(value)}`);
  return n;
}

/** Parses the server's command line. Throws `E_SERVER_ARGS` (exit 2) on anything wrong. */
export function parseServerArgs(argv: string[]): ServerOptions {
  let values;
  try {
    ({values} = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        model: {type: 'string'},
        host: {type: 'string', default: '127.0.0.1'},
        port: {type: 'string', default: '8080'},
        'context-size': {type: 'string'},
        parallel: {type: 'string', default: '4'},
        threads: {type: 'string'},
        'gpu-layers': {type: 'string', default: 'auto'},
        'batch-size': {type: 'string'},
        'flash-attention': {type: 'boolean', default: false},
      },
    }));
  } catch (error) {
    throw usageError((error as Error).message);
  }
  if (!values.model) throw usageError('--model is required');
  const gpuText = values['gpu-layers'];
  const gpuLayers = gpuText === 'auto' || gpuText === 'max' ? gpuText : positiveInt('gpu-layers', gpuText, 0)!;
  const options: ServerOptions = {
    modelPath: values.model,
    host: values.host,
    port: positiveInt('port', values.port, 0)!,
    parallel: positiveInt('parallel', values.parallel)!,
    threads: positiveInt('threads', values.threads) ?? defaultThreads(),
    gpuLayers,
    flashAttention: values['flash-attention'],
  };
  if (options.port > 65535) throw usageError(`--port must be at most 65535, got ${options.port}`);
  const contextSize = positiveInt('context-size', values['context-size'], 16);
  if (contextSize !== undefined) options.contextSize = contextSize;
  const batchSize = positiveInt('batch-size', values['batch-size']);
  if (batchSize !== undefined) options.batchSize = batchSize;
  return options;
}

