import type {ExperimentResult} from '@lem/core';
import {bold, dim, red, yellow} from './render.js';
import {table} from './render.js';

const n = (v: number | null | undefined, digits = 2, unit = '') => (v === null || v === undefined || Number.isNaN(v) ? '—' : `${v.toFixed(digits)}${unit}`);

/** The figures of one run as a table, with units and the energy's honesty labels. */
export function renderResultTable(result: ExperimentResult): string {
  const lines: string[] = [];
  const m = result.metrics;
  const status = result.status === 'completed' ? bold('completed') : red(`✗ ${result.failure?.category}: ${result.failure?.code}`);
  lines.push(`${bold(result.experiment.name)}  ${status}`);
  if (!m) {
    if (result.failure) lines.push(result.failure.message);
    for (const w of result.warnings) lines.push(yellow(`warning ${w.code}: ${w.message}`));
    return lines.join('\n');
  }
  const rows: string[][] = [
    ['window', `${n(m.window.durationS, 2)} s`],
    ['requests', `${m.requests.ok} ok, ${m.requests.failed} failed`],
    ['output tokens/s', n(m.outputTokensPerS, 1)],
    ['requests/s', n(m.requestsPerS, 2)],
    ['TTFT p50 / p99', `${n(m.ttftMs?.p50)} / ${n(m.ttftMs?.p99)} ms`],
    ['ITL p50 / p99', `${n(m.itlMs?.p50, 3)} / ${n(m.itlMs?.p99, 3)} ms`],
    ['E2E p50 / p99', `${n(m.e2eMs?.p50, 1)} / ${n(m.e2eMs?.p99, 1)} ms`],
  ];
  const e = m.energy;
  if (e.available) {
    const label = e.estimated ? yellow(' (estimated)') : '';
    const range = e.modelRangeJ ? ` (model range ${n(e.modelRangeJ.lowJ, 3)}–${n(e.modelRangeJ.highJ, 3)} J)` : '';
    const top = e.channels.filter((c) => c.partOf === undefined);
    rows.push(
      ['energy', `${n(e.energyJ, 3)} J ± ${n(e.uncertaintyJ, 3)}${label}${range}`],
      // What each joule covers: a GPU, a whole CPU socket (lem included), or the server's processes only.
      ['energy scope', top.map((c) => `${c.meter}/${c.channel}: ${c.scope}`).join(', ')],
      ['idle power', `${n(e.idlePowerW, 3)} W ± ${n(e.idlePowerStdW, 3)} (std)`],
      ['idle-adjusted energy', `${n(e.idleAdjustedEnergyJ, 3)} J`],
      ['energy / output token', `${n(e.energyPerOutputTokenJ === null ? null : e.energyPerOutputTokenJ * 1000, 4)} mJ`],
      ['GPU energy / 1k queries', e.gpuEnergyPer1kQueriesWh === null ? `— (${e.nullReasons.gpuEnergyPer1kQueriesWh ?? 'unknown'})` : `${n(e.gpuEnergyPer1kQueriesWh, 4)} Wh (AI Energy Score's unit)`],
      ['all energy / 1k queries', `${n(e.totalEnergyPer1kQueriesWh, 4)} Wh (every channel of the total)`],
      ['average power', `${n(e.avgPowerW, 3)} W`],
    );
  } else {
    rows.push(['energy', `null (${e.reason})`]);
  }
  const f = m.flops;
  const g = (x: number) => (x >= 1e12 ? `${(x / 1e12).toFixed(2)} TFLOP` : x >= 1e9 ? `${(x / 1e9).toFixed(2)} GFLOP` : `${(x / 1e6).toFixed(2)} MFLOP`);
  rows.push(['FLOPs (estimate)', f.available ? `${g(f.prefillFlops)} prefill + ${g(f.decodeFlops)} decode` : `— (${f.reason})`]);
  const st = m.steadyState;
  rows.push(
    st.available
      ? ['steady state', `${n(st.durationS, 2)} s: ${n(st.outputTokensPerS, 1)} tokens/s, ${st.energyJ === null ? `energy null (${st.energyReason})` : `${n(st.energyJ, 3)} J, ${n(st.avgPowerW, 3)} W`}`]
      : ['steady state', `— (${st.reason})`],
  );
  lines.push(table(['FIGURE', 'VALUE'], rows));
  // The names that mean different things in different tools, defined where the numbers are.
  for (const key of ['itlMs', 'energyJ', 'scope', 'idleAdjustedEnergyJ']) if (result.definitions[key]) lines.push(dim(result.definitions[key]!));
  for (const w of result.warnings) lines.push(yellow(`warning ${w.code}: ${w.message}`));
  return lines.join('\n');
}
