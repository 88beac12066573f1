import {join} from 'node:path';
import {CampaignNotifier, executeCampaign, type CampaignStore, type Planned, type Registry, type RunnerSession, type SlurmOutcome} from '@lem/core';
import {CampaignDisplay, jobsTable, renderCampaignSummary, type DisplayMode} from './campaign-display.js';
import {interruptible} from './signals.js';
import {askThreshold} from './threshold-prompt.js';

export interface SessionInput {
  registry: Registry;
  planned: Planned;
  store: CampaignStore;
  /** The runner every run uses; closed when the campaign ends (null under Slurm: the jobs open theirs on the nodes). */
  session: RunnerSession | null;
  /** slurm: submit and return. */
  detach?: boolean;
  resumed: boolean;
  notes: string[];
  retryFailed: boolean;
  /** `quiet` for --quiet and --json: nothing on the console, and no one to ask. */
  mode: DisplayMode;
  verbose: boolean;
  cacheDir: string;
  projectRoot: string;
  plugins: Array<{name: string; version: string}>;
  waitForDevicesS: number;
  out: (line: string) => void;
  note: (line: string) => void;
}

/**
 * Runs a started or resumed campaign with its display, its signals and its threshold prompt
 * (only with a human at a terminal), then prints the summary. The lock is released however it ends.
 */
export async function campaignSession(input: SessionInput): Promise<SlurmOutcome> {
  const display = new CampaignDisplay(input.mode, input.out, input.verbose);
  const {signal, dispose} = interruptible(input.note, 'the campaign and its running experiment');
  const interactive = input.mode !== 'quiet' && Boolean(process.stdin.isTTY) && Boolean(process.stdout.isTTY);
  // Delivered in the background; a failed delivery is a warning line, never a failed campaign.
  const notifier = new CampaignNotifier({registry: input.registry, resolved: input.planned.resolved.values(), warn: input.note, logFile: (stateDir) => join(stateDir, 'notifications.jsonl')});
  try {
    const outcome = await executeCampaign({
      store: input.store,
      ...(input.session ? {session: input.session} : {}),
      projectRoot: input.projectRoot,
      detach: input.detach,
      resolved: input.planned.resolved,
      shared: {
        baseDir: join(input.planned.plan.file, '..'),
        projectRoot: input.projectRoot,
        cacheDir: input.cacheDir,
        experimentFile: input.planned.plan.file,
        plugins: input.plugins,
        waitForDevicesS: input.waitForDevicesS,
      },
      onEvent: (e) => {
        display.handle(e);
        notifier.onEvent(e);
      },
      signal,
      // The prompt comes once the run that crossed the threshold is drawn in full.
      decideThreshold: interactive
        ? async (question) => {
            await display.settled();
            notifier.paused(question);
            return askThreshold(question);
          }
        : undefined,
      retryFailed: input.retryFailed,
      resumed: input.resumed,
      notes: input.notes,
    });
    await display.settled();
    notifier.ended(outcome);
    if (input.mode !== 'quiet') input.out(outcome.detached ? `\n${jobsTable(input.store.manifest.jobs)}` : renderCampaignSummary(outcome.report, outcome.summaryPath));
    if (outcome.detached) input.note(`the jobs run on; follow them with: lem resume ${input.store.plan.id}   (or lem campaign status ${input.store.plan.id})`);
    else if (outcome.status === 'interrupted' || outcome.status === 'stopped') input.note(`resume with: lem resume ${input.store.plan.id}`);
    return outcome;
  } finally {
    dispose();
    await input.session?.close();
    input.store.close();
    // What is still pending gets up to 10 s, so "completed" and "interrupted" are not lost.
    await notifier.flush();
  }
}
