/**
 * `lem report`: campaigns and runs → one self-contained HTML file (DESIGN §9), and with a format
 * each figure as an SVG or PNG file (with its Vega-Lite spec) for papers.
 */
import {mkdirSync, readdirSync, rmSync, writeFileSync} from 'node:fs';
import {basename, dirname, join, resolve} from 'node:path';
import {writeFileAtomic} from '../fs-atomic.js';
import {VERSION} from '../version.js';
import {forestFigure, paretoFigure, runFigures} from './figures.js';
import {channelsOf, comparisonsOf, datesOf, definitionsOf, machinesOf, warningsOf} from './header.js';
import {reportHtml, type RenderedFigure} from './html.js';
import type {ReportModel, RunView} from './model.js';
import {taskRunner, type TaskRunner} from './pool.js';
import {scopeSvgIds, svgToPng} from './render.js';
import {loadSource, resolveInputs, type LoadedSource} from './sources.js';
import type {FigureSpec} from './specs/common.js';
import {configurationRows, REPORT_METRICS} from './table.js';

export interface ReportInput {
  /** Campaign ids, run folder names, or paths to either. */
  inputs: readonly string[];
  /** Where ids are looked up (the project's results folder). */
  resultsDir: string;
  now?: () => Date;
  /** Worker threads for reading runs and rendering; default: one per CPU (at most 8) from 40 runs up, else none (0). */
  threads?: number;
}

export type FigureFormat = 'svg' | 'png';

export interface WriteReportInput extends ReportInput {
  /** The HTML file; default {@link defaultReportPath}. */
  out?: string;
  /** Also write each figure as a file of this format, with its spec, into `<out name>-figures/`. */
  format?: FigureFormat;
  cwd?: string;
}

export interface BuiltReport {
  html: string;
  model: ReportModel;
  /** Every figure with its SVG (un-prefixed ids: as a file would hold it), summary figures first. */
  figures: RenderedFigure[];
  /** What Vega-Lite and Vega warned about while rendering (none for lem's own specs). */
  renderWarnings: string[];
}

export interface WrittenReport {
  path: string;
  bytes: number;
  sources: Array<{kind: 'campaign' | 'run'; id: string; path: string}>;
  runs: number;
  failedRuns: number;
  configurations: number;
  /** Figures drawn (a figure with nothing to draw is a caption only and not counted). */
  figures: number;
  figureFiles: Array<{path: string; bytes: number}>;
  elapsedMs: number;
}

function titleOf(sources: LoadedSource[]): string {
  if (sources.length === 1) return `${sources[0]!.source.kind === 'campaign' ? sources[0]!.source.name : sources[0]!.source.id} — lem report`;
  return `${sources.length} campaigns and runs — lem report`;
}

/** Campaign runs in plan order (cycle, then attempt, then folder); runs given on their own in the order given. */
const byPlan = (a: RunView, b: RunView): number => (a.cycle ?? 0) - (b.cycle ?? 0) || a.configuration.localeCompare(b.configuration) || (a.attempt ?? 0) - (b.attempt ?? 0);

function modelOf(input: ReportInput, sources: LoadedSource[], runs: RunView[]): ReportModel {
  return {
    title: titleOf(sources),
    reportLemVersion: VERSION,
    lemVersions: [...new Set(runs.map((r) => r.environment?.lemVersion).filter((v): v is string => Boolean(v)))],
    generatedAt: (input.now ?? (() => new Date()))().toISOString(),
    sources: sources.map((s) => s.source),
    machines: machinesOf(runs),
    ...datesOf(runs),
    warnings: warningsOf(sources, runs),
    metrics: [...REPORT_METRICS],
    configurations: configurationRows(sources, runs),
    comparisons: comparisonsOf(sources),
    runs,
    definitions: definitionsOf(runs),
    channels: channelsOf(runs),
  };
}

/** Reads every input into the report model, the run folders through `runner` (no rendering). */
async function loadModel(input: ReportInput, sources: LoadedSource[], runner: TaskRunner): Promise<ReportModel> {
  const perSource = await Promise.all(
    sources.map(async (s) => {
      const source = s.source.kind === 'campaign' ? s.source.id : null;
      const runs = await Promise.all(s.runDirs.map((runDir) => runner.run({kind: 'load', runDir, source})));
      return runs.sort(byPlan);
    }),
  );
  return modelOf(input, sources, perSource.flat());
}

/** The report model of the inputs, read in this thread. */
export async function reportModel(input: ReportInput): Promise<ReportModel> {
  const sources = resolveInputs(input.inputs, input.resultsDir).map(loadSource);
  return loadModel(input, sources, taskRunner(0, 0));
}

