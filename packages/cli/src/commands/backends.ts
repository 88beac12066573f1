import {VERSION as CORE_VERSION} from '@lem/core';
import {LemCommand} from '../base-command.js';
import {table} from '../render.js';

export interface BackendRow {
  id: string;
  displayName: string;
  plugin: string;
  version: string;
  gpu: string;
  local: boolean;
  image: string | null;
  /** The OpenAI APIs its server offers (`workload.api`). */
  apis: string[];
}

export interface BackendsResult {
  backends: BackendRow[];
  notifiers: Array<{id: string; displayName: string; plugin: string; version: string}>;
  problems: Array<{plugin: string; code: string; message: string}>;
}

export default class Backends extends LemCommand<typeof Backends> {
  static override summary = 'List the installed inference backends and notifiers.';
  static override description = 'Every backend and notifier registered by an installed plugin, with the plugin that provides it. Broken plugins are listed as warnings.';
  static override examples = ['<%= config.bin %> backends', '<%= config.bin %> backends --json'];

  public async run(): Promise<BackendsResult> {
    const registry = await this.registry();
    const backends = [...registry.backends.values()]
      .map(({contribution: c, plugin}) => ({
        id: c.id,
        displayName: c.displayName,
        plugin: plugin.name,
        version: plugin.version,
        gpu: c.gpu,
        local: c.local,
        image: c.image?.ref ?? null,
        apis: c.apis ?? ['completions', 'chat'],
      }))
      .sort((a, b) => a.id.localeCompare(b.id));
    // Built into core: measures an endpoint that is already running (base_url); nothing is started.
    backends.push({id: 'openai', displayName: 'OpenAI-compatible endpoint (base_url)', plugin: '@lem/core', version: CORE_VERSION, gpu: 'none', local: false, image: null, apis: ['completions', 'chat']});
    backends.sort((a, b) => a.id.localeCompare(b.id));
    const notifiers = [...registry.notifiers.values()]
      .map(({contribution: c, plugin}) => ({id: c.id, displayName: c.displayName, plugin: plugin.name, version: plugin.version}))
      .sort((a, b) => a.id.localeCompare(b.id));
    {
      this.say(
        table(
          ['ID', 'NAME', 'PLUGIN', 'GPU', 'RUNS', 'APIS', 'IMAGE'],
          backends.map((b) => [b.id, b.displayName, `${b.plugin}@${b.version}`, b.gpu, b.id === 'openai' ? 'endpoint' : [b.local ? 'local' : '', b.image ? 'docker' : ''].filter(Boolean).join(', ') || '-', b.apis.join(', '), b.image ?? '-']),
        ),
      );
    }
    if (notifiers.length > 0) {
      this.say('');
      this.say(table(['NOTIFIER', 'NAME', 'PLUGIN'], notifiers.map((n) => [n.id, n.displayName, `${n.plugin}@${n.version}`])));
    }
    return {backends, notifiers, problems: registry.problems};
  }
}
