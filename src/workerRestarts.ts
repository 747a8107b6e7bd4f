// When the cluster primary replaces a worker that died: at once after a one-off crash, later and
// later while it keeps dying, so that a worker crashing in a loop is not re-forked as fast as the
// machine allows. Pure: the caller passes the clock.
import { Backoff, type BackoffOptions } from './jobs/Backoff.ts';

export interface WorkerRestartOptions {
  /** A worker that lived this long (from its start, not from the previous death) died a one-off. */
  calmMs: number;
  /** Delays while the deaths keep coming. */
  backoff: BackoffOptions;
}

/** 1 s, 2 s, 4 s, … up to 30 s between restarts until a worker lives a minute without dying. */
export const WORKER_RESTARTS: WorkerRestartOptions = { calmMs: 60_000, backoff: { baseMs: 1_000, maxMs: 30_000, jitter: 0 } };

/** The restart history of one worker slot: each replacement inherits the slot of the one it replaces. */
export class WorkerRestarts {
  private readonly backoff: Backoff;
  /** When the replacement of the last death starts (that death plus its wait). */
  private lastStartAt: number | undefined;

  constructor(private readonly options: WorkerRestartOptions = WORKER_RESTARTS) {
    this.backoff = new Backoff(options.backoff);
  }

  /** Records a death at `now`; returns how long to wait before starting the replacement. */
  died(now: number): number {
    const oneOff = this.lastStartAt === undefined || now - this.lastStartAt >= this.options.calmMs;
    if (oneOff) this.backoff.reset();
    const delay = oneOff ? 0 : this.backoff.nextDelay();
    this.lastStartAt = now + delay;
    return delay;
  }
}
