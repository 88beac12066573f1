import {spawn, spawnSync} from 'node:child_process';
import {Flags} from '@oclif/core';
import {LlamacppCommand} from '../../command-base.js';
import {inspectGguf} from '../../gguf/validate.js';
import {SERVER_MAIN_PATH} from '../../index.js';
import {defaultThreads, ServerExitCode} from '../../server/options.js';

export default class Serve extends LlamacppCommand {
  static override summary = 'Run the embedded OpenAI-compatible llama.cpp server in the foreground until Ctrl+C.';
  static override description =
    'Serves /v1/completions, /v1/chat/completions (streaming or not), /tokenize, /detokenize, /v1/models, /version and /health. The model runs in a child process, as it does under lem. Exit codes: 0 stopped by Ctrl+C or SIGTERM, 1 failure, 2 invalid model or arguments, 3 port in use.';
  static override examples = ['<%= config.bin %> <%= command.id %> --model ./models/tiny.gguf --port 8080 --threads 2 --parallel 4'];
  static override flags = {
    model: Flags.string({description: 'GGUF model file to serve.', required: true}),
    host: Flags.string({description: 'Address to listen on.', default: '127.0.0.1'}),
    port: Flags.integer({description: 'TCP port (0 picks a free one).', default: 8080, min: 0, max: 65535}),
    threads: Flags.integer({description: 'CPU threads for evaluation (default: half the logical CPUs).', min: 1}),
    parallel: Flags.integer({description: 'Requests decoded together (sequences of one context).', default: 4, min: 1}),
    'context-size': Flags.integer({description: "Context per sequence, tokens (default: the model's, capped at 4096).", min: 16}),
    'gpu-layers': Flags.string({description: 'Layers on the GPU: a count, max, or auto (GPU when usable, else CPU).', default: 'auto'}),
    'batch-size': Flags.integer({description: 'Tokens per llama.cpp batch.', min: 1}),
    'flash-attention': Flags.boolean({description: 'Use flash attention where supported.', default: false}),
  };

  public async run(): Promise<void> {
    const {flags} = await this.parse(Serve);
    // Validate here too, so a bad file is reported by this command without starting anything.
    await inspectGguf(flags.model);
    const argv = [
      SERVER_MAIN_PATH,
      '--model',
      flags.model,
      '--host',
      flags.host,
      '--port',
      String(flags.port),
      '--threads',
      String(flags.threads ?? defaultThreads()),
      '--parallel',
      String(flags.parallel),
      '--gpu-layers',
      flags['gpu-layers'],
    ];
    if (flags['context-size'] !== undefined) argv.push('--context-size', String(flags['context-size']));
    if (flags['batch-size'] !== undefined) argv.push('--batch-size', String(flags['batch-size']));
    if (flags['flash-attention']) argv.push('--flash-attention');

    // The server must not outlive this command, even when it is killed with SIGKILL: setpriv's
    // parent-death signal (util-linux) does that; without setpriv, only the signals forwarded below.
    const setpriv = spawnSync('setpriv', ['--help'], {stdio: 'ignore'}).status === 0;
    const child = setpriv
      ? spawn('setpriv', ['--pdeathsig', 'SIGTERM', '--', process.execPath, ...argv], {stdio: 'inherit'})
      : spawn(process.execPath, argv, {stdio: 'inherit'});
    // Ctrl+C reaches the server through the terminal's process group; forward only what does not.
    const ignore = () => {};
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
    const onTerm = forward('SIGTERM');
    const onHup = forward('SIGTERM');
    process.on('SIGINT', ignore);
    process.on('SIGTERM', onTerm);
    process.on('SIGHUP', onHup);
    const code = await new Promise<number>((resolve) => {
      child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 128 + 15 : 1)));
      child.on('error', () => resolve(ServerExitCode.failure));
    });
    process.off('SIGINT', ignore);
    process.off('SIGTERM', onTerm);
    process.off('SIGHUP', onHup);
    if (code === ServerExitCode.ok) {
      this.log('Server stopped.');
      return;
    }
    this.exit(code);
  }
}
