/** Routing checks that need no engine, shared by the experiment command and campaign planning. */
import {configError} from '../errors.js';

/** `--container-strategy` where no container runs is a mistake to say, not to ignore. */
export function refuseStrategyWithoutDocker(cli: Array<{key: string; value: unknown; flag: string}>, runner: string): void {
  const flag = cli.find((s) => s.key === 'docker.strategy' && s.flag === '--container-strategy');
  if (flag && runner !== 'docker') {
    throw configError('E_STRATEGY_NEEDS_DOCKER', `--container-strategy ${String(flag.value)} applies to containers, but the runner is ${runner}`, [
      `--runner docker --container-strategy ${String(flag.value)}`,
      'leave out --container-strategy to run servers as host processes',
    ]);
  }
}
