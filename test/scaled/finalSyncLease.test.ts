// When every worker of a group stops at once, each final sync waits its turn for the sync lease
// (up to CINDER_SHUTDOWN_SYNC_TIMEOUT_MS) instead of giving up after a few seconds with changes
// still dirty in Redis. Here another worker's sync holds the lease for 6 s.
import { pino } from 'pino';
import { afterAll, expect, it } from 'vitest';
import { openScaledAdapters } from '../../src/adapters/scaled.ts';
import { RedisLocks } from '../../src/adapters/locks/RedisLocks.ts';
import { startInProcessServer } from '../support/inProcessServer.ts';
import { ownScaledEnv, type Cleanups } from '../support/scaledEnv.ts';

const cleanups: Cleanups = [];

afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

it('runs its final sync once another worker releases the sync lease, even after more than 5 s', async () => {
  const { env } = await ownScaledEnv('final_sync', cleanups);
  const logs: Record<string, unknown>[] = [];
  const worker = await startInProcessServer({ ...env, CINDER_SHUTDOWN_SYNC_TIMEOUT_MS: '30000' }, {
    logs,
    open: () => openScaledAdapters({ redisUrl: env.REDIS_URL, databaseUrl: env.DATABASE_URL, poolSize: 4, connectTimeoutMs: 5000, queryTimeoutMs: 5000 }, pino({ level: 'warn' })),
  });
  const other = await RedisLocks.connect(env.REDIS_URL);
  cleanups.unshift(() => other.close());
  // Another worker's sync: it holds the lease for 6 s, then releases it.
  const lease = await other.acquire('sync', 60_000);
  if (!lease) throw new Error('the sync lease was not free');
  const released = new Promise<void>((resolve) => {
    setTimeout(() => void other.release(lease).then(resolve), 6_000);
  });

  await worker.stop();
  await released;
  const messages = logs.map((line) => line.msg);
  expect(messages).toContain('final sync done');
  expect(messages.filter((msg) => typeof msg === 'string' && msg.startsWith('final sync not run here'))).toEqual([]);
}, 60_000);
