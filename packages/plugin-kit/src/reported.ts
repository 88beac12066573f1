/**
 * The reader of a server's start-up values (`ServerSpec.reportedSettings`): each output line is
 * matched against every pattern, the first group is the value (a number when it reads as one) and
 * the last match of a name wins. lem feeds it the server's output; plugin tests feed it the
 * engine's log lines, so both read them the same way.
 */
import type {ReportedSetting} from './server.js';

export interface ReportedSettingsReader {
  push(line: string): void;
  values(): Record<string, number | string>;
}

export function reportedSettingsReader(settings: ReportedSetting[] | undefined): ReportedSettingsReader {
  const patterns = (settings ?? []).map((s) => ({name: s.name, re: new RegExp(s.pattern)}));
  const values: Record<string, number | string> = {};
  return {
    push(line) {
      for (const {name, re} of patterns) {
        const m = re.exec(line);
        if (m?.[1] === undefined) continue;
        values[name] = /^-?\d+(\.\d+)?$/.test(m[1]) ? Number(m[1]) : m[1];
      }
    },
    values: () => ({...values}),
  };
}

/** The values `settings` read from `lines`. */
export function readReportedSettings(settings: ReportedSetting[] | undefined, lines: readonly string[]): Record<string, number | string> {
  const reader = reportedSettingsReader(settings);
  for (const line of lines) reader.push(line);
  return reader.values();
}
