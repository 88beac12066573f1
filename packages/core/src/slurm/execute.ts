/**
 * A campaign under its executor (DESIGN §10): `local` runs it here, `slurm` as batch jobs.
 */
import {configError} from '../errors.js';
import {runCampaign, type CampaignRunOptions} from '../campaign/orchestrate.js';
import {runSlurmCampaign, type SlurmCampaignOptions, type SlurmOutcome} from './executor.js';

export type ExecuteOptions = CampaignRunOptions & Partial<Pick<SlurmCampaignOptions, 'detach' | 'commands' | 'env'>> & {projectRoot: string};

export async function executeCampaign(opts: ExecuteOptions): Promise<SlurmOutcome> {
  if ((opts.store.plan.executor ?? 'local') === 'slurm') return runSlurmCampaign(opts);
  if (opts.detach) {
    await opts.session?.close();
    throw configError('E_DETACH_LOCAL', '--detach leaves a campaign to its cluster jobs: it needs executor: slurm', ['lem campaign run <file> --executor slurm --detach', 'lem campaign run <file>   # without --detach, here']);
  }
  return {...(await runCampaign(opts)), detached: false};
}
