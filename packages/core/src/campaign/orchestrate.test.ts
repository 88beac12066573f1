/**
 * The campaign loop with the experiment replaced at its seam by outcomes chosen per run (the real
 * experiment is exercised by the CLI tests): retries, the threshold, and what is left to pause.
 */
import {mkdirSync} from 'node:fs';
import {join} from 'node:path';
import {afterEach, describe, expect, it} from 'vitest';
import {runError} from '../errors.js';
import type {ExperimentOutcome, RunExperimentOptions} from '../experiment/run.js';
import {project, type Project} from './__fixtures__/planning.js';
import {runCampaign} from './orchestrate.js';
import {createCampaignState} from './store.js';
import type {ThresholdQuestion} from './events.js';

let p: Project;
afterEach(() => p?.remove());

const campaign = (extra: string) => `name: loop
model: tiny.gguf
backend: llamacpp
sweep:
  llamacpp.parallel: [1, 2]
cycles: 1
gaps: {between_experiments_s: 0, between_cycles_s: 0}
${extra}
`;

/** Runs the campaign with `fails(configuration, try)` deciding each run's failure category (null: completed). */
async function run(extra: string, fails: (configuration: string, attempt: number) => 'runtime' | 'config' | null, ask?: (q: ThresholdQuestion) => Promise<'continue' | 'stop'>) {
  p = project({'tiny.gguf': 'GGUF'});
  const planned = await p.plan(p.write('c.yaml', campaign(extra)));
  mkdirSync(planned.plan.resultsDir, {recursive: true});
  const store = createCampaignState(join(p.root, '.lem-state'), planned.plan);
  const calls: string[] = [];
  const fake = async (opts: RunExperimentOptions): Promise<ExperimentOutcome> => {
    const c = opts.campaign!;
    calls.push(`${c.configuration}#${c.cycle}@${c.attempt}`);
    const category = fails(c.configuration, c.attempt);
    const error = category ? runError('E_TEST', `failed (${category})`, [], category) : undefined;
    return {status: error ? 'failed' : 'completed', runDir: join(opts.resultsDir, opts.runDirName!), result: {failure: null} as never, ...(error ? {error} : {})};
  };
  const asked: ThresholdQuestion[] = [];
  const outcome = await runCampaign({
    store,
    resolved: planned.resolved,
    shared: {baseDir: p.root, projectRoot: p.root, cacheDir: p.root},
    runExperiment: fake,
    decideThreshold: ask ? (q) => (asked.push(q), ask(q)) : undefined,
  });
  store.close();
  return {outcome, calls, asked, manifest: store.manifest};
}

describe('the campaign loop', () => {
  it('retries runtime failures retry.max_attempts times, never config failures, and counts attempts', async () => {
    const {outcome, calls, manifest} = await run('retry: {max_attempts: 2}\nfailure_threshold: {min_finished: 10}', (c) => (c === 'par1' ? 'runtime' : 'config'));
    expect(calls).toEqual(['par1#1@1', 'par1#1@2', 'par1#1@3', 'par2#1@1']);
    expect(manifest.entries.map((e) => [e.key, e.status, e.attempts, e.category])).toEqual([
      ['par1#1', 'failed', 3, 'runtime'],
      ['par2#1', 'failed', 1, 'config'],
    ]);
    expect(outcome.exitCode).toBe(1);
  });

  it('asks at the threshold while runs are left, and stops resumably on stop (exit 3)', async () => {
    const {outcome, calls, asked} = await run('retry: {max_attempts: 0}\nfailure_threshold: {min_finished: 1, ratio: 0.4}', (c) => (c === 'par1' ? 'runtime' : null), async () => 'stop');
    expect(asked.map((q) => [q.scope, q.failed, q.finished])).toEqual([['campaign', 1, 1]]);
    expect(calls).toEqual(['par1#1@1']);
    expect([outcome.status, outcome.exitCode]).toEqual(['stopped', 3]);
  });

  it('does not pause when the run that crosses the threshold is the last: the campaign ends (exit 1)', async () => {
    const {outcome, calls, asked, manifest} = await run('retry: {max_attempts: 0}\nfailure_threshold: {min_finished: 1, ratio: 0.4}', (c) => (c === 'par2' ? 'runtime' : null), async () => 'stop');
    expect(calls).toEqual(['par1#1@1', 'par2#1@1']);
    expect(asked).toEqual([]);
    expect([outcome.status, outcome.exitCode, manifest.status]).toEqual(['completed', 1, 'completed']);
  });
});
