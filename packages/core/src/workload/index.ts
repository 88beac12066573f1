/** The streaming client and workload driver: what `lem` sends to an inference server, and how it times it. */
export {SseParser, parseSse, type SseEvent, type SseListener} from './sse.js';
export {sendRequest, countTokens, closeTokenizeAgents, createAgent, endpoints, requestBody, type Prompt, type RequestContext, type RequestTemplate} from './client.js';
export {runWorkload, type LoadMode, type SendLagSummary, type WorkloadOptions, type WorkloadResult} from './driver.js';
export {poissonSchedule, splitmix32} from './schedule.js';
export {percentileOfSorted, requestMetrics, summarize, type RequestMetrics, type ValueSummary} from './stats.js';
