// Work done for every connection once per interval, spread over it: a slice of them each second,
// so that a worker holding thousands never does it for all of them in one turn of its event loop.

/**
 * Calls `visit` each second (or each interval, if shorter) with the items of `items()` whose turn
 * it is: every item once per interval. `onTime` is false after a tick that came late (this worker
 * stalled: a GC, a paused VM). Returns the stop.
 */
export function spreadOver<T extends object>(items: () => Iterable<T>, intervalMs: number, visit: (due: T[], onTime: boolean) => void): () => void {
  if (intervalMs <= 0) return () => undefined;
  const tickMs = Math.min(1000, intervalMs);
  const slices = Math.ceil(intervalMs / tickMs);
  const slots = new WeakMap<T, number>();
  let nextSlot = 0;
  let tick = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const onTime = now - last < tickMs * 1.5;
    last = now;
    const slice = tick++ % slices;
    const due: T[] = [];
    for (const item of items()) {
      let slot = slots.get(item);
      if (slot === undefined) slots.set(item, (slot = nextSlot++ % slices));
      if (slot === slice) due.push(item);
    }
    if (due.length > 0) visit(due, onTime);
  }, tickMs);
  timer.unref();
  return () => {
    clearInterval(timer);
  };
}
