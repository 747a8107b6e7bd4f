// The scaled adapter set (DESIGN.md §2): Redis/Valkey for hot state, pub/sub and locks;
// PostgreSQL for durable state. Every worker on every machine opens the same.
import type { Log } from '../log.ts';
import type { Adapters } from './Adapters.ts';
import { RedisBus } from './bus/RedisBus.ts';
import { meteredSqlClient } from './durable/meteredSqlClient.ts';
import { cameFromPostgres, isDurableStoreUnavailable, openPostgres } from './durable/pgClient.ts';
import { runMigrations } from './durable/migrations.ts';
import { SqlDurableStore } from './durable/SqlDurableStore.ts';
import { isHotStoreUnavailable, RedisHotStore } from './hot/RedisHotStore.ts';
import { RedisLocks } from './locks/RedisLocks.ts';
import { redactUrl, StartupError, startupStep } from '../startupError.ts';

export interface ScaledOptions {
  redisUrl: string;
  databaseUrl: string;
  /** PostgreSQL connections per worker, and how long one may take to connect and to answer. */
  poolSize: number;
  connectTimeoutMs: number;
  queryTimeoutMs: number;
}

export async function openScaledAdapters({ redisUrl, databaseUrl, poolSize, connectTimeoutMs, queryTimeoutMs }: ScaledOptions, log: Log): Promise<Adapters> {
  // ioredis reports every failed reconnect; one line per outage is enough for an operator. While
  // starting, a failure is the start-up error itself, not an outage to ride out.
  let started = false;
  let redisDown = false;
  const onRedisError = (error: Error) => {
    if (!started || redisDown) return;
    redisDown = true;
    log.warn({ err: error }, 'Redis unreachable; actions answer E_DEGRADED until it returns');
  };
  const options = { onError: onRedisError };
  // Only the hot store's connection says whether actions work, and only its 'ready' says Redis is
  // back: an error of the bus's or the locks' connections alone must not leave the line above
  // standing (a pub/sub connection cut by Redis, a lock connection reconnecting late).
  let sideWarnedAt = Number.NEGATIVE_INFINITY;
  const sideOptions = {
    onError: (error: Error) => {
      if (!started) return;
      // Said at most once a minute (ioredis reports every failed reconnect): while the bus's
      // connection is down, other workers' events do not reach this worker's players.
      const now = performance.now();
      if (now - sideWarnedAt < 60_000) return;
      sideWarnedAt = now;
      log.warn({ err: error }, 'a Redis connection of the bus or the locks failed; it reconnects by itself (meanwhile other workers\' events may not reach this worker\'s players)');
    },
  };
  const { hot, bus, locks } = await startupStep(`Cannot connect to Redis at REDIS_URL=${redactUrl(redisUrl)}`, async () => {
    const hot = await RedisHotStore.connect(redisUrl, options);
    return { hot, bus: await RedisBus.connect(redisUrl, sideOptions), locks: await RedisLocks.connect(redisUrl, sideOptions) };
  });
  await refuseEvictingRedis(hot, redisUrl, log, () => Promise.all([hot.close(), bus.close(), locks.close()]));
  started = true;
  hot.onReady(() => {
    if (redisDown) log.info('Redis is back');
    redisDown = false;
  });
  const client = meteredSqlClient(await openPostgres(databaseUrl, {
    max: poolSize,
    connectionTimeoutMillis: connectTimeoutMs,
    queryTimeoutMillis: queryTimeoutMs,
    onIdleError: (error: Error) => {
      log.warn({ err: error }, 'PostgreSQL connection lost');
    },
  }));
  // The pool connects lazily: ask once, so that a wrong URL or password is named as such.
  await startupStep(`Cannot connect to PostgreSQL at DATABASE_URL=${redactUrl(databaseUrl)}`, () => client.query('SELECT 1'));
  // A migration may rightly take longer than any statement of play: it runs on a connection of
  // its own, without the statement deadline.
  const migrator = await openPostgres(databaseUrl, { max: 1, connectionTimeoutMillis: connectTimeoutMs, queryTimeoutMillis: 0 });
  try {
    await startupStep(`Cannot apply the database migrations at DATABASE_URL=${redactUrl(databaseUrl)} (the user needs to create tables there)`, () => runMigrations(migrator));
  } finally {
    await migrator.close();
  }
  return {
    hot,
    durable: new SqlDurableStore(client),
    bus,
    locks,
    sharedHotStore: true,
    failureOf: (error) => {
      // A refused or cut connection reads the same from Redis and PostgreSQL: PostgreSQL's are marked.
      if (cameFromPostgres(error) && isDurableStoreUnavailable(error)) return 'durable';
      if (isHotStoreUnavailable(error)) return 'hot';
      if (isDurableStoreUnavailable(error)) return 'durable';
      return null;
    },
  };
}

/**
 * Redis must keep every key it holds: evicting an inventory hash would make the next sync delete
 * the player's items in PostgreSQL, and evicting a heartbeat or a lock would release live players
 * or let a job run twice. Full, a noeviction Redis refuses writes instead (E_DEGRADED).
 */
async function refuseEvictingRedis(hot: RedisHotStore, redisUrl: string, log: Log, closeRedis: () => Promise<unknown>): Promise<void> {
  const policy = await startupStep(`Cannot read maxmemory-policy from Redis at REDIS_URL=${redactUrl(redisUrl)}`, () => hot.evictionPolicy());
  if (policy === undefined) {
    log.warn('could not read Redis\'s maxmemory-policy (CONFIG GET is not allowed here); it must be noeviction, or a full Redis evicts players\' keys and their items are lost');
  } else if (policy !== 'noeviction') {
    await closeRedis();
    throw new StartupError(
      `Redis at REDIS_URL=${redactUrl(redisUrl)} may evict keys (maxmemory-policy ${policy}), which would lose players' items: ` +
        'set maxmemory-policy noeviction (in redis.conf, or CONFIG SET maxmemory-policy noeviction); a full Redis then refuses writes and players get E_DEGRADED',
    );
  }
}
