#!/usr/bin/env node
// Peak memory of a long run's timeline: a synthetic timeline sampled every 10 ms (RAPL package and
// DRAM, one GPU with its extras: 3 rows per tick) is written the way the sampler's worker writes it
// (appended tick by tick), then its figures are computed the way `lem experiment` and `lem results
// recompute` compute them (one streamed pass over timeline.csv). Each case runs in a child process
// of its own, so its peak resident memory (maxRSS) is its own. For contrast, the same file parsed
// whole into memory, as a reader that holds the timeline would.
//
// V8 lets its heap grow before it collects, so a plain peak RSS overstates what is kept: the
// streaming cases also run with V8's heap held small (old space 24 MB, semi-spaces 2 MB): they
// finish at the same speed, so what they keep is bounded, and every case reports its live heap after a full collection at the end.
//
//   node scripts/bench-timeline.mjs          # 30 and 90 minutes; needs core built
//
// Prints one JSON document.
import {spawnSync} from 'node:child_process';
import {mkdtempSync, rmSync, statSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';

const self = fileURLToPath(import.meta.url);
const core = new URL('../packages/core/dist/index.js', import.meta.url).href;
const INTERVAL_MS = 10;

if (process.argv[2] === '--child') await child(process.argv[3], process.argv[4], Number(process.argv[5]));
else orchestrate();

function orchestrate() {
  const work = mkdtempSync(join(tmpdir(), 'lem-bench-timeline-'));
  const out = {node: process.version, intervalMs: INTERVAL_MS, rowsPerTick: 3, cases: []};
  try {
    for (const minutes of [30, 90]) {
      const file = join(work, `timeline-${minutes}.csv`);
      const run = (mode, flags = []) => {
        const r = spawnSync(process.execPath, ['--expose-gc', ...flags, self, '--child', mode, file, String(minutes)], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit']});
        if (r.status !== 0) throw new Error(`${mode} (${minutes} min) exited ${r.status}`);
        return JSON.parse(r.stdout);
      };
      const write = run('write');
      const stream = run('figures');
      const capped = run('figures', ['--max-old-space-size=24', '--max-semi-space-size=2']);
      const whole = run('parse-whole');
      out.cases.push({minutes, ticks: write.ticks, rows: write.rows, fileMB: Number((statSync(file).size / 2 ** 20).toFixed(1)), write, streamedFigures: stream, streamedFiguresSmallHeap: capped, parsedWhole: whole});
    }
  } finally {
    rmSync(work, {recursive: true, force: true});
  }
  console.log(JSON.stringify(out, null, 2));
}

async function child(mode, file, minutes) {
  const {TimelineCsvAppender, computeFigures, parseTimelineCsv, readTimelineCsv} = await import(core);
  const {readFileSync} = await import('node:fs');
  const ticks = (minutes * 60_000) / INTERVAL_MS;
  const t0 = process.hrtime.bigint();
  const mb = () => Number((process.resourceUsage().maxRSS / 1024).toFixed(1));
  const liveMB = () => {
    globalThis.gc();
    return Number((process.memoryUsage().heapUsed / 2 ** 20).toFixed(1));
  };
  const seconds = () => Number((Number(process.hrtime.bigint() - t0) / 1e9).toFixed(2));
  const channels = [
    {meter: 'rapl', channel: 'package-0', kind: 'counter', estimated: false, scope: 'socket', source: 'bench', updatePeriodMs: 1},
    {meter: 'rapl', channel: 'package-0/dram', kind: 'counter', estimated: false, scope: 'socket', source: 'bench', updatePeriodMs: 1},
    {meter: 'nvml', channel: 'GPU-bench', kind: 'counter', estimated: false, scope: 'device', source: 'bench', updatePeriodMs: 100},
  ];
  if (mode === 'write') {
    const appender = new TimelineCsvAppender(file, true);
    for (let k = 0; k < ticks; k++) {
      const t = k * INTERVAL_MS;
      const read = (channel, meter, watts, extra = {}) => ({meter, channel, energyJ: (watts * t) / 1000, powerW: watts + (k % 7), readStartMs: t + 0.05, readEndMs: t + 0.08, ...extra});
      appender.append([
        {scheduledMs: t, read: read('package-0', 'rapl', 80)},
        {scheduledMs: t, read: read('package-0/dram', 'rapl', 12)},
        {scheduledMs: t, read: read('GPU-bench', 'nvml', 300, {temperatureC: 60 + (k % 5), smClockMhz: 1980, memoryUsedBytes: 2 ** 34, clockEventReasons: 0, processes: 1, foreignProcesses: 0})},
      ]);
    }
    appender.close();
    console.log(JSON.stringify({ticks, rows: appender.rows, seconds: seconds(), maxRssMB: mb(), liveHeapMB: liveMB()}));
    return;
  }
  if (mode === 'parse-whole') {
    const samples = parseTimelineCsv(readFileSync(file, 'utf8'));
    const live = liveMB(); // with the samples still held
    console.log(JSON.stringify({samples: samples.length, seconds: seconds(), maxRssMB: mb(), liveHeapMB: live}));
    return;
  }
  // The figures of a run whose measure window spans the whole timeline but its first and last minute.
  const endMs = (ticks - 1) * INTERVAL_MS;
  const read = (channel, meter, watts, t) => ({meter, channel, energyJ: (watts * t) / 1000, powerW: watts, readStartMs: t, readEndMs: t});
  const boundary = (label, t) => ({label, atMs: t, reads: [read('package-0', 'rapl', 80, t), read('package-0/dram', 'rapl', 12, t), read('GPU-bench', 'nvml', 300, t)]});
  const startMs = 60_000;
  const stopMs = endMs - 60_000;
  const records = [];
  for (let t = startMs, id = 0; t + 1000 <= stopMs; t += 1000, id++) {
    records.push({id, phase: 'measure', promptIndex: id, scheduledMs: t, sendMs: t, firstChunkMs: t + 20, firstContentMs: t + 20, lastContentMs: t + 900, endMs: t + 900, chunkGapsMs: [], contentChunks: 64, promptTokens: 128, outputTokens: 64, tokenSource: 'usage', finishReason: 'length', ok: true, httpStatus: 200, error: null});
  }
  const figures = computeFigures({
    records,
    phases: [{name: 'measure', startMs, endMs: stopMs, durationMs: stopMs - startMs}],
    boundaries: [boundary('idle:start', 1000), boundary('idle:end', 30_000), boundary('measure:start', startMs), boundary('measure:end', stopMs)],
    channels,
    energyNullReason: null,
    steadyWindow: {startMs: startMs + 60_000, endMs: stopMs - 60_000},
    intervalMs: INTERVAL_MS,
    timeline: readTimelineCsv(file),
  });
  console.log(JSON.stringify({energyJ: Number(figures.metrics.energy.energyJ.toFixed(1)), peakPowerW: figures.metrics.energy.peakPowerW, seconds: seconds(), maxRssMB: mb(), liveHeapMB: liveMB()}));
}
