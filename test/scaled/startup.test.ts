// A server that cannot start says why in one line naming the setting to fix (REDIS_URL,
// DATABASE_URL, PORT) and exits 1, leaving no worker registered in Redis. Under --workers the
// primary does not re-fork workers that could not start: it stops and exits 1 with their reason,
// printed once.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runServerUntilExit, tempDataDir } from '../support/serverProcess.ts';
import { getFreePort } from '../support/services/binaries.ts';
import { createDatabase } from '../support/services/postgresServer.ts';
import { startRedisServer, type RedisServerHandle } from '../support/services/redisServer.ts';

const { Client } = pg;

let redis: RedisServerHandle;
let databaseUrl: string;
let dataDir: string;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  const sharedUrl = process.env.DATABASE_URL;
  if (!sharedUrl) throw new Error('DATABASE_URL is not set: run through npm test');
  redis = await startRedisServer();
  cleanups.push(() => redis.dispose());
  databaseUrl = await createDatabase(sharedUrl, `cinder_startup_${randomBytes(6).toString('hex')}`);
  const data = await tempDataDir();
  cleanups.push(data.remove);
  dataDir = data.dir;
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A port on 127.0.0.1 that nothing listens on. */
const closedPort = getFreePort;

/** A port on 127.0.0.1 that another server holds until the file's tests end. */
async function takenPort(): Promise<number> {
  const squatter: Server = createServer();
  squatter.listen(0, '127.0.0.1');
  await once(squatter, 'listening');
  cleanups.push(() => new Promise((resolve) => squatter.close(resolve)));
  const address = squatter.address();
  if (typeof address !== 'object' || address === null) throw new Error('the squatter has no port');
  return address.port;
}

/** The ids in Redis' set of workers (the dead-worker job's list). */
async function registeredWorkers(): Promise<string[]> {
  const client = new Redis(redis.url);
  try {
    return await client.smembers('workers');
  } finally {
    client.disconnect();
  }
}

describe('a scaled server that cannot start', () => {
  it('names REDIS_URL and the cause when Redis is unreachable', async () => {
    const port = await closedPort();
    const exited = await runServerUntilExit(dataDir, { REDIS_URL: `redis://127.0.0.1:${port}`, DATABASE_URL: databaseUrl });
    expect(exited.code).toBe(1);
    expect(exited.stderr).toEqual([`Cannot connect to Redis at REDIS_URL=redis://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`]);
    // Not an outage to ride out: the server never ran.
    expect(exited.stdout.join('\n')).not.toContain('E_DEGRADED');
  });

  it('names DATABASE_URL, without its password, when PostgreSQL is unreachable', async () => {
    const port = await closedPort();
    const exited = await runServerUntilExit(dataDir, { REDIS_URL: redis.url, DATABASE_URL: `postgres://cinder:hunter2@127.0.0.1:${port}/cinder` });
    expect(exited.code).toBe(1);
    expect(exited.stderr).toEqual([`Cannot connect to PostgreSQL at DATABASE_URL=postgres://cinder:***@127.0.0.1:${port}/cinder: connect ECONNREFUSED 127.0.0.1:${port}`]);
    expect([...exited.stdout, ...exited.stderr].join('\n')).not.toContain('hunter2');
  });

  it('refuses a Redis that may evict keys, naming the setting to change', async () => {
    const evicting = await startRedisServer({ extraArgs: ['--maxmemory-policy', 'allkeys-lru'] });
    cleanups.push(() => evicting.dispose());
    const exited = await runServerUntilExit(dataDir, { REDIS_URL: evicting.url, DATABASE_URL: databaseUrl });
    expect(exited.code).toBe(1);
    expect(exited.stderr).toEqual([
      `Redis at REDIS_URL=${evicting.url} may evict keys (maxmemory-policy allkeys-lru), which would lose players' items: ` +
        'set maxmemory-policy noeviction (in redis.conf, or CONFIG SET maxmemory-policy noeviction); a full Redis then refuses writes and players get E_DEGRADED',
    ]);
  });

  it('names the migrations and DATABASE_URL when the database user cannot create tables', async () => {
    const role = `cinder_reader_${randomBytes(4).toString('hex')}`;
    const admin = new Client({ connectionString: databaseUrl });
    await admin.connect();
    try {
      // A role of its own; the fresh database below takes tables in its public schema only from
      // its owner (PostgreSQL 15 on).
      await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'reader-secret'`);
    } finally {
      await admin.end();
    }
    cleanups.push(async () => {
      const cleanup = new Client({ connectionString: databaseUrl });
      await cleanup.connect();
      await cleanup.query(`DROP ROLE ${role}`).finally(() => cleanup.end());
    });
    const url = new URL(await createDatabase(process.env.DATABASE_URL ?? '', `cinder_startup_${randomBytes(6).toString('hex')}`));
    url.username = role;
    url.password = 'reader-secret';
    const exited = await runServerUntilExit(dataDir, { REDIS_URL: redis.url, DATABASE_URL: url.toString() });
    expect(exited.code).toBe(1);
    const shown = url.toString().replace('reader-secret', '***');
    expect(exited.stderr).toEqual([
      `Cannot apply the database migrations at DATABASE_URL=${shown} (the user needs to create tables there): permission denied for schema public (42501)`,
    ]);
  });

  it('names HOST and PORT when the port is taken, and leaves no worker registered', async () => {
    const port = await takenPort();
    const exited = await runServerUntilExit(dataDir, { REDIS_URL: redis.url, DATABASE_URL: databaseUrl, PORT: String(port) });
    expect(exited.code).toBe(1);
    expect(exited.stderr).toEqual([`Cannot listen on 127.0.0.1:${port} (HOST, PORT): listen EADDRINUSE: address already in use 127.0.0.1:${port}`]);
    expect(await registeredWorkers()).toEqual([]);
  });
});

describe('npm start with a mistyped flag', () => {
  it('names the flag and the one it takes, in one line', async () => {
    const exited = await runServerUntilExit(dataDir, {}, ['--wrokers', '2']);
    expect(exited.code).toBe(1);
    expect(exited.stderr).toEqual([expect.stringMatching(/^Unknown option '--wrokers'.* \(npm start takes only --workers N\)$/)]);
  });
});

describe('--workers when the workers cannot start', () => {
  it('stops with the reason, printed once, instead of re-forking them', async () => {
    const port = await closedPort();
    const exited = await runServerUntilExit(dataDir, { REDIS_URL: `redis://127.0.0.1:${port}`, DATABASE_URL: databaseUrl }, ['--workers', '2']);
    expect(exited.code).toBe(1);
    expect(exited.stderr).toEqual([`Cannot connect to Redis at REDIS_URL=redis://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`]);
    expect(exited.stdout.join('\n')).not.toContain('starting a new one');
  });

  it('stops when the port is taken, leaving no worker registered', async () => {
    const port = await takenPort();
    const exited = await runServerUntilExit(dataDir, { REDIS_URL: redis.url, DATABASE_URL: databaseUrl, PORT: String(port) }, ['--workers', '2']);
    expect(exited.code).toBe(1);
    expect(exited.stderr).toEqual([expect.stringMatching(new RegExp(`^Cannot listen on 127\\.0\\.0\\.1:${port} \\(HOST, PORT\\): .*EADDRINUSE`))]);
    expect(exited.stdout.join('\n')).not.toContain('starting a new one');
    expect(await registeredWorkers()).toEqual([]);
  });
});
