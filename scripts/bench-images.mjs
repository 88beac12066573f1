#!/usr/bin/env node
// What the image check before a docker run costs (DESIGN §4): checkImages on the llama.cpp
// backend (one inspect on the engine plus a hash of its build context), and imageStatus's two
// parts apart. Needs the engine at DOCKER_HOST and the image (`docker/build-test-images.sh`);
// without an engine it prints {"skipped": reason} and exits 0, so `pnpm bench` goes on.
//
//   node scripts/bench-images.mjs            # needs `pnpm run build`
//   pnpm bench images
//
// REPS (default 50) sets the repetitions; each figure is the median, in milliseconds.
const core = new URL('../packages/core/dist/index.js', import.meta.url).href;
const llamacpp = new URL('../plugins/backend-llamacpp/dist/index.js', import.meta.url).href;
const REPS = Number(process.env.REPS ?? 50);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const stats = (xs) => ({medianMs: Number(median(xs).toFixed(3)), minMs: Number(Math.min(...xs).toFixed(3)), maxMs: Number(Math.max(...xs).toFixed(3)), n: xs.length});

async function timed(fn) {
  const samples = [];
  await fn(); // one unmeasured call: module and connection warm for every measured one alike
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return stats(samples);
}

const {buildRegistry, checkImages, dockerEngine, readBuildContext} = await import(core);
const {backend} = await import(llamacpp);
const registered = buildRegistry([{plugin: {name: '@lem/backend-llamacpp', version: '0.1.0'}, result: [backend]}]).backends.get('llamacpp');
const engine = dockerEngine();
try {
  await engine.docker.ping();
  await checkImages(engine, [registered]);
} catch (error) {
  console.log(JSON.stringify({skipped: `${engine.host}: ${error.code ?? ''} ${error.message}`.trim()}));
  process.exit(0);
}
const out = {
  engine: engine.host,
  reps: REPS,
  checkImages: await timed(() => checkImages(engine, [registered])),
  inspectOnly: await timed(() => engine.docker.getImage(backend.image.ref).inspect()),
  contextHashOnly: await timed(async () => readBuildContext(backend.image.dockerfile)),
};
console.log(JSON.stringify(out));
