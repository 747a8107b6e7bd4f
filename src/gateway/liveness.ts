// Finds clients whose network vanished without a close: each is pinged once per interval and
// dropped if it left the previous ping unanswered (PlayerConnection.probe). The pings are spread
// over the interval, a slice of the connections each second: pinging 5,000 sockets at once held a
// worker's event loop for tens of ms every interval, which players felt as a hiccup.

/** What liveness needs of a connection. */
export interface Probed {
  probe(judge: boolean): void;
}

/** Starts probing `connections()` (read at each tick); returns the stop. */
export function startLiveness(connections: () => Iterable<Probed>, intervalMs: number): () => void {
  if (intervalMs <= 0) return () => undefined;
  const tickMs = Math.min(1000, intervalMs);
  const slices = Math.ceil(intervalMs / tickMs);
  const slots = new WeakMap<Probed, number>();
  let nextSlot = 0;
  let tick = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    // After a tick that came late (this worker stalled: a GC, a paused VM), pongs may still be
    // unread, timers running before sockets are read: then nobody is judged, only pinged again.
    const onTime = now - last < tickMs * 1.5;
    last = now;
    const slice = tick++ % slices;
    for (const connection of connections()) {
      let slot = slots.get(connection);
      if (slot === undefined) slots.set(connection, (slot = nextSlot++ % slices));
      if (slot === slice) connection.probe(onTime);
    }
  }, tickMs);
  timer.unref();
  return () => {
    clearInterval(timer);
  };
}
