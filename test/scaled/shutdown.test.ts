// SIGTERM when a store is away or hangs (DESIGN.md §8, docs/scaling.md "What happens when
// something fails"): the worker still tells its players, closes their sockets, says what it could
// not save and why, and exits 0, because what it could not save is still marked dirty in Redis.
// A PostgreSQL that hangs (SIGSTOP: connections open, nothing answers) also turns logins into a
// clear 503 instead of a request that never ends.
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { post, registerPlayer } from '../support/accounts.ts';
import { GameClient } from '../support/GameClient.ts';
import { startScaledWorld, type ScaledWorld } from '../support/scaledWorld.ts';
import type { ServerProcess } from '../support/serverProcess.ts';
import { WAY } from '../support/twoLocations.ts';

let world: ScaledWorld | undefined;

afterEach(async () => {
  if (world && !world.redis.running) await world.redis.restart();
  await world?.stop();
  world = undefined;
});

/** A player on `worker` with a change only the final sync would write (the sync job is off). */
async function playerWithUnsavedMove(worker: ServerProcess): Promise<{ id: number; username: string; password: string; client: GameClient }> {
  const { token, id, username, password } = await registerPlayer(worker.baseUrl);
  const client = await GameClient.connect(worker.wsUrl);
  const { self } = await client.ok<{ self: { locationId: string } }>('auth', { token });
  await client.ok('move', { direction: WAY[self.locationId]?.direction });
  return { id, username, password, client };
}

interface LogEntry {
  level: number;
  msg: string;
  unsynced?: Record<string, number>;
}

/** The pino entries a worker logged at `level` and above (40 warn, 50 error, 60 fatal). */
function logged(worker: ServerProcess, level: number): LogEntry[] {
  return worker.logs.flatMap((line) => {
    if (!line.startsWith('{')) return [];
    const entry = JSON.parse(line) as LogEntry;
    return entry.level >= level ? [entry] : [];
  });
}

function messages(worker: ServerProcess, level: number): string[] {
  return logged(worker, level).map((entry) => entry.msg);
}

/** The ids a dirty set holds in `redisUrl`, claimed by a sync or not. */
async function dirtyIds(redisUrl: string, kind: string): Promise<string[]> {
  const redis = new Redis(redisUrl);
  try {
    return [...(await redis.smembers(`dirty:${kind}`)), ...(await redis.smembers(`dirty:${kind}:syncing`))];
  } finally {
    redis.disconnect();
  }
}

/** The worker warned `warning` counting what stays unsynced, logged no error, and left `id`'s move dirty in Redis. */
async function expectLeftDirty(worker: ServerProcess, warning: string, id: number, redisUrl: string): Promise<void> {
  const entry = logged(worker, 40).find((line) => line.msg.startsWith(warning));
  expect(entry?.unsynced?.position).toBeGreaterThanOrEqual(1);
  expect(messages(worker, 50)).toEqual([]);
  expect(await dirtyIds(redisUrl, 'position')).toContain(String(id));
}

describe('SIGTERM while Redis is down', () => {
  it('tells the players, closes their sockets, warns that the final sync could not run, and exits 0', async () => {
    world = await startScaledWorld({ workers: 1, env: { CINDER_SYNC_INTERVAL_MS: '0' } });
    const worker = world.worker(0);
    const { id, client } = await playerWithUnsavedMove(worker);

    await world.redis.stop();
    expect(await worker.stop()).toBe(0);
    expect(client.events('server_shutdown')).toHaveLength(1);
    expect((await client.whenClosed()).code).toBe(1001);
    const warnings = messages(worker, 40);
    expect(warnings).toContain('final sync could not run: Redis is unreachable; nothing is lost, the dirty sets stay in Redis for the next sync once it is back');
    expect(messages(worker, 50)).toEqual([]);

    // Nothing was lost: the move is still marked for the next sync.
    await world.redis.restart();
    expect(await dirtyIds(world.redis.url, 'position')).toContain(String(id));
  });
});

describe('PostgreSQL that hangs', () => {
  let hung: ScaledWorld;

  beforeAll(async () => {
    hung = await startScaledWorld({ workers: 0, dedicatedPostgres: true });
  });

  afterAll(async () => {
    hung.postgres?.resume();
    await hung.stop();
  });

  it('answers a login E_STORAGE_UNAVAILABLE, and SIGTERM still ends with exit 0, saying what was not saved', async () => {
    const worker = await hung.startWorker({ CINDER_SYNC_INTERVAL_MS: '0', CINDER_DATABASE_CONNECT_TIMEOUT_MS: '500', CINDER_DATABASE_QUERY_TIMEOUT_MS: '500' });
    const { id, username, password, client } = await playerWithUnsavedMove(worker);

    hung.postgres?.pause();
    try {
      const login = await post(worker.baseUrl, '/api/auth/login', { username, password });
      expect({ status: login.status, code: (login.json.error as { code?: string } | undefined)?.code }).toEqual({ status: 503, code: 'E_STORAGE_UNAVAILABLE' });

      expect(await worker.stop()).toBe(0);
      expect(client.events('server_shutdown')).toHaveLength(1);
      expect((await client.whenClosed()).code).toBe(1001);
      await expectLeftDirty(worker, 'final sync could not write: PostgreSQL is unreachable', id, hung.redis.url);
    } finally {
      hung.postgres?.resume();
    }
  });

  it('exits 1 at once on a second SIGTERM while its shutdown waits on PostgreSQL', async () => {
    const worker = await hung.startWorker({
      CINDER_SYNC_INTERVAL_MS: '0',
      CINDER_DATABASE_QUERY_TIMEOUT_MS: '120000',
      CINDER_SHUTDOWN_SYNC_TIMEOUT_MS: '120000',
    });
    const { client } = await playerWithUnsavedMove(worker);
    hung.postgres?.pause();
    const exited = once(worker.child, 'exit').then(([code]) => code as number | null);
    // The operator signals again until it ends (a repeat within a second is the same request).
    const again = setInterval(() => worker.child.kill('SIGTERM'), 250);
    try {
      worker.child.kill('SIGTERM');
      expect(await exited).toBe(1);
    } finally {
      clearInterval(again);
      hung.postgres?.resume();
    }
    expect(messages(worker, 50)).toContain('a second signal came while stopping: exiting now, without waiting for the saves and the final sync (scaled mode: what they did not write stays dirty in Redis; embedded mode: it is lost)');
    expect(client.events('server_shutdown')).toHaveLength(1);
  });

  it('gives up on a final sync that outlasts CINDER_SHUTDOWN_SYNC_TIMEOUT_MS, and exits 0', async () => {
    // Statements may wait 3 s here, so it is the shutdown's own bound that ends the wait.
    const worker = await hung.startWorker({
      CINDER_SYNC_INTERVAL_MS: '0',
      CINDER_DATABASE_CONNECT_TIMEOUT_MS: '3000',
      CINDER_DATABASE_QUERY_TIMEOUT_MS: '3000',
      CINDER_SHUTDOWN_SYNC_TIMEOUT_MS: '300',
    });
    const { id, client } = await playerWithUnsavedMove(worker);

    hung.postgres?.pause();
    try {
      // The player leaves first (their save waits on PostgreSQL), so the final sync is what hangs.
      await client.close();
      expect(await worker.stop()).toBe(0);
      await expectLeftDirty(worker, 'final sync did not finish within CINDER_SHUTDOWN_SYNC_TIMEOUT_MS', id, hung.redis.url);
    } finally {
      hung.postgres?.resume();
    }
  });
});
