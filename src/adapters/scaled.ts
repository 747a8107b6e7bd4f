// The scaled adapter set (DESIGN.md §2): Redis/Valkey for hot state, pub/sub and locks;
// PostgreSQL for durable state. Every worker on every machine opens the same.
import type { Log } from '../log.ts';
import type { Adapters } from './Adapters.ts';
import { RedisBus } from './bus/RedisBus.ts';
import { meteredSqlClient } from './durable/meteredSqlClient.ts';
import { cameFromPostgres, isDurableStoreUnavailable, openPostgres } from './durable/pgClient.ts';
import { SqlDurableStore } from './durable/SqlDurableStore.ts';
import { isHotStoreUnavailable, RedisHotStore } from './hot/RedisHotStore.ts';
import { RedisLocks } from './locks/RedisLocks.ts';

export async function openScaledAdapters(redisUrl: string, databaseUrl: string, poolSize: number, log: Log): Promise<Adapters> {
  // ioredis reports every failed reconnect; one line per outage is enough for an operator.
  let redisDown = false;
  const onRedisError = (error: Error) => {
    if (redisDown) return;
    redisDown = true;
    log.warn({ err: error }, 'Redis unreachable; actions answer E_DEGRADED until it returns');
  };
  const options = { onError: onRedisError };
  const hot = await RedisHotStore.connect(redisUrl, options);
  hot.onReady(() => {
    if (redisDown) log.info('Redis is back');
    redisDown = false;
  });
  const bus = await RedisBus.connect(redisUrl, options);
  const locks = await RedisLocks.connect(redisUrl, options);
  const client = meteredSqlClient(await openPostgres(databaseUrl, {
    max: poolSize,
    onIdleError: (error: Error) => {
      log.warn({ err: error }, 'PostgreSQL connection lost');
    },
  }));
  return {
    hot,
    durable: await SqlDurableStore.open(client),
    bus,
    locks,
    failureOf: (error) => {
      // A refused or cut connection reads the same from Redis and PostgreSQL: PostgreSQL's are marked.
      if (cameFromPostgres(error) && isDurableStoreUnavailable(error)) return 'durable';
      if (isHotStoreUnavailable(error)) return 'hot';
      if (isDurableStoreUnavailable(error)) return 'durable';
      return null;
    },
  };
}
