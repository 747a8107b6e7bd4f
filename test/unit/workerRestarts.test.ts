// The cluster primary replaces a crashed worker at once, but not as fast as the machine allows
// while it keeps crashing.
import { describe, expect, it } from 'vitest';
import { WorkerRestarts, WORKER_RESTARTS } from '../../src/workerRestarts.ts';

const T0 = 1_790_000_000_000;

describe('WorkerRestarts', () => {
  it('restarts a one-off crash at once', () => {
    expect(new WorkerRestarts().died(T0)).toBe(0);
  });

  it('waits longer and longer, up to 30 s, while the worker keeps dying', () => {
    const restarts = new WorkerRestarts();
    let now = T0;
    const delays: number[] = [];
    for (let death = 0; death < 8; death++) {
      const delay = restarts.died(now);
      delays.push(delay);
      now += delay + 500; // the replacement dies half a second after it starts
    }
    expect(delays).toEqual([0, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
  });

  it('counts the deaths in a row, from 1 again once the worker has lived a while', () => {
    const restarts = new WorkerRestarts();
    let now = T0;
    const counts: number[] = [];
    for (let death = 0; death < 6; death++) {
      now += restarts.died(now) + 500;
      counts.push(restarts.deathsInARow);
    }
    restarts.died(now + WORKER_RESTARTS.calmMs);
    expect([...counts, restarts.deathsInARow]).toEqual([1, 2, 3, 4, 5, 6, 1]);
  });

  it('treats a death as a one-off again once the worker has lived a while', () => {
    const restarts = new WorkerRestarts();
    restarts.died(T0);
    expect(restarts.died(T0 + 100)).toBe(1_000);
    // That replacement starts at T0 + 1,100 and dies at once; the next starts at T0 + 3,200.
    expect(restarts.died(T0 + 1_200)).toBe(2_000);
    expect(restarts.died(T0 + 3_200 + WORKER_RESTARTS.calmMs)).toBe(0);
    expect(restarts.died(T0 + 3_300 + WORKER_RESTARTS.calmMs)).toBe(1_000);
  });

  it('counts the minute from the start of the replacement, not from the death before it', () => {
    const restarts = new WorkerRestarts();
    let now = T0;
    const delays: number[] = [];
    // Each replacement lives 31 s: with the 30 s wait, 61 s pass between two deaths.
    for (let death = 0; death < 9; death++) {
      const delay = restarts.died(now);
      delays.push(delay);
      now += delay + 31_000;
    }
    expect(delays).toEqual([0, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });
});
