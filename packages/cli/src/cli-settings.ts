import {parseSetFlag, type CliSetting} from '@lem/core';

/** The settings every running command takes from flags: `--runner`, `--results-dir` and each `--set key=value`, with the flag as their source. */
export function cliSettings(flags: {runner?: string; executor?: string; 'results-dir'?: string; set?: string[]}, extra: CliSetting[] = []): CliSetting[] {
  const cli: CliSetting[] = [];
  if (flags.runner) cli.push({key: 'runner', value: flags.runner, flag: '--runner'});
  if (flags.executor) cli.push({key: 'executor', value: flags.executor, flag: '--executor'});
  cli.push(...extra);
  if (flags['results-dir']) cli.push({key: 'results_dir', value: flags['results-dir'], flag: '--results-dir'});
  for (const s of flags.set ?? []) cli.push(parseSetFlag(s));
  return cli;
}
