/** A hand-built plan for the state tests: only the fields the manifest and the state folder read matter. */
import type {CampaignPlan} from '../types.js';

/** `configurations` × `cycles` runs in interleaved order. */
export function testPlan(id: string, configurations: string[], cycles = 1, over: Partial<CampaignPlan> = {}): CampaignPlan {
  const runs = [];
  for (let cycle = 1; cycle <= cycles; cycle++) {
    for (const configuration of configurations) {
      runs.push({key: `${configuration}#${cycle}`, configuration, cycle, position: runs.length + 1, gapBeforeS: 0, gapKind: 'none' as const, conditional: false, keepServer: false});
    }
  }
  return {
    schemaVersion: 1,
    id,
    name: id.replace(/-\d.*$/, ''),
    file: `/tmp/${id}.yaml`,
    createdAt: '2025-01-01T00:00:00.000Z',
    cli: [],
    cycles: {kind: 'fixed', count: cycles},
    order: 'interleaved',
    seed: 7,
    seedSource: 'drawn',
    gaps: {betweenExperimentsS: 60, betweenCyclesS: 300, cooldown: {enabled: false, deltaC: 0, timeoutS: 0}},
    retry: {maxAttempts: 1},
    failureThreshold: {ratio: 0.5, scope: 'campaign', minFinished: 4, promptTimeoutS: 1800},
    runTimeoutS: 600,
    runner: 'local',
    containerStrategy: null,
    resultsDir: `/tmp/results/${id}`,
    configurations: [],
    varying: [],
    dropped: [],
    runs,
    campaignSettings: [],
    environment: {lemVersion: '0.1.0', plugins: [], models: {}, datasets: {}, gpus: {uuids: [], driverVersion: null}},
    etaS: 0,
    hash: 'abc',
    ...over,
  };
}
