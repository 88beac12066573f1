import type {RequestRecord} from '../measure/types.js';

export {percentileOfSorted, summarize, type ValueSummary} from '../measure/stats.js';

/** Per-request latencies, ms (DESIGN §6). */
export interface RequestMetrics {
  /** TTFT = first chunk carrying content − send; null when no content arrived. */
  ttftMs: number | null;
  /** E2E = end of the response (`[DONE]` or end of stream) − send, as `RequestRecord.endMs` defines it. */
  e2eMs: number;
  /** ITL = (E2E − TTFT) / (output tokens − 1); null (not 0) for one-token outputs and unknown token counts. */
  itlMs: number | null;
}

export function requestMetrics(record: RequestRecord): RequestMetrics {
  const ttftMs = record.firstContentMs === null ? null : record.firstContentMs - record.sendMs;
  const e2eMs = record.endMs - record.sendMs;
  const tokens = record.outputTokens;
  const itlMs = ttftMs !== null && tokens !== null && tokens > 1 ? (e2eMs - ttftMs) / (tokens - 1) : null;
  return {ttftMs, e2eMs, itlMs};
}
