export {
  modelInfoFromGguf,
  modelInfoFromConfigJson,
  loadModelInfo,
  ModelInfoErrorCodes,
  type ModelInfo,
  type ModelInfoResult,
  type LoadModelInfoOptions,
} from './model-info.js';
export {estimateFlops, prefillFlops, decodeFlops, describeFlopsMethod, type FlopsEstimate, type FlopsModel, type TokenCounts} from './estimate.js';
