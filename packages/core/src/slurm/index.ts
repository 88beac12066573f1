export {slurmSchema, type PlannedSlurm, type SlurmKeys} from './settings.js';
export {jobSubmission, jobName, jobScriptPath, JOBS_DIR, SETUP_FAILED_EXIT, type JobSubmission} from './script.js';
export {slurmCommands, checkCluster, isActive, type SlurmCommands, type JobState} from './queue.js';
export {jobGpuIndices, mapJobGpus} from './gpus.js';
export {runCycleJob, STOP_FILE, type CycleJobInput, type CycleJobOutcome} from './job.js';
export {runSlurmCampaign, syncSlurmCampaign, type SlurmCampaignOptions, type SlurmOutcome} from './executor.js';
export {executeCampaign, type ExecuteOptions} from './execute.js';
