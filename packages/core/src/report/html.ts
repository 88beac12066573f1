/**
 * The report page: one self-contained HTML file. Styles, data and figures are inline; the only
 * script sorts tables; a Content-Security-Policy forbids every fetch, so opening the file makes
 * no network request. Each figure's Vega-Lite spec (with its data) is embedded beside its SVG,
 * for the Vega editor.
 */
import {createHash} from 'node:crypto';
import {memoryText} from './header.js';
import {attrs, esc, escText, gapCell, num, statCell, valueCell} from './html-format.js';
import type {ReportModel, RunView} from './model.js';
import type {FigureSpec} from './specs/common.js';
import {shownComparisons, labelOf} from './figures.js';

/** A figure with its SVG (null when it has nothing to draw). */
export type RenderedFigure = FigureSpec & {svg: string | null};

/** Sorts a table by the clicked column: numbers by `data-sort`, gaps last, else by text. */
export const SORT_SCRIPT = `document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('thead th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var up = th.getAttribute('aria-sort') !== 'ascending';
      table.querySelectorAll('thead th').forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', up ? 'ascending' : 'descending');
      var key = function (row) { var c = row.cells[col]; var s = c.getAttribute('data-sort'); return s === null ? c.textContent.trim() : s; };
      var body = table.tBodies[0];
      Array.prototype.slice.call(body.rows).sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === '' || y === '') return x === y ? 0 : x === '' ? 1 : -1;
        var d = isNaN(x) || isNaN(y) ? x.localeCompare(y) : x - y;
        return up ? d : -d;
      }).forEach(function (row) { body.appendChild(row); });
    });
  });
});`;

const CSS = `body{font:14px/1.45 system-ui,sans-serif;color:#222;margin:0 auto;max-width:1180px;padding:0 20px 40px}
h1{font-size:22px;margin:24px 0 8px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid #ddd}h3{font-size:15px;margin:22px 0 6px}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px}dl.meta dt{color:#666}dl.meta dd{margin:0}
table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{padding:4px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
thead th{background:#f6f6f6;cursor:pointer;white-space:nowrap}th[aria-sort=ascending]::after{content:' ▲'}th[aria-sort=descending]::after{content:' ▼'}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}td small{display:block;color:#777;font-size:11px}
td.gap{color:#a33;text-align:center}td.notes{font-size:12px;color:#555;min-width:16em}td.gap small{color:#a33}.failed td{background:#fff4f4}
ul.warnings li code{font-weight:600}figure{margin:16px 0}figcaption{font-weight:600;margin-bottom:4px}p.caption{color:#555;margin:4px 0;max-width:900px}
details.spec pre{max-height:240px;overflow:auto;background:#f8f8f8;padding:8px;font-size:11px;white-space:pre-wrap;word-break:break-all}
svg{max-width:100%;height:auto}div.wide{overflow-x:auto}.note{color:#555}footer{margin-top:40px;color:#777;font-size:12px}`;

const sha256 = (text: string): string => createHash('sha256').update(text).digest('base64');

function figureHtml(f: RenderedFigure): string {
  if (f.svg === null || f.spec === null) return `<figure class="empty"${attrs({'data-figure': f.id})}><figcaption>${esc(f.title)}</figcaption><p class="caption">${esc(f.caption)}</p></figure>`;
  const spec = escText(JSON.stringify(f.spec));
  return `<figure class="plot"${attrs({'data-figure': f.id, id: `figure-${f.id}`})}><figcaption>${esc(f.title)}</figcaption>${f.svg}<p class="caption">${esc(f.caption)}</p>
<details class="spec"><summary>Vega-Lite spec (paste into the Vega editor, vega.github.io/editor)</summary><pre>${spec}</pre></details></figure>`;
}

function sourceLine(s: ReportModel['sources'][number]): string {
  if (s.kind === 'run') return `run <code>${esc(s.id)}</code> (${esc(s.status ?? '')})`;
  const counts = s.counts ? Object.entries(s.counts).map(([k, v]) => `${v} ${k}`).join(', ') : 'no summary.json';
  return `campaign <strong>${esc(s.name)}</strong> <code>${esc(s.id)}</code> — ${esc(s.status ?? '')}; ${esc(counts)}; plan hash <code>${esc(s.planHash ?? 'unknown')}</code>`;
}

