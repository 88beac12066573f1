/**
 * The `slurm:` section of a campaign file (DESIGN §10): where and how each cycle's batch job is
 * submitted. Validated with the campaign's own keys, so an error points at `file:line:col`.
 */
import {z} from 'zod';

/** Slurm's time formats: `minutes`, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`, `D-HH:MM:SS`. */
const TIME_LIMIT = /^(\d+|\d+:\d{2}|\d+:\d{2}:\d{2}|\d+-\d+|\d+-\d+:\d{2}|\d+-\d+:\d{2}:\d{2})$/;

export const slurmSchema = z
  .object({
    partition: z.string().min(1).optional().describe('The partition (sbatch --partition); the cluster default when absent.'),
    account: z.string().min(1).optional().describe('The account charged (sbatch --account).'),
    qos: z.string().min(1).optional().describe('The quality of service (sbatch --qos).'),
    gpus_per_job: z.int().nonnegative().optional().describe("GPUs each job asks for as the GRES gpu:N (default: the most any configuration's `gpus` lists)."),
    time_limit: z.string().regex(TIME_LIMIT, 'a Slurm time: minutes, HH:MM:SS or D-HH:MM:SS').optional().describe("Each job's wall-clock limit (sbatch --time); the partition's default when absent."),
    max_concurrent: z.int().min(1).default(1).describe('Jobs (cycles) running at once: every cycle is submitted at once, each beyond the first max_concurrent with --dependency=afterany on an earlier one, so Slurm keeps the limit with or without lem.'),
    constraint: z.string().min(1).optional().describe('Node features required (sbatch --constraint), e.g. h100.'),
    exclusive: z.boolean().default(true).describe('Ask for whole nodes (sbatch --exclusive), so no foreign job shares the power being measured.'),
    extra_args: z.array(z.string().min(1)).default([]).describe('More sbatch options, passed verbatim (one option per item: "--mem=64G").'),
    setup: z.array(z.string().min(1)).default([]).describe('Shell lines run in the job before lem (module load, conda activate); a failing line fails the job as `config`.'),
    lem: z.string().min(1).optional().describe("How the job starts lem on the node (default: this lem's Node binary and script, which a shared file system makes the same paths)."),
    poll_s: z.number().positive().default(2).describe('Seconds between two looks at the queue (squeue / scontrol).'),
  })
  .strict()
  .describe('The Slurm executor: one batch job per cycle.');

export type SlurmKeys = z.output<typeof slurmSchema>;

/** The Slurm settings as plan.json keeps them: every job of the campaign is submitted from these. */
export interface PlannedSlurm {
  partition: string | null;
  account: string | null;
  qos: string | null;
  gpusPerJob: number;
  timeLimit: string | null;
  maxConcurrent: number;
  constraint: string | null;
  exclusive: boolean;
  extraArgs: string[];
  setup: string[];
  /** The command that starts lem in the job (shell words, already quoted). */
  lem: string;
  pollS: number;
}
