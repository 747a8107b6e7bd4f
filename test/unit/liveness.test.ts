// Liveness pings are spread over the interval: each connection is probed once per interval, a
// slice of them each second, and nobody is judged on a tick that came late.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startLiveness, type Probed } from '../../src/gateway/liveness.ts';

afterEach(() => {
  vi.useRealTimers();
});

function connections(count: number) {
  const probes: boolean[][] = Array.from({ length: count }, () => []);
  const all: Probed[] = probes.map((calls) => ({
    probe(judge: boolean) {
      calls.push(judge);
    },
  }));
  return { all, probes };
}

describe('startLiveness', () => {
  it('probes every connection once per interval, a thirtieth of them each second', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
    const { all, probes } = connections(90);
    const stop = startLiveness(() => all, 30_000);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(probes.filter((calls) => calls.length > 0)).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(29_000);
    expect(probes.map((calls) => calls.length)).toEqual(Array<number>(90).fill(1));
    await vi.advanceTimersByTimeAsync(30_000);
    expect(probes.map((calls) => calls)).toEqual(Array.from({ length: 90 }, () => [true, true]));
    stop();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(probes.every((calls) => calls.length === 2)).toBe(true);
  });

  it('judges nobody on a tick that came late, and judges again after', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
    const { all, probes } = connections(1);
    startLiveness(() => all, 1_000);
    await vi.advanceTimersByTimeAsync(1_000);
    // The worker is held up: the clock moves on 2.5 s before the next tick can run.
    const late = performance.now();
    vi.spyOn(performance, 'now').mockReturnValueOnce(late + 2_500);
    await vi.advanceTimersByTimeAsync(1_000);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(probes[0]).toEqual([true, false, true]);
  });
});
