import {listContainers, pingEngine, type LemContainer} from '@lem/core';
import {LemCommand} from '../../base-command.js';
import {dim, table} from '../../render.js';
import {engineOf} from '../../results-dir.js';

export default class ContainersList extends LemCommand<typeof ContainersList> {
  static override summary = "List the containers lem made on this project's Docker engine: kept persistent ones, and leftovers of a lem that is gone.";
  static override examples = ['<%= config.bin %> containers list', '<%= config.bin %> containers list --json'];

  public async run(): Promise<{host: string; containers: LemContainer[]}> {
    const engine = await engineOf(await this.registry(), this.projectFile(this.project()));
    await pingEngine(engine);
    const containers = await listContainers(engine);
    if (containers.length === 0) this.say(`no lem containers on ${engine.host}`);
    else {
      this.say(
        table(
          ['ID', 'NAME', 'BACKEND', 'STRATEGY', 'STATE', 'KEPT', 'OWNER', 'IMAGE'],
          containers.map((c) => [c.id.slice(0, 12), c.name, c.backend ?? '-', c.strategy ?? '-', c.state, c.kept ? 'yes' : 'no', ownerOf(c), c.image]),
        ),
      );
      this.say(dim('lem containers prune removes those of a lem that is gone (--kept: kept ones too)'));
    }
    return {host: engine.host, containers};
  }
}

function ownerOf(c: LemContainer): string {
  if (!c.thisHost) return `another host (${c.host ?? '?'})`;
  return c.ownerAlive ? `lem ${c.pid} (running)` : `lem ${c.pid} (gone)`;
}
