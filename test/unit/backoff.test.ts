// The sync job's backoff while the durable store is down (DESIGN.md §8): exponential, capped,
// jittered by an injected rng, and driven by the caller's clock (no timers).
import { describe, expect, it } from 'vitest';
import { Backoff, SYNC_BACKOFF } from '../../src/jobs/Backoff.ts';
import { seededRng, type Rng } from '../../src/domain/rng.ts';

const T0 = 1_790_000_000_000;
const TICK = 5_000;

/** An rng that always returns the same value. */
const fixed = (value: number): Rng => () => value;

describe('Backoff.nextDelay', () => {
  it('doubles from baseMs and stops at maxMs when there is no jitter', () => {
    const backoff = new Backoff({ baseMs: 1_000, maxMs: 30_000, jitter: 0 });
    const delays = Array.from({ length: 8 }, () => backoff.nextDelay());
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
    expect(backoff.failures).toBe(8);
  });

  it('uses the given factor', () => {
    const backoff = new Backoff({ baseMs: 100, maxMs: 10_000, factor: 3, jitter: 0 });
    expect([backoff.nextDelay(), backoff.nextDelay(), backoff.nextDelay()]).toEqual([100, 300, 900]);
  });

  it('stays capped after very many failures (no overflow to Infinity or NaN)', () => {
    const backoff = new Backoff({ baseMs: 1_000, maxMs: 60_000, jitter: 0 });
    for (let i = 0; i < 5_000; i++) backoff.nextDelay();
    expect(backoff.nextDelay()).toBe(60_000);
  });

  it('takes off at most `jitter` of each delay, decided by the rng', () => {
    const options = { baseMs: 1_000, maxMs: 8_000, jitter: 0.5 };
    expect(new Backoff(options, fixed(0)).nextDelay()).toBe(1_000);
    expect(new Backoff(options, fixed(0.5)).nextDelay()).toBe(750);
    expect(new Backoff(options, fixed(0.999_999)).nextDelay()).toBe(500);

    const rng = seededRng(42);
    const backoff = new Backoff(options, rng);
    for (let n = 0; n < 50; n++) {
      const full = Math.min(8_000, 1_000 * 2 ** n);
      const delay = backoff.nextDelay();
      expect(delay).toBeGreaterThanOrEqual(full / 2);
      expect(delay).toBeLessThanOrEqual(full);
    }
  });

  it('gives the same delays for the same seed and different ones for another seed', () => {
    const run = (seed: number) => {
      const backoff = new Backoff(SYNC_BACKOFF, seededRng(seed));
      return Array.from({ length: 10 }, () => backoff.nextDelay());
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
  });

  it('starts again from baseMs after reset', () => {
    const backoff = new Backoff({ baseMs: 500, maxMs: 4_000, jitter: 0 });
    backoff.nextDelay();
    backoff.nextDelay();
    backoff.reset();
    expect(backoff.failures).toBe(0);
    expect(backoff.nextDelay()).toBe(500);
  });

  it('refuses options that make no sense', () => {
    expect(() => new Backoff({ baseMs: 0, maxMs: 10 })).toThrow(RangeError);
    expect(() => new Backoff({ baseMs: 100, maxMs: 10 })).toThrow(RangeError);
    expect(() => new Backoff({ baseMs: 10, maxMs: 100, factor: 0.5 })).toThrow(RangeError);
    expect(() => new Backoff({ baseMs: 10, maxMs: 100, jitter: 1.5 })).toThrow(RangeError);
    expect(() => new Backoff({ baseMs: Number.NaN, maxMs: 100 })).toThrow(RangeError);
  });
});

describe('Backoff as a per-tick gate', () => {
  it('runs every tick while attempts succeed', () => {
    const backoff = new Backoff(SYNC_BACKOFF, seededRng(1));
    for (let tick = 0; tick < 10; tick++) {
      expect(backoff.shouldRunAt(T0 + tick * TICK)).toBe(true);
      backoff.succeeded();
    }
  });

  it('skips ticks until the delay after a failure has passed', () => {
    const backoff = new Backoff({ baseMs: 12_000, maxMs: 60_000, jitter: 0 });
    expect(backoff.failed(T0)).toBe(12_000);
    expect(backoff.shouldRunAt(T0 + TICK)).toBe(false);
    expect(backoff.shouldRunAt(T0 + 2 * TICK)).toBe(false);
    expect(backoff.shouldRunAt(T0 + 12_000 - 1)).toBe(false);
    expect(backoff.shouldRunAt(T0 + 12_000)).toBe(true);
    expect(backoff.shouldRunAt(T0 + 3 * TICK)).toBe(true);
  });

  it('spaces the runs of a store that stays down further and further apart, then resumes every tick', () => {
    const backoff = new Backoff({ baseMs: TICK, maxMs: 40_000, jitter: 0 });
    const ran: number[] = [];
    let storeUp = false;
    for (let tick = 0; tick < 40; tick++) {
      const now = T0 + tick * TICK;
      if (tick === 30) storeUp = true;
      if (!backoff.shouldRunAt(now)) continue;
      ran.push(tick);
      if (storeUp) backoff.succeeded();
      else backoff.failed(now);
    }
    // Waits of 1, 2, 4, 8, 8, … ticks (40 s cap), then every tick once the store is back.
    expect(ran).toEqual([0, 1, 3, 7, 15, 23, 31, 32, 33, 34, 35, 36, 37, 38, 39]);
    expect(backoff.failures).toBe(0);
  });

  it('spreads the retries of workers that failed at the same moment', () => {
    const retries = new Set<number>();
    for (let worker = 0; worker < 10; worker++) {
      const backoff = new Backoff(SYNC_BACKOFF, seededRng(1_000 + worker));
      backoff.failed(T0);
      backoff.failed(T0);
      retries.add(backoff.failed(T0));
    }
    expect(retries.size).toBeGreaterThan(5);
  });
});
