/** `lem report` (DESIGN §9): one self-contained HTML file from campaigns and runs, figures for papers. */
export {buildReport, defaultReportPath, reportModel, writeReport, type BuiltReport, type FigureFormat, type ReportInput, type WriteReportInput, type WrittenReport} from './build.js';
export type {ReportModel, ReportConfiguration, ReportCell, ReportMetric, RunView} from './model.js';
export {paretoFrontier, type ParetoPoint} from './pareto.js';
export {cdfPoints, downsampleMinMax} from './downsample.js';
