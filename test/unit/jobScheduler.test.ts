// Background jobs run once per tick across workers (DESIGN.md §7). Three schedulers sharing one
// LocalLocks stand for three workers sharing Redis; clocks are injected, never waited on.
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LocalLocks } from '../../src/adapters/locks/LocalLocks.ts';
import { JobScheduler, type JobDefinition } from '../../src/jobs/JobScheduler.ts';

const INTERVAL = 5_000;
/** A tick boundary: T0 / INTERVAL is a whole number. */
const T0 = 1_790_000_000_000;

interface Captured {
  level: number;
  msg: string;
  job?: string;
}

function capturingLog() {
  const lines: Captured[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line) as Captured) });
  return { log, lines };
}

function countingJob(name = 'sync', run: () => Promise<unknown> = () => Promise.resolve()) {
  let runs = 0;
  const job: JobDefinition = {
    name,
    intervalMs: INTERVAL,
    run: () => {
      runs += 1;
      return run();
    },
  };
  return { job, runs: () => runs };
}

function workers(count: number, now: () => number) {
  const locks = new LocalLocks(now);
  const { log, lines } = capturingLog();
  return { schedulers: Array.from({ length: count }, () => new JobScheduler(locks, log, now)), lines };
}

interface Gate {
  promise: Promise<void>;
  open: () => void;
}

