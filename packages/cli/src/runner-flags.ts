import enquirer from 'enquirer';
import {Flags} from '@oclif/core';
import type {CliSetting, PersistentConfirmation} from '@lem/core';

/** `--runner`, `--container-strategy` and `--yes`: the same on `lem experiment`, `lem campaign run` and `lem resume`. */
export const runnerFlags = {
  runner: Flags.option({options: ['local', 'docker'] as const, description: 'Where servers run: host processes or containers.'})(),
  'container-strategy': Flags.option({
    options: ['ephemeral', 'persistent'] as const,
    description: 'docker: a container per experiment (ephemeral), or one long-lived container per backend with each server exec’d in it (persistent; asks first). Wins over docker.strategy.',
  })(),
  yes: Flags.boolean({char: 'y', description: 'Answer yes to the persistent-containers confirmation (needed without a terminal, and with --quiet or --json).'}),
};

/** `--executor` and `--detach`: where a campaign's runs happen (`lem campaign run`, `lem resume`). */
export const executorFlags = {
  executor: Flags.option({options: ['local', 'slurm'] as const, description: 'Where the runs happen: here, or as Slurm batch jobs (one per cycle) from this submit host. Wins over executor: in the file.'})(),
  detach: Flags.boolean({description: 'slurm: submit the jobs and exit; `lem resume <id>` (or `lem campaign status <id>`) follows them later.'}),
};

/** `--container-strategy` as the `docker.strategy` setting, with the flag as its source. */
export function strategySetting(flags: {'container-strategy'?: string}): CliSetting[] {
  return flags['container-strategy'] ? [{key: 'docker.strategy', value: flags['container-strategy'], flag: '--container-strategy'}] : [];
}

/**
 * Who confirms persistent containers: `--yes`; else the user at a terminal; else no one (core
 * then refuses with E_CONFIRMATION_REQUIRED and the hint).
 */
export function persistentConfirmation(flags: {yes?: boolean}, interactive: boolean): ((what: PersistentConfirmation) => Promise<boolean>) | undefined {
  if (flags.yes) return async () => true;
  if (!interactive) return undefined;
  return async (what) => {
    const {Confirm} = enquirer as unknown as {Confirm: new (options: object) => {run(): Promise<boolean>}};
    const after = what.autoTeardown ? 'removed when lem ends' : 'kept after lem ends (docker.auto_teardown: false; lem containers prune removes them)';
    const prompt = new Confirm({
      name: 'persistent',
      message: `Start ${what.containers} persistent container${what.containers === 1 ? '' : 's'} (${what.backends.join(', ')}): servers are exec'd in long-lived containers, ${after}. Go on?`,
      initial: false,
    });
    try {
      return await prompt.run();
    } catch {
      return false; // Ctrl+C or a closed terminal at the prompt: nothing was started
    }
  };
}
