import {Flags} from '@oclif/core';
import {pingEngine, pruneContainers, type PruneResult} from '@lem/core';
import {LemCommand} from '../../base-command.js';
import {engineOf} from '../../results-dir.js';

export default class ContainersPrune extends LemCommand<typeof ContainersPrune> {
  static override summary = 'Remove the containers of this host whose lem is gone; with --kept, the kept persistent ones too.';
  static override description = "Containers of a lem that is still running, and every container of another host (a shared DOCKER_HOST), are never touched.";
  static override examples = ['<%= config.bin %> containers prune', '<%= config.bin %> containers prune --kept --json'];

  static override flags = {
    kept: Flags.boolean({description: 'Also remove containers kept for adoption (docker.auto_teardown: false).'}),
  };

  public async run(): Promise<PruneResult> {
    const engine = await engineOf(await this.registry(), this.projectFile(this.project()));
    await pingEngine(engine);
    const result = await pruneContainers(engine, {kept: this.flags.kept});
    this.say(result.removed.length === 0 ? 'nothing to remove' : `removed ${result.removed.length} container${result.removed.length === 1 ? '' : 's'}: ${result.removed.join(', ')}`);
    return result;
  }
}
