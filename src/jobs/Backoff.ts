// How the sync job waits out a durable store that is down (DESIGN.md §8: play continues on hot
// state, dirty sets grow, sync retries with backoff). The job still fires every tick; while
// backing off it asks shouldRunAt(now) and skips the tick, so a dead PostgreSQL is not hammered
// every few seconds by every worker. Pure: the caller passes the clock and the randomness.
import type { Rng } from '../domain/rng.ts';

export interface BackoffOptions {
  /** Delay after the first failure, in ms. */
  baseMs: number;
  /** No delay is ever longer than this, in ms. */
  maxMs: number;
  /** Each further failure multiplies the delay by this (default 2). */
  factor?: number;
  /**
   * Share of each delay left to chance, in [0, 1] (default 0.5): the delay falls in
   * (d × (1 − jitter), d], so workers that failed together do not all retry together.
   */
  jitter?: number;
}

/** For the sync job, which ticks every few seconds: wait 5 s, 10 s, 20 s, … up to 2 min. */
export const SYNC_BACKOFF: BackoffOptions = { baseMs: 5_000, maxMs: 120_000, factor: 2, jitter: 0.5 };

export class Backoff {
  private readonly factor: number;
  private readonly jitter: number;
  private attempts = 0;
  private retryAt: number | undefined;

  constructor(
    private readonly options: BackoffOptions,
    private readonly rng: Rng = Math.random,
  ) {
    this.factor = options.factor ?? 2;
    this.jitter = options.jitter ?? 0.5;
    if (!(options.baseMs > 0) || !(options.maxMs >= options.baseMs)) {
      throw new RangeError('backoff needs 0 < baseMs <= maxMs');
    }
    if (!(this.factor >= 1)) throw new RangeError('backoff factor must be at least 1');
    if (!(this.jitter >= 0 && this.jitter <= 1)) throw new RangeError('backoff jitter must lie in [0, 1]');
  }

  /** Failures since the last success (or reset). */
  get failures(): number {
    return this.attempts;
  }

  /**
   * The delay before the next attempt, counting one more failure: baseMs × factor^n capped at
   * maxMs, less up to `jitter` of it at random.
   */
  nextDelay(): number {
    const full = Math.min(this.options.maxMs, this.options.baseMs * this.factor ** this.attempts);
    this.attempts++;
    return Math.round(full * (1 - this.jitter * this.rng()));
  }

  /** Forgets every failure: the next delay is baseMs again and nothing is skipped. */
  reset(): void {
    this.attempts = 0;
    this.retryAt = undefined;
  }

  /** False while backing off: the tick at `now` should be skipped. */
  shouldRunAt(now: number): boolean {
    return this.retryAt === undefined || now >= this.retryAt;
  }

  /** Records a failed attempt at `now`; returns the delay until the next one may run. */
  failed(now: number): number {
    const delay = this.nextDelay();
    this.retryAt = now + delay;
    return delay;
  }

  /** Records a successful attempt: back to running every tick. */
  succeeded(): void {
    this.reset();
  }
}
