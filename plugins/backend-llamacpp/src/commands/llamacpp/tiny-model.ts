import {stat} from 'node:fs/promises';
import {resolve} from 'node:path';
import {Args, Flags} from '@oclif/core';
import {codedError, ExitCode} from '@lem/plugin-kit';
import {LlamacppCommand} from '../../command-base.js';
import {writeTinyModel, type TinyModelResult} from '../../gguf/tiny-model.js';

export default class TinyModel extends LlamacppCommand {
  static override summary = 'Write a tiny random-weight llama model (GGUF, under 1 MB) for tests and the quickstart.';
  static override description =
    'The model has 2 layers, 64-wide embeddings and a byte-fallback vocabulary: it generates gibberish, quickly, through the real llama.cpp paths. The same seed always writes the same bytes.';
  static override examples = ['<%= config.bin %> <%= command.id %> ./models/tiny.gguf --seed 1 --force'];
  static override enableJsonFlag = true;
  static override args = {
    out: Args.string({description: 'Path of the .gguf file to write.', required: true}),
  };
  static override flags = {
    seed: Flags.integer({description: 'Seed of the random weights.', default: 0, min: 0, max: 2 ** 32 - 1}),
    'weight-type': Flags.string({description: 'Element type of the weight matrices.', options: ['F32', 'F16'], default: 'F32'}),
    force: Flags.boolean({description: 'Overwrite the file if it exists.', default: false}),
  };

  public async run(): Promise<TinyModelResult> {
    const {args, flags} = await this.parse(TinyModel);
    const out = resolve(args.out);
    const existing = await stat(out).catch(() => undefined);
    if (existing?.isDirectory()) {
      throw codedError({code: 'E_FILE_EXISTS', message: `${out} is a directory`, try: [`lem llamacpp tiny-model ${args.out.replace(/\/+$/, '')}/tiny.gguf`], exitCode: ExitCode.usage});
    }
    if (existing && !flags.force) {
      throw codedError({
        code: 'E_FILE_EXISTS',
        message: `${out} already exists`,
        try: [`lem llamacpp tiny-model ${args.out} --force   (overwrite it)`, 'choose another path'],
        exitCode: ExitCode.usage,
      });
    }
    const result = await writeTinyModel(out, {seed: flags.seed, weightType: flags['weight-type'] as 'F32' | 'F16'});
    this.log(`Wrote ${result.path}`);
    this.log(`  size    ${result.bytes} bytes`);
    this.log(`  sha256  ${result.sha256}`);
    return result;
  }
}
