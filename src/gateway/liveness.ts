// Finds clients whose network vanished without a close: each is pinged once per interval and
// dropped if it left the previous ping unanswered (PlayerConnection.probe). The pings are spread
// over the interval, a slice of the connections each second: pinging 5,000 sockets at once held a
// worker's event loop for tens of ms every interval, which players felt as a hiccup.
import { spreadOver } from './spread.ts';

/** What liveness needs of a connection. */
export interface Probed {
  probe(judge: boolean): void;
}

/** Starts probing `connections()` (read at each tick); returns the stop. */
export function startLiveness(connections: () => Iterable<Probed>, intervalMs: number): () => void {
  // After a tick that came late, pongs may still be unread, timers running before sockets are
  // read: then nobody is judged, only pinged again.
  return spreadOver(connections, intervalMs, (due, onTime) => {
    for (const connection of due) connection.probe(onTime);
  });
}
