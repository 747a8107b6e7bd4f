// The per-connection action budget (docs/protocol.md "Limits") counts time on a monotonic clock:
// a wall clock stepped by NTP neither blocks a connection nor refills its budget.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TokenBucket } from '../../src/gateway/TokenBucket.ts';

afterEach(() => {
  vi.useRealTimers();
});

/** Takes tokens until the bucket refuses; returns how many it gave. */
function drain(bucket: TokenBucket): number {
  let taken = 0;
  while (bucket.take()) taken++;
  return taken;
}

describe('TokenBucket', () => {
  it('gives a burst, then refills at its rate', () => {
    let now = 0;
    const bucket = new TokenBucket(40, 20, () => now);
    expect(drain(bucket)).toBe(40);
    now += 500;
    expect(drain(bucket)).toBe(10);
  });

  it('keeps refilling when the wall clock is stepped back', () => {
    vi.useFakeTimers({ now: 1_790_000_000_000, toFake: ['Date', 'performance'] });
    const bucket = new TokenBucket(40, 20);
    expect(drain(bucket)).toBe(40);

    vi.setSystemTime(Date.now() - 60_000); // NTP steps the wall clock back a minute
    vi.advanceTimersByTime(1_000);
    expect(drain(bucket)).toBe(20);
  });

  it('does not refill when the wall clock is stepped forward', () => {
    vi.useFakeTimers({ now: 1_790_000_000_000, toFake: ['Date', 'performance'] });
    const bucket = new TokenBucket(40, 20);
    expect(drain(bucket)).toBe(40);

    vi.setSystemTime(Date.now() + 60_000);
    expect(bucket.take()).toBe(false);
  });
});
