// The test services themselves: the URLs the global setup provides reach this forked worker and
// answer; dedicated servers stop (connections refused) and restart on the same port; and the
// binary lookup/install decision, with its lookups and installer injected; and the retry on a port
// taken between choosing it and binding it.
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  findPostgresBinariesOnSystem,
  findRedisServerOnSystem,
  launchOnFreePort,
  resolveServiceBinaries,
  ServerExitedError,
  sortVersionsNewestFirst,
  type BinaryResolverDeps,
  type OsUser,
  type PostgresBinaries,
} from './binaries.ts';
import { probePostgres, startPostgresServer, type PostgresServerHandle } from './postgresServer.ts';
import { probeRedis, startRedisServer, type RedisServerHandle } from './redisServer.ts';

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set in the test worker`);
  return value;
}

/** A client that tries once: no reconnects, no offline queue. */
function oneShotRedis(url: string): Redis {
  const client = new Redis(url, {
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: 2000,
  });
  client.on('error', () => {
    // surfaced through rejected commands
  });
  return client;
}

async function withPg<T>(url: string, body: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => {
    // surfaced through rejected queries
  });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

function errorCode(error: unknown): unknown {
  if (typeof error === 'object' && error !== null && 'code' in error) return error.code;
  return undefined;
}

describe('shared services from the global setup', () => {
  it('runs in a forked worker that inherited REDIS_URL, and that Redis answers PING', async () => {
    expect(typeof process.send).toBe('function'); // a child_process.fork worker, not the main process
    const client = oneShotRedis(requiredEnv('REDIS_URL'));
    try {
      await client.connect();
      expect(await client.ping()).toBe('PONG');
    } finally {
      client.disconnect();
    }
  });

  it('inherited DATABASE_URL, and that PostgreSQL answers SELECT version()', async () => {
    const version = await withPg(requiredEnv('DATABASE_URL'), async (client) => {
      const result = await client.query<{ version: string }>('SELECT version()');
      return result.rows[0]?.version;
    });
    expect(version).toMatch(/^PostgreSQL \d+/);
  });
});

describe('a dedicated Redis', () => {
  let redis: RedisServerHandle;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis.dispose();
  });

  it('stops (connections refused), restarts on the same port and answers again, empty', async () => {
    const port = redis.port;
    expect(redis.url).toBe(`redis://127.0.0.1:${port}`);
    expect(redis.version).toMatch(/^\d+\.\d+/);
    const before = oneShotRedis(redis.url);
    await before.connect();
    await before.set('k', 'v');
    expect(await before.config('GET', 'save')).toEqual(['save', '']);
    before.disconnect();

    await redis.stop();
    expect(redis.running).toBe(false);
    const refused = await probeRedis(redis.url, 1000).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(errorCode(refused)).toBe('ECONNREFUSED');

    await redis.restart();
    expect(redis.running).toBe(true);
    expect(redis.port).toBe(port);
    const after = oneShotRedis(redis.url);
    await after.connect();
    expect(await after.ping()).toBe('PONG');
    expect(await after.get('k')).toBeNull(); // no persistence: a restarted Redis has lost its data
    after.disconnect();
  });

  it('survives a SIGKILL crash and a restart', async () => {
    await redis.kill();
    expect(redis.running).toBe(false);
    await expect(probeRedis(redis.url, 500)).rejects.toThrow();
    await redis.restart();
    expect(await probeRedis(redis.url)).toBe(redis.version);
  });
});

