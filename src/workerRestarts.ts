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

/** From this many deaths in a row the primary logs each at error level: a crash loop, for an operator's alert. */
export const CRASH_LOOP_DEATHS = 5;

/** 1 s, 2 s, 4 s, … up to 30 s between restarts until a worker lives a minute without dying. */
export const WORKER_RESTARTS: WorkerRestartOptions = { calmMs: 60_000, backoff: { baseMs: 1_000, maxMs: 30_000, jitter: 0 } };

/** The restart history of one worker slot: each replacement inherits the slot of the one it replaces. */
export class WorkerRestarts {
  private readonly backoff: Backoff;
  /** When the replacement of the last death starts (that death plus its wait). */
  private lastStartAt: number | undefined;
  /** Deaths since the slot's worker last lived `calmMs`, the last one included. */
  private inARow = 0;

  constructor(private readonly options: WorkerRestartOptions = WORKER_RESTARTS) {
    this.backoff = new Backoff(options.backoff);
  }

  /** Records a death at `now`; returns how long to wait before starting the replacement. */
  died(now: number): number {
    const oneOff = this.lastStartAt === undefined || now - this.lastStartAt >= this.options.calmMs;
    if (oneOff) this.backoff.reset();
    this.inARow = oneOff ? 1 : this.inARow + 1;
    const delay = oneOff ? 0 : this.backoff.nextDelay();
    this.lastStartAt = now + delay;
    return delay;
  }

  /** Deaths in a row, each within `calmMs` of its worker's start: a crash loop when it grows. */
  get deathsInARow(): number {
    return this.inARow;
  }
}
