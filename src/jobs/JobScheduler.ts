// Background jobs, each run at most once per tick across all workers (DESIGN.md §7): a worker
// first claims the tick (a lease named after the tick number, left to expire), then holds a
// running lease, renewed while the job runs and released by its holder, so that a slow run never
// overlaps the next one. Workers number ticks by their own clocks, which may disagree by up to one
// interval (see tickClaimTtl).
import type { Log } from '../log.ts';
import type { Lease, Locks } from '../adapters/locks/Locks.ts';

export interface JobDefinition {
  name: string;
  intervalMs: number;
  run: () => Promise<unknown>;
  /**
   * False when this worker should sit the tick out (its store backs off after failures): asked
   * before the tick is claimed, so that another worker takes it.
   */
  ready?: () => boolean;
}

/** runNow gave up: another worker kept the job's running lease. */
export class LeaseBusyError extends Error {}

export class JobScheduler {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<Promise<boolean>>();
  private stopped = false;

  constructor(
    private readonly locks: Locks,
    private readonly log: Log,
    private readonly now: () => number = Date.now,
  ) {}

  start(job: JobDefinition): void {
    if (job.intervalMs <= 0) return;
    const timer = setInterval(() => {
      // A tick that cannot even take its leases (Redis away) must not reject unhandled: that
      // would kill the worker. The next tick tries again.
      const run = this.tick(job)
        .catch((error: unknown) => {
          this.log.warn({ err: error, job: job.name }, 'job tick failed; it runs again next tick');
          return false;
        })
        .finally(() => this.running.delete(run));
      this.running.add(run);
    }, job.intervalMs);
    timer.unref();
    this.timers.push(timer);
  }

  /** Runs the job once now if this worker wins the tick; true when it ran. */
  async tick(job: JobDefinition): Promise<boolean> {
    if (this.stopped) return false;
    if (job.ready && !job.ready()) return false;
    const tick = Math.floor(this.now() / job.intervalMs);
    const claim = await this.locks.acquire(`${job.name}:tick:${tick}`, tickClaimTtl(job));
    if (!claim) return false;
    const ttl = leaseTtl(job);
    const lease = await this.locks.acquire(job.name, ttl);
    if (!lease) return false;
    try {
      await this.holding(lease, ttl, job);
      return true;
    } catch (error) {
      this.log.error({ err: error, job: job.name }, 'job failed; it runs again next tick');
      return false;
    }
  }

  /** Runs the job while renewing its running lease, then releases the lease. */
  private async holding(lease: Lease, ttl: number, job: JobDefinition): Promise<void> {
    const renewal = setInterval(() => {
      this.locks.renew(lease, ttl).then(
        (held) => {
          if (held) return;
          // It expired (this worker stalled longer than the lease) and may be another's now: a
          // renewal can never win it back, and the run cannot be undone, so say so once.
          clearInterval(renewal);
          this.log.warn({ job: job.name, leaseMs: ttl }, 'job lease lost while the job was running; another worker may run it at the same time');
        },
        (error: unknown) => {
          this.log.warn({ err: error, job: job.name }, 'lease renewal failed');
        },
      );
    }, ttl / 3);
    try {
      await job.run();
    } finally {
      clearInterval(renewal);
      await this.locks.release(lease).catch(() => undefined);
    }
  }

  /**
   * Runs the job now, outside the tick schedule, once no other worker holds its running lease
   * (e.g. the final sync at shutdown, which must not overlap another worker's sync).
   */
  runNow(job: JobDefinition, attempts = 50, retryMs = 100): Promise<void> {
    const run = this.whenFree(job, attempts, retryMs);
    // A stop waits for it too (a manual save under way holds the lease the final sync needs).
    const tracked: Promise<boolean> = run.then(
      () => true,
      () => false,
    ).finally(() => this.running.delete(tracked));
    this.running.add(tracked);
    return run;
  }

  private async whenFree(job: JobDefinition, attempts: number, retryMs: number): Promise<void> {
    const ttl = leaseTtl(job);
    for (let attempt = 0; attempt < attempts; attempt++) {
      const lease = await this.locks.acquire(job.name, ttl);
      if (lease) {
        await this.holding(lease, ttl, job);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
    throw new LeaseBusyError(`${job.name} stayed busy on another worker; not run`);
  }

  /** Stops scheduling and waits for runs in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    await Promise.all(this.running);
  }
}

/**
 * A tick's claim lives two intervals. It expires on Redis's clock, while the tick number comes from
 * the worker's: with a claim of one interval, a worker whose clock is behind by less than that
 * would find the tick it reads as current already expired there, and run it a second time.
 */
function tickClaimTtl(job: JobDefinition): number {
  return job.intervalMs * 2;
}

/** A running lease outlives two intervals, so renewals every third of it have time to land. */
function leaseTtl(job: JobDefinition): number {
  return Math.max(job.intervalMs * 2, 1000);
}