/** Every figure spec of the report: the summary figures, then each configuration's run figures. */
function figureSpecs(model: ReportModel): {summary: FigureSpec[]; groups: Array<{title: string; figures: FigureSpec[]}>} {
  const summary = [paretoFigure(model, 'outputTokensPerS', 'pareto-throughput'), paretoFigure(model, 'ttftP90Ms', 'pareto-ttft-p90'), forestFigure(model)];
  const groups = model.configurations.map((c, i) => ({title: c.source === null ? `Run ${c.name}` : `Runs of ${c.name}`, figures: runFigures(model, c, i)}));
  return {summary, groups};
}

/** The model, its figures rendered to SVG, and the page. */
export async function buildReport(input: ReportInput): Promise<BuiltReport> {
  const sources = resolveInputs(input.inputs, input.resultsDir).map(loadSource);
  const runner = taskRunner(sources.reduce((n, s) => n + s.runDirs.length, 0), input.threads);
  try {
    const model = await loadModel(input, sources, runner);
    const specs = figureSpecs(model);
    const warnings: string[] = [];
    const render = async (f: FigureSpec): Promise<RenderedFigure> => {
      if (f.spec === null) return {...f, svg: null};
      const answer = await runner.run({kind: 'render', spec: f.spec});
      warnings.push(...answer.warnings.map((w) => `${f.id}: ${w}`));
      return {...f, svg: answer.svg};
    };
    const summary = await Promise.all(specs.summary.map(render));
    const groups = await Promise.all(specs.groups.map(async (g) => ({title: g.title, figures: await Promise.all(g.figures.map(render))})));
    const inline = (f: RenderedFigure): RenderedFigure => ({...f, svg: f.svg === null ? null : scopeSvgIds(f.svg, f.id)});
    const html = reportHtml(model, summary.map(inline), groups.map((g) => ({title: g.title, figures: g.figures.map(inline)})));
    return {html, model, figures: [...summary, ...groups.flatMap((g) => g.figures)], renderWarnings: warnings};
  } finally {
    await runner.close();
  }
}

/** One input: the report goes in its folder; several: `report.html` in the working folder. */
export function defaultReportPath(model: ReportModel, cwd: string): string {
  return model.sources.length === 1 ? join(model.sources[0]!.path, 'report.html') : join(cwd, 'report.html');
}

/** Figure files a report writes; a previous report's are removed first, so the folder holds this report's figures only. */
const FIGURE_FILE = /\.(svg|png|vl\.json)$/;

async function writeFigureFiles(figures: RenderedFigure[], dir: string, format: FigureFormat): Promise<WrittenReport['figureFiles']> {
  mkdirSync(dir, {recursive: true});
  for (const old of readdirSync(dir).filter((f) => FIGURE_FILE.test(f))) rmSync(join(dir, old));
  const files: WrittenReport['figureFiles'] = [];
  const write = (name: string, data: string | Uint8Array) => {
    const path = join(dir, name);
    writeFileSync(path, data);
    files.push({path, bytes: typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength});
  };
  for (const f of figures) {
    if (f.svg === null || f.spec === null) continue;
    write(`${f.id}.${format}`, format === 'svg' ? f.svg : await svgToPng(f.svg));
    write(`${f.id}.vl.json`, `${JSON.stringify(f.spec, null, 1)}\n`);
  }
  return files;
}

/** Builds the report and writes it (atomically), and the figure files when a format is given. */
export async function writeReport(input: WriteReportInput): Promise<WrittenReport> {
  const t0 = performance.now();
  const built = await buildReport(input);
  const path = resolve(input.cwd ?? process.cwd(), input.out ?? defaultReportPath(built.model, input.cwd ?? process.cwd()));
  mkdirSync(dirname(path), {recursive: true});
  writeFileAtomic(path, built.html);
  const figureDir = join(dirname(path), `${basename(path).replace(/\.html?$/i, '')}-figures`);
  const figureFiles = input.format ? await writeFigureFiles(built.figures, figureDir, input.format) : [];
  const {model} = built;
  return {
    path,
    bytes: Buffer.byteLength(built.html),
    sources: model.sources.map((s) => ({kind: s.kind, id: s.id, path: s.path})),
    runs: model.runs.length,
    failedRuns: model.runs.filter((r) => r.status !== 'completed').length,
    configurations: model.configurations.length,
    figures: built.figures.filter((f) => f.svg !== null).length,
    figureFiles,
    elapsedMs: Math.round(performance.now() - t0),
  };
}