describe('a dedicated PostgreSQL', () => {
  let postgres: PostgresServerHandle;
  beforeAll(async () => {
    postgres = await startPostgresServer();
  });
  afterAll(async () => {
    const dataDir = postgres.dataDir;
    await postgres.dispose();
    expect(existsSync(dataDir)).toBe(false);
  });

  it('creates a database and keeps data written before a stop across the restart', async () => {
    const port = postgres.port;
    expect(postgres.url).toBe(`postgres://postgres@127.0.0.1:${port}/postgres`);
    const gameUrl = await postgres.createDatabase('game_a');
    expect(gameUrl).toBe(`postgres://postgres@127.0.0.1:${port}/game_a`);
    await withPg(gameUrl, async (client) => {
      await client.query('CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)');
      await client.query("INSERT INTO notes VALUES (1, 'before the stop'), (2, 'ünïcödé')");
    });

    // A session left open across the stop is cut (fast shutdown), not waited for.
    const open = new Client({ connectionString: gameUrl });
    open.on('error', () => {
      // the shutdown terminates this session
    });
    await open.connect();
    await postgres.stop();
    expect(postgres.running).toBe(false);
    await open.end().catch(() => undefined);
    const refused = await probePostgres(gameUrl, 1000).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(errorCode(refused)).toBe('ECONNREFUSED');

    await postgres.restart();
    expect(postgres.running).toBe(true);
    expect(postgres.port).toBe(port);
    const rows = await withPg(gameUrl, async (client) => {
      const result = await client.query<{ id: number; body: string }>('SELECT id, body FROM notes ORDER BY id');
      return result.rows;
    });
    expect(rows).toEqual([
      { id: 1, body: 'before the stop' },
      { id: 2, body: 'ünïcödé' },
    ]);
  });

  it('recovers data committed with synchronous_commit=on after an immediate shutdown (kill)', async () => {
    // The server runs with synchronous_commit=off, so a crash may lose the last few hundred ms of
    // ordinary commits; a commit that asks for synchronous_commit=on has its WAL written first.
    const url = postgres.url.replace(/\/postgres$/, '/game_a');
    await withPg(url, async (client) => {
      await client.query('BEGIN');
      await client.query('SET LOCAL synchronous_commit = on');
      await client.query("INSERT INTO notes VALUES (3, 'before the crash')");
      await client.query('COMMIT');
    });
    await postgres.kill();
    await postgres.restart();
    const count = await withPg(url, async (client) => {
      const result = await client.query<{ n: string }>('SELECT count(*) AS n FROM notes');
      return result.rows[0]?.n;
    });
    expect(count).toBe('3');
  });

  it('refuses a database name that would need quoting', async () => {
    await expect(postgres.createDatabase('x"; DROP')).rejects.toThrow(/must match/);
  });
});

