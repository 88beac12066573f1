#!/usr/bin/env node
/**
 * Entry of the embedded llama.cpp server: `node dist/server/main.js --model FILE --port N ...`.
 *
 * Prints one `listening on http://HOST:PORT` line on stdout once the model is loaded; everything
 * else goes to stderr. Exit codes ({@link ServerExitCode}):
 *   0  clean shutdown after SIGTERM or SIGINT
 *   1  any other failure (out of memory, internal error)
 *   2  invalid model file (also one llama.cpp refuses to load) or invalid arguments
 *      (E_MODEL_NOT_FOUND, E_MODEL_INVALID, E_SERVER_ARGS, E_GPU_UNAVAILABLE, …)
 *   3  the port is already in use (E_PORT_IN_USE)
 * A coded error is printed as `Error E_CODE: message` plus `Try:` lines, never as a stack trace.
 */
import {ExitCode, formatCodedError, isCodedError} from '@lem/plugin-kit';
import {startServer, type RunningServer} from './http.js';
import {parseServerArgs, ServerExitCode} from './options.js';

function exitCodeFor(error: unknown): number {
  if (!isCodedError(error)) return ServerExitCode.failure;
  if (error.code === 'E_PORT_IN_USE') return ServerExitCode.portInUse;
  return error.exitCode === ExitCode.usage ? ServerExitCode.usage : ServerExitCode.failure;
}

function report(error: unknown): void {
  if (isCodedError(error)) {
    process.stderr.write(`${formatCodedError(error)}\n`);
    return;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`Error E_SERVER_FAILED: ${message}\nTry: run again with LEM_DEBUG=1 for details\n`);
  if (process.env.LEM_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
}

async function main(argv = process.argv.slice(2)): Promise<void> {
  let running: RunningServer | undefined;
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`received ${signal} again: exiting now\n`);
      process.exit(ServerExitCode.ok);
    }
    stopping = true;
    process.stderr.write(`received ${signal}: shutting down\n`);
    // Never hang on shutdown: whatever is still running after this is dropped.
    setTimeout(() => process.exit(ServerExitCode.ok), 3_000).unref();
    void (async () => {
      await running?.close().catch(() => {});
      process.exit(ServerExitCode.ok);
    })();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('uncaughtException', (error) => {
    report(error);
    process.exit(ServerExitCode.failure);
  });
  process.on('unhandledRejection', (error) => {
    report(error);
    process.exit(ServerExitCode.failure);
  });

  try {
    const options = parseServerArgs(argv);
    running = await startServer({...options, log: (line) => process.stderr.write(`${line}\n`)});
  } catch (error) {
    if (stopping) return; // a signal arrived during startup: its handler exits 0
    report(error);
    process.exit(exitCodeFor(error));
  }
  if (stopping) {
    await running.close().catch(() => {});
    process.exit(ServerExitCode.ok);
  }
  const e = running.engine;
  process.stderr.write(
    `model ${e.modelId}: ${running.summary.parameterCount} parameters, context ${e.contextSize} × ${e.parallel} sequences, ${e.threads} threads, gpu ${e.llama.gpu || 'none'}\n`,
  );
  process.stdout.write(`listening on ${running.url}\n`);
}

await main();
