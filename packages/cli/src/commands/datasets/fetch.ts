import {join} from 'node:path';
import {Args, Flags} from '@oclif/core';
import {fetchAienergyscore} from '@lem/core';
import {LemCommand} from '../../base-command.js';

export default class DatasetsFetch extends LemCommand<typeof DatasetsFetch> {
  static override summary = 'Download a hub dataset once into the cache, so experiments can use it offline.';
  static override description =
    'Fetches the pinned revision from the Hugging Face Hub (or the mirror in HF_ENDPOINT; a token from HF_TOKEN) into lem\'s cache. Experiments never download: an uncached dataset fails before anything starts.';
  static override examples = ['<%= config.bin %> datasets fetch aienergyscore', 'HF_ENDPOINT=http://127.0.0.1:8080 <%= config.bin %> datasets fetch aienergyscore --revision main'];

  static override args = {
    name: Args.string({description: 'The dataset.', required: true, options: ['aienergyscore']}),
  };

  static override flags = {
    revision: Flags.string({description: 'Revision to fetch (default: the one lem pins).'}),
  };

  public async run(): Promise<unknown> {
    const cacheDir = join(this.config.cacheDir, 'datasets');
    const fetched = await fetchAienergyscore({cacheDir, revision: this.flags.revision, endpoint: process.env.HF_ENDPOINT, token: process.env.HF_TOKEN});
    this.say(`Fetched ${this.args.name} into ${cacheDir}`);
    return fetched;
  }
}
