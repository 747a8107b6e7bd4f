// The Locks contract against LocalLocks and RedisLocks (DESIGN.md §7). Leases live on real time
// here (200 ms: a lease still held survives a slow round trip on a busy machine), and a test
// waits for an expiry by polling for it, never by sleeping a fixed time.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalLocks } from '../../src/adapters/locks/LocalLocks.ts';
import type { Lease, Locks } from '../../src/adapters/locks/Locks.ts';
import { RedisLocks } from '../../src/adapters/locks/RedisLocks.ts';

const REDIS_URL = process.env.REDIS_URL;
if (!REDIS_URL) throw new Error('REDIS_URL is not set: the contract tests need a real Redis (test/setup/services.ts starts one).');
const redisUrl: string = REDIS_URL;

const SHORT_TTL_MS = 200;
const LONG_TTL_MS = 60_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface LocksFixture {
  /** `count` workers' locks; one process has one LocalLocks, shared by its "workers". */
  workers(count: number): Promise<Locks[]>;
  close(): Promise<void>;
}

const implementations: readonly (readonly [string, () => LocksFixture])[] = [
  [
    'LocalLocks',
    () => {
      const locks = new LocalLocks();
      return {
        workers: (count) => Promise.resolve(Array.from({ length: count }, (): Locks => locks)),
        close: () => Promise.resolve(),
      };
    },
  ],
  [
    'RedisLocks',
    () => {
      const opened: RedisLocks[] = [];
      return {
        workers: async (count) => {
          const locks = await Promise.all(Array.from({ length: count }, () => RedisLocks.connect(redisUrl)));
          opened.push(...locks);
          return locks;
        },
        close: async () => {
          await Promise.all(opened.map((locks) => locks.close()));
        },
      };
    },
  ],
];

/** Polls `acquire` until the lease is free again; bounded, so a lease that never expires fails. */
async function acquireOnceExpired(locks: Locks, name: string, ttlMs: number): Promise<Lease> {
  const giveUp = Date.now() + 5_000;
  for (;;) {
    const lease = await locks.acquire(name, ttlMs);
    if (lease) return lease;
    if (Date.now() > giveUp) throw new Error(`${name} never became free`);
    await sleep(5);
  }
}

let lockRuns = 0;

for (const [implementation, makeFixture] of implementations) {
  describe(`Locks contract: ${implementation}`, () => {
    let fixture: LocksFixture;
    let a: Locks;
    let b: Locks;
    let name: (job: string) => string;

    beforeEach(async () => {
      fixture = makeFixture();
      const workers = await fixture.workers(2);
      if (!workers[0] || !workers[1]) throw new Error('no locks');
      [a, b] = [workers[0], workers[1]];
      lockRuns += 1;
      const prefix = `contract-lock:${String(process.pid)}-${String(lockRuns)}-${String(Date.now())}`;
      name = (job) => `${prefix}:${job}`;
    });

    afterEach(async () => {
      await fixture.close();
    });

    it('gives a lease to one holder at a time, with a token of its own', async () => {
      const first = await a.acquire(name('sync'), LONG_TTL_MS);
      expect(first).toEqual({ name: name('sync'), token: expect.any(String) as string });
      expect(await b.acquire(name('sync'), LONG_TTL_MS)).toBeNull();
      expect(await a.acquire(name('sync'), LONG_TTL_MS)).toBeNull();
      const other = await b.acquire(name('spawns'), LONG_TTL_MS);
      expect(other?.token).not.toBe(first?.token);
    });

    it('gives the lease to exactly one of many workers asking at once', async () => {
      const workers = await fixture.workers(20);
      const leases = await Promise.all(workers.map((locks) => locks.acquire(name('sync'), LONG_TTL_MS)));
      expect(leases.filter((lease) => lease !== null)).toHaveLength(1);
    });

    it('lets another worker take a lease once it expires', async () => {
      const first = await a.acquire(name('sync'), SHORT_TTL_MS);
      expect(first).not.toBeNull();
      expect(await b.acquire(name('sync'), SHORT_TTL_MS)).toBeNull();
      const second = await acquireOnceExpired(b, name('sync'), LONG_TTL_MS);
      expect(second.token).not.toBe(first?.token);
      expect(await a.acquire(name('sync'), LONG_TTL_MS)).toBeNull();
    });

    it('renews a lease for its holder only', async () => {
      const lease = await a.acquire(name('sync'), SHORT_TTL_MS);
      if (!lease) throw new Error('not acquired');
      expect(await b.renew({ name: lease.name, token: 'not-the-token' }, LONG_TTL_MS)).toBe(false);
      expect(await b.renew({ name: name('never-held'), token: lease.token }, LONG_TTL_MS)).toBe(false);
      // The wrong token extended nothing: the lease still expires on its short ttl.
      await acquireOnceExpired(b, name('sync'), SHORT_TTL_MS);

      const held = await acquireOnceExpired(a, name('held'), SHORT_TTL_MS);
      expect(await a.renew(held, LONG_TTL_MS)).toBe(true);
      // Outlive the short ttl on the same clock (a twin lease expiring), then the renewed one still holds.
      await a.acquire(name('clock'), SHORT_TTL_MS);
      await acquireOnceExpired(b, name('clock'), SHORT_TTL_MS);
      expect(await b.acquire(name('held'), LONG_TTL_MS)).toBeNull();
      expect(await a.renew(held, LONG_TTL_MS)).toBe(true);
    });

    it('releases a lease for the token that holds it only', async () => {
      const lease = await a.acquire(name('sync'), LONG_TTL_MS);
      if (!lease) throw new Error('not acquired');
      await b.release({ name: lease.name, token: 'not-the-token' });
      expect(await b.acquire(name('sync'), LONG_TTL_MS)).toBeNull();
      await a.release(lease);
      const next = await b.acquire(name('sync'), LONG_TTL_MS);
      expect(next).not.toBeNull();
      await a.release(lease);
      expect(await a.acquire(name('sync'), LONG_TTL_MS)).toBeNull();
    });

    it('leaves a lease taken after expiry to its new holder: the old one can neither release nor renew it', async () => {
      const old = await a.acquire(name('sync'), SHORT_TTL_MS);
      if (!old) throw new Error('not acquired');
      const taken = await acquireOnceExpired(b, name('sync'), LONG_TTL_MS);
      await a.release(old);
      expect(await a.renew(old, LONG_TTL_MS)).toBe(false);
      expect(await a.acquire(name('sync'), LONG_TTL_MS)).toBeNull();
      expect(await b.renew(taken, LONG_TTL_MS)).toBe(true);
      await b.release(taken);
      expect(await a.acquire(name('sync'), LONG_TTL_MS)).not.toBeNull();
    });
  });
}
