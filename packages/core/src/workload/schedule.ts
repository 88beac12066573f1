/**
 * Seeded randomness for open-loop arrivals: the same seed gives the same schedule on every
 * machine and Node version (Math.random cannot be seeded), so a campaign's cycles replay the
 * same load.
 */

/** splitmix32: a 32-bit state generator with good equidistribution; returns floats in [0, 1). */
export function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    return (z >>> 0) / 4294967296;
  };
}

/**
 * Arrival times, ms from the start of the workload, of a Poisson process of rate `ratePerS`:
 * the first request arrives at 0 and each next one after an exponential wait
 * −ln(1 − u)/rate, u from {@link splitmix32}(seed). Times are absolute offsets (a running sum),
 * so sending at start + offset never accumulates timer drift.
 */
export function poissonSchedule(n: number, ratePerS: number, seed: number): number[] {
  if (!(ratePerS > 0) || !Number.isFinite(ratePerS)) throw new RangeError(`ratePerS must be a positive finite number, got ${ratePerS}`);
  const random = splitmix32(seed);
  const meanGapMs = 1000 / ratePerS;
  const times = new Array<number>(n);
  let t = 0;
  for (let i = 0; i < n; i++) {
    times[i] = t;
    t += -Math.log(1 - random()) * meanGapMs;
  }
  return times;
}