function headerHtml(model: ReportModel): string {
  const machines = model.machines.map((m) => `${esc(m.hostname)}: ${esc(m.cpu)}, ${m.logicalCpus} logical CPUs, ${memoryText(m.memoryBytes)}, ${esc(m.os)}; GPUs: ${m.gpus.length > 0 ? m.gpus.map(esc).join('; ') : 'none measured'}`);
  const counts = (s: RunView['status']) => model.runs.filter((r) => r.status === s).length;
  const rows: Array<[string, string]> = [
    ['Source', model.sources.map(sourceLine).join('<br>')],
    ['lem', `measured with ${model.lemVersions.map(esc).join(', ') || 'unknown'}; report written by lem ${esc(model.reportLemVersion)} at ${esc(model.generatedAt)}`],
    ['Machine', machines.join('<br>') || 'unknown'],
    ['Dates', `${esc(model.firstStart ?? 'unknown')} → ${esc(model.lastEnd ?? 'unknown')} (UTC)`],
    ['Runs', `${model.runs.length}: ${counts('completed')} completed, ${counts('failed')} failed, ${counts('unreadable')} unreadable; ${model.configurations.length} configurations`],
  ];
  const warnings = model.warnings.map((w) => `<li${attrs({'data-code': w.code})}><code>${esc(w.code)}</code> ${esc(w.message)}${w.runs > 0 ? ` <span class="note">(${w.runs} of ${model.runs.length} runs)</span>` : ''}</li>`);
  return `<header><h1>${esc(model.title)}</h1><dl class="meta">${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>
<h2 id="warnings">Warnings</h2>${warnings.length > 0 ? `<ul class="warnings">${warnings.join('')}</ul>` : '<p>None.</p>'}</header>`;
}

function configurationsHtml(model: ReportModel): string {
  const head = ['Configuration', 'Runs', ...model.metrics.map((m) => `${esc(m.label)} (${esc(m.displayUnit)})`)].map((h) => `<th>${h}</th>`).join('');
  const rows = model.configurations.map((c) => {
    const key = {'data-config': labelOf(model, c)};
    const cells = model.metrics.map((m) => {
      const cell = c.cells[m.id]!;
      const data = {...key, 'data-metric': m.id, 'data-from': cell.from};
      return cell.stats ? statCell(cell.stats, m.displayScale, data) : gapCell(cell.reason ?? 'unknown', data);
    });
    const runs = `<td class="num"${attrs({'data-sort': c.completed})}>${c.completed}${c.failed > 0 ? `<small>${c.failed} failed</small>` : ''}</td>`;
    return `<tr${attrs({...key, class: c.completed === 0 ? 'failed' : undefined})}><th scope="row">${esc(labelOf(model, c))}</th>${runs}${cells.join('')}</tr>`;
  });
  const note = 'Mean ± half-width of the 95 % Student-t confidence interval across cycles; beneath, n (cycles that count: the last attempt of each) and the coefficient of variation. Runs given on their own have n = 1 and no interval. Click a column to sort.';
  return `<h2 id="configurations">Configurations</h2><p class="note">${note}</p><div class="wide"><table class="sortable" id="configurations-table"><thead><tr>${head}</tr></thead><tbody>${rows.join('\n')}</tbody></table></div>`;
}

function comparisonsTable(model: ReportModel): string {
  const {shown} = shownComparisons(model);
  if (shown.length === 0) return '<p class="note">No paired differences: they need a campaign with at least two configurations completed in a common cycle (runs given on their own are not paired).</p>';
  const rows = shown.map((c) => {
    const m = model.metrics.find((x) => x.id === c.metric)!;
    const key = {'data-source': c.source, 'data-a': c.a, 'data-b': c.b, 'data-metric': c.metric};
    const d = c.diff;
    const diff = d ? `<td class="num"${attrs({...key, 'data-n': d.n, 'data-mean-diff': String(d.meanDiff), 'data-ci-low': d.ciLow === null ? '' : String(d.ciLow), 'data-ci-high': d.ciHigh === null ? '' : String(d.ciHigh), 'data-sort': String(d.meanDiff)})}>${num(d.meanDiff * m.displayScale)}${d.halfWidth === null ? '' : ` ± ${num(d.halfWidth * m.displayScale)}`}<small>n=${d.n}${d.relativePct === null ? '' : ` · ${num(d.relativePct)} %`}</small></td>` : gapCell('no common completed cycle', key);
    return `<tr><td>${esc(m.label)} (${esc(m.displayUnit)})</td><td>${esc(labelOf(model, {source: c.source, name: c.b}))} − ${esc(labelOf(model, {source: c.source, name: c.a}))}</td>${diff}</tr>`;
  });
  return `<table class="sortable" id="comparisons-table"><thead><tr><th>Metric</th><th>B − A</th><th>Mean difference ± 95 % CI</th></tr></thead><tbody>${rows.join('\n')}</tbody></table>`;
}

