// The HotStore contract against both implementations (DESIGN.md §2: one suite, both adapters),
// plus what only Redis can show: many connections racing, outages and recovery.
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { HotStore } from '../../src/adapters/hot/HotStore.ts';
import { MemoryHotStore } from '../../src/adapters/hot/MemoryHotStore.ts';
import { RedisHotStore, connectRedis, isHotStoreUnavailable } from '../../src/adapters/hot/RedisHotStore.ts';
import { hotStoreContract, type HotStoreFixture } from './hotStoreContract.ts';

const REDIS_URL = process.env.REDIS_URL;
if (!REDIS_URL) throw new Error('REDIS_URL is not set: the contract tests need a real Redis (test/setup/services.ts starts one).');
const redisUrl: string = REDIS_URL;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function serverMs(client: Redis): Promise<number> {
  const [seconds, micros] = await client.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/** Waits until Redis's own clock has moved `ms` on (plus the millisecond Redis keeps a key through). */
async function advanceRedisClock(client: Redis, ms: number): Promise<void> {
  const until = (await serverMs(client)) + ms + 1;
  const giveUp = Date.now() + ms + 5_000;
  while ((await serverMs(client)) < until) {
    if (Date.now() > giveUp) throw new Error(`Redis clock did not advance ${String(ms)} ms`);
    await sleep(Math.min(10, Math.max(1, until - (await serverMs(client)))));
  }
}

type Implementation = readonly [string, () => Promise<HotStoreFixture>];

const implementations: readonly Implementation[] = [
  [
    'MemoryHotStore',
    () => {
      let now = 1_790_000_000_000;
      const store = new MemoryHotStore(() => now);
      return Promise.resolve({
        store,
        advance: (ms: number) => {
          now += ms;
          return Promise.resolve();
        },
        peers: (count: number) => Promise.resolve(Array.from({ length: count }, (): HotStore => store)),
        close: () => store.close(),
      });
    },
  ],
  [
    'RedisHotStore',
    async () => {
      const store = await RedisHotStore.connect(redisUrl);
      const clock = await connectRedis(redisUrl);
      const peers: HotStore[] = [];
      return {
        store,
        advance: (ms: number) => advanceRedisClock(clock, ms),
        peers: async (count: number) => {
          const opened = await Promise.all(Array.from({ length: count }, () => RedisHotStore.connect(redisUrl)));
          peers.push(...opened);
          return opened;
        },
        close: async () => {
          await Promise.all([store.close(), clock.quit(), ...peers.map((peer) => peer.close())]);
        },
      };
    },
  ],
];

for (const [name, makeFixture] of implementations) hotStoreContract(name, makeFixture);

describe('RedisHotStore when Redis is away', () => {
  const opened: { close(): Promise<unknown> }[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((closable) => closable.close()));
  });

  it('fails fast with an unavailable error when nothing listens, and stops trying', async () => {
    const started = Date.now();
    const attempt = RedisHotStore.connect('redis://127.0.0.1:1');
    await expect(attempt).rejects.toSatisfy(isHotStoreUnavailable);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('fails fast while its connection is down and recovers by itself when Redis answers again', async () => {
    const client = await connectRedis(redisUrl);
    const store = new RedisHotStore(client);
    opened.push(store);
    const key = `outage:{${String(process.pid)}-${String(Date.now())}}`;
    await store.hset(key, { f: 'before' });
    const admin = await connectRedis(redisUrl);
    opened.push({ close: () => admin.quit() });
    const id = await client.call('CLIENT', 'ID');
    let readyAgain = 0;
    store.onReady(() => (readyAgain += 1));

    // Its outcome is taken at once: the kill may reject it before CLIENT KILL itself is answered,
    // and a rejection nobody handles yet is an unhandled one.
    const inFlight = store.transact({ expect: [], hset: [{ key, field: 'f', value: 'during' }] }).then(
      () => null,
      (error: unknown) => error,
    );
    await admin.call('CLIENT', 'KILL', 'ID', String(id));
    const errors: unknown[] = [];
    const inFlightError = await inFlight;
    if (inFlightError !== null) errors.push(inFlightError);
    await store.hget(key, 'f').catch((error: unknown) => errors.push(error));
    expect(errors.length).toBeGreaterThan(0);
    for (const error of errors) expect(isHotStoreUnavailable(error), String(error)).toBe(true);

    let value: string | null = null;
    for (let attempt = 0; attempt < 200 && value === null; attempt += 1) {
      value = await store.hget(key, 'f').catch(() => null);
      if (value === null) await sleep(25);
    }
    expect(readyAgain).toBe(1);
    // The transaction sent before the kill ran whole or not at all, and was never replayed.
    expect(['before', 'during']).toContain(value);
    expect(await store.transact({ expect: [{ key, field: 'f', value }], hset: [{ key, field: 'f', value: 'after' }] })).toEqual({ ok: true });
    await store.del([key]);
  });

  it('does not mistake an error in what was asked for an outage', async () => {
    const store = await RedisHotStore.connect(redisUrl);
    opened.push(store);
    const key = `wrongtype:{${String(process.pid)}-${String(Date.now())}}`;
    await store.sadd(key, ['m']);
    const error: unknown = await store.hget(key, 'f').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
    expect(isHotStoreUnavailable(error)).toBe(false);
    expect(isHotStoreUnavailable(new Error('anything'))).toBe(false);
    expect(isHotStoreUnavailable('Connection is closed.')).toBe(false);
    await store.del([key]);
  });
});
