// One clock for every bench process: CLOCK_MONOTONIC in microseconds, the clock process.hrtime
// reads, so a time taken in one process (a say's send time) compares with one taken in another
// (its receipt) on the same machine. performance.now() reads the same clock from another origin:
// the offset is taken once, and nowUs() then costs no allocation.

function hrtimeUs(): number {
  return Number(process.hrtime.bigint()) / 1000;
}

/** hrtime minus performance.now(), from the tightest of several bracketed readings. */
function measureOffset(): number {
  let best = { width: Number.POSITIVE_INFINITY, offset: 0 };
  for (let i = 0; i < 50; i++) {
    const before = performance.now() * 1000;
    const hr = hrtimeUs();
    const after = performance.now() * 1000;
    if (after - before < best.width) best = { width: after - before, offset: hr - (before + after) / 2 };
  }
  return best.offset;
}

const offsetUs = measureOffset();

/** Microseconds on the machine-wide monotonic clock. */
export function nowUs(): number {
  return performance.now() * 1000 + offsetUs;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