describe('binary lookup and install decision', () => {
  const pgBins: PostgresBinaries = {
    binDir: '/usr/lib/postgresql/16/bin',
    initdb: '/usr/lib/postgresql/16/bin/initdb',
    postgres: '/usr/lib/postgresql/16/bin/postgres',
    pgCtl: undefined,
  };
  const postgresUser: OsUser = { name: 'postgres', uid: 101, gid: 104 };

  /** A fake system: what is installed, whether we are root, and a record of what happened. */
  function fakeSystem(initial: { redis: boolean; pg: boolean; root: boolean; apt?: boolean; installWorks?: boolean; user?: boolean }) {
    const state = { redis: initial.redis, pg: initial.pg };
    const installs: string[][] = [];
    const logs: string[] = [];
    const deps: BinaryResolverDeps = {
      findRedisServer: () => (state.redis ? '/usr/bin/redis-server' : undefined),
      findPostgresBinaries: () => (state.pg ? pgBins : undefined),
      isRoot: () => initial.root,
      hasAptGet: () => initial.apt ?? true,
      aptInstall: (packages) => {
        installs.push([...packages]);
        if (initial.installWorks ?? true) {
          if (packages.includes('redis-server')) state.redis = true;
          if (packages.includes('postgresql')) state.pg = true;
        }
        return Promise.resolve();
      },
      lookupUser: (name) => ((initial.user ?? true) && name === 'postgres' ? postgresUser : undefined),
      log: (line) => {
        logs.push(line);
      },
    };
    return { deps, installs, logs };
  }

  it('uses what is installed and installs nothing', async () => {
    const { deps, installs } = fakeSystem({ redis: true, pg: true, root: false });
    const found = await resolveServiceBinaries(deps);
    expect(found).toEqual({ redisServer: '/usr/bin/redis-server', postgres: pgBins, postgresUser: undefined });
    expect(installs).toEqual([]);
  });

  it('as root, runs PostgreSQL as the postgres OS user', async () => {
    const { deps } = fakeSystem({ redis: true, pg: true, root: true });
    expect((await resolveServiceBinaries(deps)).postgresUser).toEqual(postgresUser);
  });

  it('as root with both missing, installs both packages in one apt-get run and logs it', async () => {
    const { deps, installs, logs } = fakeSystem({ redis: false, pg: false, root: true });
    const found = await resolveServiceBinaries(deps);
    expect(installs).toEqual([['redis-server', 'postgresql']]);
    expect(found.redisServer).toBe('/usr/bin/redis-server');
    expect(found.postgres).toBe(pgBins);
    expect(logs[0]).toContain('apt-get update && apt-get install -y redis-server postgresql');
    expect(logs).toHaveLength(2);
  });

  it('as root, installs only the missing package', async () => {
    const { deps, installs } = fakeSystem({ redis: true, pg: false, root: true });
    await resolveServiceBinaries(deps);
    expect(installs).toEqual([['postgresql']]);
  });

  it('not root: fails naming exactly what is missing and the remedy, installs nothing', async () => {
    const { deps, installs } = fakeSystem({ redis: false, pg: true, root: false });
    const error = await resolveServiceBinaries(deps).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    const firstLine = message.split('\n')[0] ?? '';
    expect(firstLine).toMatch(/^Cannot provide the test services: missing redis-server \(searched /);
    expect(firstLine).not.toContain('initdb');
    expect(message).toContain('Not running as root');
    expect(message).toContain('apt-get install -y redis-server');
    expect(installs).toEqual([]);
  });

  it('root without apt-get: fails clearly', async () => {
    const { deps, installs } = fakeSystem({ redis: false, pg: false, root: true, apt: false });
    await expect(resolveServiceBinaries(deps)).rejects.toThrow(/missing redis-server, initdb and postgres[\s\S]*apt-get is not available/);
    expect(installs).toEqual([]);
  });

  it('install that does not produce the binaries: fails clearly', async () => {
    const { deps, installs } = fakeSystem({ redis: false, pg: false, root: true, installWorks: false });
    await expect(resolveServiceBinaries(deps)).rejects.toThrow(/still not found/);
    expect(installs).toHaveLength(1);
  });

  it('a failing apt-get propagates its error', async () => {
    const { deps } = fakeSystem({ redis: false, pg: true, root: true });
    const failing: BinaryResolverDeps = { ...deps, aptInstall: () => Promise.reject(new Error('E: Unable to locate package')) };
    await expect(resolveServiceBinaries(failing)).rejects.toThrow('E: Unable to locate package');
  });

  it('with installing disabled (test workers), fails instead of installing', async () => {
    const { deps, installs } = fakeSystem({ redis: false, pg: false, root: true });
    await expect(resolveServiceBinaries({ ...deps, allowInstall: false })).rejects.toThrow(/not attempted here/);
    expect(installs).toEqual([]);
  });

  it('root without a postgres OS user: fails clearly', async () => {
    const { deps } = fakeSystem({ redis: true, pg: true, root: true, user: false });
    await expect(resolveServiceBinaries(deps)).rejects.toThrow(/OS user "postgres"/);
  });

  it('orders /usr/lib/postgresql versions newest first', () => {
    expect(sortVersionsNewestFirst(['9.6', '15', '10', '16', '9.10'])).toEqual(['16', '15', '10', '9.10', '9.6']);
  });

  it('finds the real binaries on this machine', () => {
    expect(findRedisServerOnSystem()).toMatch(/redis-server$/);
    const pg = findPostgresBinariesOnSystem();
    expect(pg?.initdb).toBe(`${pg?.binDir ?? ''}/initdb`);
    expect(pg?.postgres).toBe(`${pg?.binDir ?? ''}/postgres`);
  });
});

describe('launching on a free port', () => {
  const taken = (port: number) => new ServerExitedError(`server on port ${port} exited (code 1): bind: Address already in use`);

  it('moves to another free port when the one it was given is taken before the server binds it', async () => {
    const tried: number[] = [];
    const { port, launched } = await launchOnFreePort((candidate) => {
      tried.push(candidate);
      return tried.length < 3 ? Promise.reject(taken(candidate)) : Promise.resolve(`up on ${candidate}`);
    }, undefined);
    expect(tried).toHaveLength(3);
    expect(port).toBe(tried[2]);
    expect(launched).toBe(`up on ${port}`);
  });

  it('gives up after five collisions, with the last error', async () => {
    let attempts = 0;
    const launch = (candidate: number) => {
      attempts++;
      return Promise.reject(taken(candidate));
    };
    await expect(launchOnFreePort(launch, undefined)).rejects.toThrow(/Address already in use/);
    expect(attempts).toBe(5);
  });

  it('never moves off a port the caller asked for, and never retries other failures', async () => {
    let attempts = 0;
    await expect(
      launchOnFreePort((candidate) => {
        attempts++;
        return Promise.reject(taken(candidate));
      }, 6390),
    ).rejects.toThrow(/port 6390/);
    await expect(
      launchOnFreePort(() => {
        attempts++;
        return Promise.reject(new ServerExitedError('FATAL: data directory has wrong ownership'));
      }, undefined),
    ).rejects.toThrow(/wrong ownership/);
    expect(attempts).toBe(2);
  });
});
