import {Args} from '@oclif/core';
import {resolveProject, sendTestNotifications, type DeliveryOutcome} from '@lem/core';
import {LemCommand} from '../../base-command.js';

export default class NotifyTest extends LemCommand<typeof NotifyTest> {
  static override summary = 'Send a test message to the configured notifiers (or the one named) and report the HTTP outcome.';
  static override description =
    'Reads notifications.<id> from .lem-config.yaml (webhook URLs as ${ENV_VAR}; they are never printed). Exits 0 when every message was delivered, 1 when one was not.';
  static override examples = ['<%= config.bin %> notify test', '<%= config.bin %> notify test slack'];
  static override args = {notifier: Args.string({description: 'A notifier id (slack, discord, …); default: every configured one.'})};

  public async run(): Promise<{results: Array<{id: string} & DeliveryOutcome>}> {
    const registry = await this.registry();
    const project = await resolveProject({registry, projectFile: this.projectFile(this.project())});
    const results = await sendTestNotifications({registry, settings: project.settings.notifications, redactor: project.redactor, id: this.args.notifier});
    for (const r of results) {
      const tries = `${r.attempts} attempt${r.attempts === 1 ? '' : 's'}`;
      this.say(r.ok ? `${r.id}: delivered (HTTP ${r.status}, ${tries})` : `${r.id}: not delivered after ${tries}: ${r.error}`);
    }
    return this.finish({results}, results.every((r) => r.ok) ? 0 : 1);
  }
}
