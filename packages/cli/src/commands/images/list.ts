import {imageList, pingEngine, type ImageStatus} from '@lem/core';
import {LemCommand} from '../../base-command.js';
import {dim, table} from '../../render.js';
import {engineOf} from '../../results-dir.js';

export interface ImagesListResult {
  /** The engine's address, as configured. */
  host: string;
  images: ImageStatus[];
  /** Registered backends that have no image (they cannot run under the docker runner). */
  withoutImage: Array<{backend: string; plugin: string}>;
}

export default class ImagesList extends LemCommand<typeof ImagesList> {
  static override summary = "List every backend's container image: whether the engine has it, its size, the plugin version it was built from, and whether it is stale.";
  static override description =
    'One inspect per image on the Docker engine (docker.host of .lem-config.yaml, else $DOCKER_HOST). An image is stale when it was built from another plugin version or another Dockerfile than the installed plugin has (labels lem.plugin.version and lem.dockerfile.hash); `lem images build <backend>` rebuilds it.';
  static override examples = ['<%= config.bin %> images list', '<%= config.bin %> images list --json'];

  public async run(): Promise<ImagesListResult> {
    const registry = await this.registry();
    const engine = await engineOf(registry, this.projectFile(this.project()));
    await pingEngine(engine);
    const backends = [...registry.backends.values()];
    const listing: ImagesListResult = {
      host: engine.host,
      images: await imageList(engine, backends),
      withoutImage: backends
        .filter((b) => !b.contribution.image)
        .map((b) => ({backend: b.contribution.id, plugin: `${b.plugin.name}@${b.plugin.version}`}))
        .sort((a, b) => a.backend.localeCompare(b.backend)),
    };
    if (listing.images.length === 0) this.say(`no installed backend has a container image (engine: ${engine.host})`);
    else this.say(table(['BACKEND', 'REFERENCE', 'PRESENT', 'SIZE', 'PLUGIN-VERSION', 'SOURCE', 'STALE'], listing.images.map(row)));
    const missing = listing.images.filter((i) => !i.present).map((i) => i.backend);
    if (missing.length > 0) this.say(dim(`lem images build ${missing.join(' ')}   # builds what is missing`));
    if (listing.withoutImage.length > 0) this.say(dim(`no image (cannot run under the docker runner): ${listing.withoutImage.map((b) => `${b.backend} (${b.plugin})`).join(', ')}`));
    return listing;
  }
}

function row(i: ImageStatus): string[] {
  const size = i.sizeBytes === null ? '-' : `${(i.sizeBytes / 1e6).toFixed(1)} MB`;
  const stale = !i.present ? '-' : i.stale ? `yes: ${i.staleReason}` : i.staleReason ? `no (${i.staleReason})` : 'no';
  return [i.backend, i.ref, i.present ? 'yes' : 'no', size, i.pluginVersion ? `plugin ${i.pluginVersion}` : '-', i.source ?? '-', stale];
}
