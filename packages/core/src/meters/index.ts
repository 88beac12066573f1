/** Meters, the sampler and phase energy (DESIGN §5). */
export * from './types.js';
export * from './rapl.js';
export * from './cpu-estimate.js';
export * from './nvml.js';
export {createMeter, isAttributing, type AttributingMeter} from './create.js';
export {tickDueNs, latestDueTick, firstTick, catchUp, jitterStats, type JitterStats} from './schedule.js';
export {startSampler, type Sampler, type SamplerOptions, type SamplerResult} from './sampler.js';
export {DEFAULT_INTERVAL_MS, type ReadError} from './sampler-protocol.js';
export * from './energy.js';
export * from './timeline-csv.js';
export {digestTimeline, inTimelineOrder, type ChannelRef, type ChannelWindowStats, type TimelineDigest, type TimelineQuestions, type WindowStats} from './timeline-query.js';
