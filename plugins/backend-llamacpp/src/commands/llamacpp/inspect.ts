import {Args, Flags} from '@oclif/core';
import {LlamacppCommand} from '../../command-base.js';
import {inspectGguf, type GgufSummary} from '../../gguf/validate.js';

export default class Inspect extends LlamacppCommand {
  static override summary = "Validate a GGUF model file and print its header summary (shape, vocabulary, parameter counts).";
  static override description =
    'Reads only the header, in JavaScript, so a malformed file is reported (E_MODEL_INVALID) instead of crashing llama.cpp. Parameter counts come from the tensor shapes.';
  static override examples = ['<%= config.bin %> <%= command.id %> ./models/tiny.gguf --sha256 --json'];
  static override enableJsonFlag = true;
  static override args = {
    gguf: Args.string({description: 'Path of the .gguf file.', required: true}),
  };
  static override flags = {
    sha256: Flags.boolean({description: 'Also compute the sha256 of the whole file (reads every byte).', default: false}),
  };

  public async run(): Promise<GgufSummary> {
    const {args, flags} = await this.parse(Inspect);
    const s = await inspectGguf(args.gguf, {sha256: flags.sha256});
    const rows: Array<[string, string | number | boolean | undefined]> = [
      ['architecture', s.architecture],
      ['name', s.name],
      ['gguf version', s.ggufVersion],
      ['file size', `${s.fileSizeBytes} bytes`],
      ['sha256', s.sha256],
      ['context length', s.contextLength],
      ['embedding length', s.embeddingLength],
      ['blocks', s.blockCount],
      ['heads (kv)', `${s.headCount} (${s.headCountKv})`],
      ['feed-forward length', s.feedForwardLength],
      ['experts (used)', s.expertCount === undefined ? undefined : `${s.expertCount} (${s.expertUsedCount ?? '?'})`],
      ['vocabulary', `${s.vocabSize} (${s.tokenizerModel})`],
      ['chat template', s.hasChatTemplate],
      ['parameters', s.parameterCount],
      ['non-embedding', s.nonEmbeddingParameterCount],
      ['active per token', s.activeParameterCount],
      ['tensors', s.tensorCount],
    ];
    this.log(`${s.path} is a valid GGUF model`);
    for (const [label, value] of rows) if (value !== undefined) this.log(`  ${label.padEnd(20)}${String(value)}`);
    return s;
  }
}
