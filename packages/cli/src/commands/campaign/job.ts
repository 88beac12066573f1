import {join} from 'node:path';
import {Args, Flags} from '@oclif/core';
import {runCycleJob, type CycleJobOutcome} from '@lem/core';
import {LemCommand} from '../../base-command.js';
import {interruptible} from '../../signals.js';

/**
 * Inside a Slurm batch job: one cycle of a campaign on this node. The orchestrator writes this
 * command into each job's script; people do not run it (hidden).
 */
export default class CampaignJob extends LemCommand<typeof CampaignJob> {
  static override hidden = true;
  static override summary = "Run one cycle of a Slurm campaign inside its batch job (written into the job's script by `lem campaign run --executor slurm`).";
  static override description = "Runs the cycle's runs in plan order on this node from the campaign's plan snapshot, writing run folders into the campaign's results folder and events into the job's journal (jobs/<job id>.jsonl in the campaign's state folder). Exit codes: 0 every run ended (whatever its status), 2 the job could not start its runs (each is journaled as failed), 130 interrupted (scancel, the time limit).";

  static override args = {state: Args.string({description: "The campaign's state folder.", required: true})};

  static override flags = {
    cycle: Flags.integer({description: 'The cycle this job runs.', required: true, min: 1}),
    runs: Flags.string({description: 'The entries to run, comma-separated, in plan order.', required: true}),
  };

  public async run(): Promise<CycleJobOutcome> {
    const registry = await this.registry();
    const project = this.project();
    const {signal, dispose} = interruptible((line) => this.note(line), 'the cycle and its running experiment');
    try {
      const outcome = await runCycleJob({
        registry,
        stateDir: this.args.state,
        cycle: this.flags.cycle,
        keys: this.flags.runs.split(',').filter(Boolean),
        projectFile: this.projectFile(project),
        projectRoot: project.root,
        cacheDir: join(this.config.cacheDir, 'datasets'),
        plugins: this.config.getPluginsList().map((p) => ({name: p.name, version: p.version})),
        signal,
        onEvent: (e) => {
          if (e.type === 'run-end') this.say(`${e.run.key} attempt ${e.attempt}: ${e.status}${e.code ? ` (${e.category}: ${e.code} ${e.message ?? ''})` : ''}`);
          if (e.type === 'gap') this.say(`gap ${e.seconds.toFixed(1)} s before ${e.before}`);
          if (e.type === 'run-start') this.say(`${e.run.key} attempt ${e.context.attempt}: ${e.runDir}`);
        },
      });
      this.say(`job ${outcome.jobId} on ${outcome.node}: ${outcome.stop ? outcome.stop.status : 'done'}`);
      return this.finish(outcome, outcome.exitCode);
    } finally {
      dispose();
    }
  }
}
