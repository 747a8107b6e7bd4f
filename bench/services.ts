// Real Redis and PostgreSQL for a bench run, through the same helpers the tests use: they find
// the binaries (or apt-get install them when root and missing), run PostgreSQL as the `postgres`
// OS user when root, on free ports in temp dirs removed afterwards.
//
// Settings are an operator's, not the tests' speed-ups: PostgreSQL with its default durability
// (fsync, synchronous_commit and full_page_writes on), Redis with an append-only file synced
// every second (the usual setting for state one would rather not lose).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { resolveServiceBinaries } from '../test/support/services/binaries.ts';
import { startPostgresServer, type PostgresServerHandle } from '../test/support/services/postgresServer.ts';
import { startRedisServer, type RedisServerHandle } from '../test/support/services/redisServer.ts';

export interface BenchServices {
  redis: RedisServerHandle;
  postgres: PostgresServerHandle;
  redisUrl: string;
  databaseUrl: string;
  redisPid: number;
  postgresPid: number;
  /** A client for INFO (commands processed, per-command stats). */
  admin: Redis;
  dispose(): Promise<void>;
}

export interface RedisCounters {
  totalCommands: number;
  /** calls and CPU microseconds of each command, from INFO commandstats. */
  commands: Record<string, { calls: number; usec: number }>;
}

export async function redisCounters(admin: Redis): Promise<RedisCounters> {
  const stats = await admin.info('stats');
  const commandStats = await admin.info('commandstats');
  const total = /^total_commands_processed:(\d+)/m.exec(stats);
  const commands: RedisCounters['commands'] = {};
  for (const [, name, calls, usec] of commandStats.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    if (name !== undefined) commands[name] = { calls: Number(calls), usec: Number(usec) };
  }
  return { totalCommands: Number(total?.[1] ?? 0), commands };
}

export async function startServices(): Promise<BenchServices> {
  const binaries = await resolveServiceBinaries({ allowInstall: true });
  const [redis, postgres] = await Promise.all([
    startRedisServer({ binary: binaries.redisServer, extraArgs: ['--appendonly', 'yes', '--appendfsync', 'everysec', '--latency-monitor-threshold', '5', '--slowlog-log-slower-than', '5000', '--slowlog-max-len', '1024'] }),
    startPostgresServer({
      binaries: binaries.postgres,
      ...(binaries.postgresUser === undefined ? {} : { user: binaries.postgresUser }),
      settings: { fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on', max_connections: '200' },
    }),
  ]);
  const databaseUrl = await postgres.createDatabase('cinder_bench');
  const admin = new Redis(redis.url, { lazyConnect: true });
  await admin.connect();
  const server = await admin.info('server');
  const redisPid = Number(/^process_id:(\d+)/m.exec(server)?.[1] ?? 0);
  const postgresPid = Number(readFileSync(join(postgres.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return {
    redis,
    postgres,
    redisUrl: redis.url,
    databaseUrl,
    redisPid,
    postgresPid,
    admin,
    async dispose() {
      admin.disconnect();
      await Promise.allSettled([redis.dispose(), postgres.dispose()]);
    },
  };
}
