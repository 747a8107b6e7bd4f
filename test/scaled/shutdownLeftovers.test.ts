// A worker that shuts down while a player's disconnect could not be recorded (Redis failed at
// that moment, then answered again) releases that player itself, as a dead worker's players are
// released, before it leaves the registry: otherwise nobody would, and the player would stay
// shown connected for good. Two workers in this process on their own Redis and PostgreSQL.
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { openScaledAdapters } from '../../src/adapters/scaled.ts';
import { keys } from '../../src/adapters/keys.ts';
import { registerPlayer } from '../support/accounts.ts';
import { playingAs } from '../support/crateWorld.ts';
import type { GameClient } from '../support/GameClient.ts';
import { leaves } from '../support/hotTransactions.ts';
import { BLIP, blipsAsHotFailures } from '../support/hotStoreBlip.ts';
import { startInProcessServer, type InProcessServer } from '../support/inProcessServer.ts';
import { ownScaledEnv, type Cleanups } from '../support/scaledEnv.ts';
import type { PlayView } from '../support/views.ts';

const DURABLE_BLIP = 'durable store blip';
const cleanups: Cleanups = [];
const clients: GameClient[] = [];
const stopped = new Set<InProcessServer>();
let startWorker: () => Promise<InProcessServer>;
let staying: InProcessServer;

beforeAll(async () => {
  const { env } = await ownScaledEnv('leftovers', cleanups);
  startWorker = async () => {
    const server = await startInProcessServer(env, {
      adapt: (adapters) => {
        const blips = blipsAsHotFailures(adapters);
        return { ...blips, failureOf: (error) => (error instanceof Error && error.message === DURABLE_BLIP ? 'durable' : blips.failureOf(error)) };
      },
      // The background retry of a failed disconnect does not come during the test.
      disconnectRetry: { firstMs: 600_000, maxMs: 600_000 },
      open: () => openScaledAdapters({ redisUrl: env.REDIS_URL, databaseUrl: env.DATABASE_URL, poolSize: 4, connectTimeoutMs: 5000, queryTimeoutMs: 5000 }, pino({ level: 'warn' })),
    });
    cleanups.unshift(() => (stopped.has(server) ? Promise.resolve() : server.stop()));
    return server;
  };
  // The first applies the migrations.
  staying = await startWorker();
}, 60_000);

afterAll(async () => {
  vi.restoreAllMocks();
  await Promise.all(clients.map((client) => client.close()));
  for (const cleanup of cleanups) await cleanup();
});

/** A player on `leaving` whose disconnect the hot store refused, once; a watcher on the other worker sees them. */
async function playerLeftConnected(leaving: InProcessServer): Promise<{ id: number; watcher: GameClient; shown: () => Promise<boolean | undefined> }> {
  const player = await registerPlayer(leaving.baseUrl);
  const watcher = await connect(staying, (await registerPlayer(staying.baseUrl)).token);
  const client = await connect(leaving, player.token);
  const shown = async () => (await watcher.ok<PlayView>('look')).location.players.find((p) => p.id === player.id)?.connected;
  expect(await shown()).toBe(true);
  const hot = leaving.adapters.hot;
  const transact = hot.transact.bind(hot);
  let refused!: () => void;
  const refusal = new Promise<void>((resolve) => (refused = resolve));
  vi.spyOn(hot, 'transact').mockImplementation(async (tx) => {
    if (leaves(tx) && tx.expect.some((guard) => guard.key === keys.player(player.id))) {
      refused();
      throw new Error(BLIP);
    }
    return transact(tx);
  });
  await client.close();
  await refusal;
  expect(await shown()).toBe(true);
  return { id: player.id, watcher, shown };
}

async function stop(server: InProcessServer): Promise<void> {
  stopped.add(server);
  await server.stop();
}

/** Authenticated on `server` with `token`, closed after the file's tests. */
function connect(server: InProcessServer, token: string): Promise<GameClient> {
  return playingAs(server, token, clients);
}

it('releases, at shutdown, a player whose disconnect the hot store refused, and tells the others', async () => {
  const leaving = await startWorker();
  const { id, watcher, shown } = await playerLeftConnected(leaving);

  await stop(leaving);
  await watcher.event<{ player: { id: number } }>('player_disconnected', (data) => data.player.id === id);
  expect(await shown()).toBe(false);
  // Lingering, as after any disconnect: the cleanup job will fade them out.
  const redis = staying.adapters.hot;
  expect(await redis.smembers(keys.presenceOnline())).not.toContain(String(id));
  expect(await redis.smembers(keys.presenceLingering())).toContain(String(id));
  expect(await redis.smembers(keys.workers())).toEqual([staying.server.workerId]);
});

it('still stops, and deregisters, when PostgreSQL refuses the save of such a player: they stay dirty for the next sync', async () => {
  const leaving = await startWorker();
  const { id, watcher, shown } = await playerLeftConnected(leaving);
  vi.spyOn(leaving.adapters.durable, 'writeBatch').mockRejectedValue(new Error(DURABLE_BLIP));

  await stop(leaving);
  await watcher.event<{ player: { id: number } }>('player_disconnected', (data) => data.player.id === id);
  expect(await shown()).toBe(false);
  const redis = staying.adapters.hot;
  expect(await redis.smembers(keys.dirty('position'))).toContain(String(id));
  expect(await redis.smembers(keys.workers())).toEqual([staying.server.workerId]);
});