function gate(): Gate {
  let open: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('a worker not ready for a job (its store backing off)', () => {
  it('leaves each tick to the other workers, whichever of them comes first', async () => {
    let now = T0;
    const { schedulers } = workers(3, () => now);
    const [backingOff, ...others] = schedulers;
    if (!backingOff) throw new Error('no scheduler');
    const { job, runs } = countingJob();
    for (let tick = 0; tick < 5; tick++) {
      now += INTERVAL;
      // The worker backing off asks first every time, as the one whose timer fires first would.
      expect(await backingOff.tick({ ...job, ready: () => false })).toBe(false);
      const ran = await Promise.all(others.map((scheduler) => scheduler.tick(job)));
      expect(ran.filter(Boolean)).toHaveLength(1);
    }
    expect(runs()).toBe(5);
  });
});

describe('LocalLocks under a long-running process', () => {
  it('forgets the claims of ticks gone by, so the table stays as small after a day as after a minute', async () => {
    let now = T0;
    const locks = new LocalLocks(() => now);
    const scheduler = new JobScheduler(locks, capturingLog().log, () => now);
    const { job, runs } = countingJob();
    // A day of 5 s ticks.
    for (let tick = 0; tick < 17_280; tick++) {
      now += INTERVAL;
      await scheduler.tick(job);
    }
    expect(runs()).toBe(17_280);
    // The claims of the last two ticks at most are still live (a claim lasts two intervals).
    expect(locks.size).toBeLessThanOrEqual(3);
  });
});

describe('JobScheduler.tick across three workers', () => {
  it('runs the job exactly once per tick, however many workers try', async () => {
    let now = T0 + 1_234;
    const { schedulers } = workers(3, () => now);
    const { job, runs } = countingJob();

    const first = await Promise.all(schedulers.map((scheduler) => scheduler.tick(job)));
    expect(first.filter(Boolean)).toHaveLength(1);
    expect(runs()).toBe(1);

    // A worker that gets to the same tick late, after the run finished, does not run it again.
    const late = await Promise.all(schedulers.map((scheduler) => scheduler.tick(job)));
    expect(late).toEqual([false, false, false]);
    expect(runs()).toBe(1);

    now += INTERVAL;
    const second = await Promise.all(schedulers.map((scheduler) => scheduler.tick(job)));
    expect(second.filter(Boolean)).toHaveLength(1);
    expect(runs()).toBe(2);
  });

  it('runs different jobs independently in the same tick', async () => {
    const { schedulers } = workers(3, () => T0);
    const sync = countingJob('sync');
    const cleanup = countingJob('disconnected-cleanup');
    await Promise.all(schedulers.flatMap((scheduler) => [scheduler.tick(sync.job), scheduler.tick(cleanup.job)]));
    expect([sync.runs(), cleanup.runs()]).toEqual([1, 1]);
  });

  it('releases the job after it throws, so the next tick runs it, and logs the failure', async () => {
    let now = T0;
    const { schedulers, lines } = workers(3, () => now);
    let fail = true;
    const { job, runs } = countingJob('sync', () => (fail ? Promise.reject(new Error('database unreachable')) : Promise.resolve()));

    const failed = await Promise.all(schedulers.map((scheduler) => scheduler.tick(job)));
    expect(failed).toEqual([false, false, false]);
    expect(runs()).toBe(1);
    expect(lines).toEqual([expect.objectContaining({ level: 50, job: 'sync', msg: expect.stringContaining('job failed') as unknown })]);

    // The running lease would last two intervals if the failed run had kept it.
    fail = false;
    now += INTERVAL;
    const next = await Promise.all(schedulers.map((scheduler) => scheduler.tick(job)));
    expect(next.filter(Boolean)).toHaveLength(1);
    expect(runs()).toBe(2);
  });

  it('runs nothing once stopped', async () => {
    const { schedulers } = workers(1, () => T0);
    const [scheduler] = schedulers;
    const { job, runs } = countingJob();
    await scheduler?.stop();
    expect(await scheduler?.tick(job)).toBe(false);
    expect(runs()).toBe(0);
  });
});

describe('JobScheduler.tick on two workers whose clocks disagree', () => {
  // Each worker numbers ticks by its own clock; leases expire on Redis's. Worker A's clock is
  // right and its timer fires 100 ms into each interval; B's is `skew` ms off and fires at `phase`.
  it.each([
    { skew: -300, phase: 200 },
    { skew: -(INTERVAL - 1), phase: 200 },
    { skew: 300, phase: INTERVAL - 150 },
    { skew: INTERVAL - 1, phase: INTERVAL - 150 },
  ])('runs the job once per interval with B $skew ms off, firing $phase ms in', async ({ skew, phase }) => {
    let redisNow = T0;
    const locks = new LocalLocks(() => redisNow);
    const { log } = capturingLog();
    const a = new JobScheduler(locks, log, () => redisNow);
    const b = new JobScheduler(locks, log, () => redisNow + skew);
    const { job, runs } = countingJob();
    const perInterval: number[] = [];
    for (let interval = 0; interval <= 10; interval++) {
      const before = runs();
      redisNow = T0 + interval * INTERVAL + 100;
      await a.tick(job);
      redisNow = T0 + interval * INTERVAL + phase;
      await b.tick(job);
      perInterval.push(runs() - before);
    }
    // The first interval may run a tick A never saw; from then on, one run per interval.
    expect(perInterval.slice(1)).toEqual(Array.from({ length: 10 }, () => 1));
  });
});

/** Two workers on fake clocks and a job whose run lasts until `slow` opens. */
function slowJobOnTwoWorkers() {
  vi.useFakeTimers({ now: T0, toFake: ['Date', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
  const { schedulers } = workers(2, () => Date.now());
  const [a, b] = schedulers;
  if (!a || !b) throw new Error('two workers expected');
  const slow = gate();
  const started = gate();
  const { job, runs } = countingJob('sync', () => {
    started.open();
    return slow.promise;
  });
  return { a, b, job, runs, slow, started };
}

describe('JobScheduler: a run longer than its lease', () => {
  it('renews the lease while the job runs, so no other worker starts a second run', async () => {
    const { a, b, job, runs, slow, started } = slowJobOnTwoWorkers();

    const running = a.tick(job);
    await started.promise;
    // The lease lasts 2 intervals (10 s); the run is still going after 3 intervals.
    await vi.advanceTimersByTimeAsync(3 * INTERVAL);
    const overlapping = b.tick(job);
    await vi.advanceTimersByTimeAsync(0);
    expect(runs()).toBe(1);

    slow.open();
    expect(await running).toBe(true);
    expect(await overlapping).toBe(false);
    // The run is over: its renewal stopped and its lease is free for the next tick.
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(await b.tick(job)).toBe(true);
    expect(runs()).toBe(2);
  });

  it('renews the lease of a run started by runNow (a manual save) too', async () => {
    const { a, b, job, runs, slow, started } = slowJobOnTwoWorkers();

    const manual = a.runNow(job);
    await started.promise;
    await vi.advanceTimersByTimeAsync(3 * INTERVAL);
    expect(await b.tick(job)).toBe(false);
    expect(runs()).toBe(1);

    slow.open();
    await manual;
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(await b.tick(job)).toBe(true);
  });

  it('stop waits for a run started by runNow (a manual save), whose lease the final sync needs', async () => {
    const { a, job, slow, started } = slowJobOnTwoWorkers();
    const manual = a.runNow(job);
    await started.promise;
    let stopped = false;
    const stopping = a.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(stopped).toBe(false);
    slow.open();
    await manual;
    await stopping;
    expect(stopped).toBe(true);
  });

  it('warns once when a run finds its lease lost (a stall longer than the lease), and stops renewing it', async () => {
    vi.useFakeTimers({ now: T0, toFake: ['Date', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
    const locks = new LocalLocks(() => Date.now());
    const { log, lines } = capturingLog();
    const [a, b] = [new JobScheduler(locks, log), new JobScheduler(locks, log)];
    const slow = gate();
    const { job, runs } = countingJob('sync', () => slow.promise);

    const stalled = a.tick(job);
    await vi.advanceTimersByTimeAsync(0);
    // A's event loop stalls for three intervals: none of its timers fire, its lease expires.
    vi.setSystemTime(T0 + 3 * INTERVAL);
    const taken = b.tick(job);
    await vi.advanceTimersByTimeAsync(0);
    expect(runs()).toBe(2);

    // A resumes; its renewals find the lease B now holds.
    await vi.advanceTimersByTimeAsync(3 * INTERVAL);
    expect(lines).toEqual([
      expect.objectContaining({ level: 40, job: 'sync', msg: expect.stringContaining('lease lost') as unknown }),
    ]);

    slow.open();
    expect(await stalled).toBe(true);
    expect(await taken).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('lets the lease lapse when its holder stops renewing (a worker that died)', async () => {
    let now = T0;
    const locks = new LocalLocks(() => now);
    const { log } = capturingLog();
    const survivor = new JobScheduler(locks, log, () => now);
    const { job, runs } = countingJob();
    // The dead worker took the running lease (2 intervals) and never renewed nor released it.
    expect(await locks.acquire(job.name, 2 * INTERVAL)).not.toBeNull();

    now += INTERVAL;
    expect(await survivor.tick(job)).toBe(false);
    now += INTERVAL;
    expect(await survivor.tick(job)).toBe(true);
    expect(runs()).toBe(1);
  });
});

describe('JobScheduler.start on three workers', () => {
  it('runs the job once per interval in total, and stop waits for a run in progress', async () => {
    vi.useFakeTimers({ now: T0, toFake: ['Date', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
    const { schedulers } = workers(3, () => Date.now());
    let finishLast: Gate | null = null;
    const { job, runs } = countingJob('sync', () => {
      if (runs() < 3) return Promise.resolve();
      finishLast = gate();
      return finishLast.promise;
    });
    for (const scheduler of schedulers) scheduler.start(job);

    await vi.advanceTimersByTimeAsync(3 * INTERVAL);
    expect(runs()).toBe(3);

    let stopped = false;
    const stopping = Promise.all(schedulers.map((scheduler) => scheduler.stop())).then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    (finishLast as Gate | null)?.open();
    await stopping;
    expect(stopped).toBe(true);

    await vi.advanceTimersByTimeAsync(3 * INTERVAL);
    expect(runs()).toBe(3);
  });
});