const runMetric = (model: ReportModel, r: RunView, id: string): string => {
  const m = model.metrics.find((x) => x.id === id)!;
  const value = r.metrics ? m.get(r.metrics) : null;
  const reason = r.status !== 'completed' ? r.status : m.energy && r.energyReason ? `energy not measured: ${r.energyReason}` : 'unknown';
  return valueCell(value, m.displayScale, reason, {'data-run': r.id, 'data-metric': id});
};

const RUN_COLUMNS = ['energyPerOutputTokenJ', 'outputTokensPerS', 'ttftP90Ms', 'itlP90Ms', 'avgPowerW'];

function runRow(model: ReportModel, r: RunView): string {
  const key = {'data-run': r.id};
  const status = `<td${attrs({...key, 'data-status': r.status})}>${esc(r.status)}${r.failureCode ? `<small>${esc(r.failureCode)}</small>` : ''}</td>`;
  const cycle = r.cycle === null ? '<td>—</td>' : `<td${attrs({'data-sort': r.cycle})}>${r.cycle}${(r.attempt ?? 1) > 1 ? `<small>attempt ${r.attempt}</small>` : ''}</td>`;
  const notes = r.failure ?? [...new Set(r.warnings.map((w) => w.code))].join(', ');
  const cells = [`<td><code>${esc(r.id)}</code></td>`, `<td>${esc(labelOf(model, {source: r.source, name: r.configuration}))}</td>`, cycle, status, ...RUN_COLUMNS.map((id) => runMetric(model, r, id)), `<td class="notes">${esc(notes)}</td>`];
  return `<tr${attrs({...key, class: r.status === 'completed' ? undefined : 'failed'})}>${cells.join('')}</tr>`;
}

function runsTable(model: ReportModel): string {
  const label = (id: string) => {
    const m = model.metrics.find((x) => x.id === id)!;
    return `${esc(m.label)} (${esc(m.displayUnit)})`;
  };
  const head = ['Run', 'Configuration', 'Cycle', 'Status', ...RUN_COLUMNS.map(label), 'Failure or warnings'];
  const rows = model.runs.map((r) => runRow(model, r));
  return `<div class="wide"><table class="sortable" id="runs-table"><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.join('\n')}</tbody></table></div>`;
}

function definitionsHtml(model: ReportModel): string {
  const defs = Object.entries(model.definitions).map(([k, v]) => `<dt><code>${esc(k)}</code></dt><dd>${esc(v)}</dd>`).join('');
  const channels = model.channels.map((c) => `<tr><td>${esc(c.meter)}</td><td>${esc(c.channel)}</td><td>${esc(c.kind)}</td><td><strong>${esc(c.scope)}</strong></td><td>${c.estimated ? 'estimated' : 'measured'}</td><td>${esc(c.partOf ?? '')}</td><td>${esc(c.source)}</td></tr>`);
  const table = channels.length > 0 ? `<table id="channels-table"><thead><tr><th>Meter</th><th>Channel</th><th>Kind</th><th>Scope</th><th>Energy</th><th>Part of</th><th>Source</th></tr></thead><tbody>${channels.join('')}</tbody></table>` : '<p>No channel was measured.</p>';
  return `<h2 id="definitions">Definitions and energy scopes</h2><p class="note">As written in the runs' result.json.</p><dl class="meta definitions">${defs}</dl><h3>Energy channels and their scopes</h3>${table}`;
}

/** The whole page. `figures`: the summary figures first (Pareto, differences), then each configuration's run figures. */
export function reportHtml(model: ReportModel, summaryFigures: RenderedFigure[], runFigures: Array<{title: string; figures: RenderedFigure[]}>): string {
  const [pareto, forest] = [summaryFigures.filter((f) => f.id.startsWith('pareto')), summaryFigures.filter((f) => !f.id.startsWith('pareto'))];
  const csp = `default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-${sha256(SORT_SCRIPT)}'`;
  const perRun = runFigures.map((g) => `<h3>${esc(g.title)}</h3>${g.figures.map(figureHtml).join('\n')}`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${csp}"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(model.title)}</title><style>${CSS}</style></head><body>
${headerHtml(model)}
${configurationsHtml(model)}
<h2 id="pareto">Pareto frontier</h2>${pareto.map(figureHtml).join('\n')}
<h2 id="differences">Paired differences</h2>${forest.map(figureHtml).join('\n')}${comparisonsTable(model)}
<h2 id="runs">Runs</h2>${runsTable(model)}
${perRun}
${definitionsHtml(model)}
<footer>Written by lem ${esc(model.reportLemVersion)}; self-contained: no request leaves this page.</footer>
<script>${SORT_SCRIPT}</script></body></html>
`;
}
