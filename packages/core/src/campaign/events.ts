/**
 * What a campaign tells its caller as it goes (core never prints: the CLI draws these), and the
 * decisions it asks of a human through callbacks.
 */
import type {FailureCategory} from '../errors.js';
import type {ExperimentEvent} from '../experiment/context.js';
import type {CooldownResult} from '../provenance/index.js';
import type {CampaignPlan, CampaignStatus, CampaignContext, JobRecord, PlannedRun} from './types.js';

export type CampaignEvent =
  | {type: 'campaign-start'; plan: CampaignPlan; resumed: boolean; notes: string[]; stateDir: string}
  /** The cycle changed (`grouped`: the configuration changed). */
  | {type: 'cycle'; cycle: number; cycles: number; configuration: string | null}
  | {type: 'gap'; seconds: number; kind: PlannedRun['gapKind'] | 'retry'; before: string; endsAtMs: number}
  | {type: 'run-start'; run: PlannedRun; context: CampaignContext; etaS: number | null; runDir: string}
  | {type: 'experiment'; key: string; event: ExperimentEvent}
  | {
      type: 'run-end';
      run: PlannedRun;
      attempt: number;
      status: 'completed' | 'failed' | 'interrupted';
      category: FailureCategory | null;
      code: string | null;
      message: string | null;
      runDir: string;
      durationS: number;
      willRetry: boolean;
      adopted: boolean;
    }
  | {type: 'cooldown'; before: string; idleC: number; result: CooldownResult}
  | {type: 'skip'; keys: string[]; reason: string}
  | {type: 'threshold'; scope: string; failed: number; finished: number; ratio: number; decision: 'continue' | 'stop'}
  | {type: 'campaign-end'; status: CampaignStatus; reason: string | null}
  /** A Slurm job was submitted, changed state (queued, running on a node) or ended and was settled. */
  | {type: 'job'; job: JobRecord; change: 'submitted' | 'state' | 'ended'}
  /** A run started inside a Slurm job (its phases are on the node: in its run folder and the job's log). */
  | {type: 'job-run'; jobId: string; node: string | null; run: PlannedRun; attempt: number; runDir: string};

/** The failure threshold was crossed: what the human is asked. */
export interface ThresholdQuestion {
  scope: string;
  failed: number;
  finished: number;
  ratio: number;
  threshold: number;
  /** Seconds to answer before the campaign stops resumably. */
  timeoutS: number;
  signal: AbortSignal;
}

export type ThresholdDecision = 'continue' | 'stop';
