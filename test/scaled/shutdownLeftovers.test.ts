// A worker that shuts down while a player's disconnect could not be recorded (Redis failed at
// that moment, then answered again) releases that player itself, as a dead worker's players are
// released, before it leaves the registry: otherwise nobody would, and the player would stay
// shown connected for good. Two workers in this process on their own Redis and PostgreSQL.
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { openScaledAdapters } from '../../src/adapters/scaled.ts';
import { keys } from '../../src/adapters/keys.ts';
import { registerPlayer } from '../support/accounts.ts';
import { GameClient } from '../support/GameClient.ts';
import { leaves } from '../support/hotTransactions.ts';
import { BLIP, blipsAsHotFailures } from '../support/hotStoreBlip.ts';
import { startInProcessServer, type InProcessServer } from '../support/inProcessServer.ts';
import { ownScaledEnv, type Cleanups } from '../support/scaledEnv.ts';
import type { PlayView } from '../support/views.ts';

const cleanups: Cleanups = [];
const clients: GameClient[] = [];
let leaving: InProcessServer;
let staying: InProcessServer;
let stopped = false;

beforeAll(async () => {
  const { env } = await ownScaledEnv('leftovers', cleanups);
  const worker = async () => {
    const server = await startInProcessServer(env, {
      adapt: blipsAsHotFailures,
      // The background retry of a failed disconnect does not come during the test.
      disconnectRetry: { firstMs: 600_000, maxMs: 600_000 },
      open: () => openScaledAdapters({ redisUrl: env.REDIS_URL, databaseUrl: env.DATABASE_URL, poolSize: 4, connectTimeoutMs: 5000, queryTimeoutMs: 5000 }, pino({ level: 'warn' })),
    });
    cleanups.unshift(() => (server === leaving && stopped ? Promise.resolve() : server.stop()));
    return server;
  };
  // One after the other: the first applies the migrations.
  leaving = await worker();
  staying = await worker();
}, 60_000);

afterAll(async () => {
  vi.restoreAllMocks();
  await Promise.all(clients.map((client) => client.close()));
  for (const cleanup of cleanups) await cleanup();
});

async function connect(server: InProcessServer, token: string): Promise<GameClient> {
  const client = await GameClient.connect(server.wsUrl);
  clients.push(client);
  await client.ok('auth', { token });
  return client;
}

it('releases, at shutdown, a player whose disconnect the hot store refused, and tells the others', async () => {
  const player = await registerPlayer(leaving.baseUrl);
  const watcher = await connect(staying, (await registerPlayer(staying.baseUrl)).token);
  const client = await connect(leaving, player.token);
  const shown = async () => (await watcher.ok<PlayView>('look')).location.players.find((p) => p.id === player.id)?.connected;
  expect(await shown()).toBe(true);

  // Redis fails the disconnect, once, and answers everything after.
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

  await leaving.stop();
  stopped = true;
  await watcher.event<{ player: { id: number } }>('player_disconnected', (data) => data.player.id === player.id);
  expect(await shown()).toBe(false);
  // Lingering, as after any disconnect: the cleanup job will fade them out.
  const redis = staying.adapters.hot;
  expect(await redis.smembers(keys.presenceOnline())).not.toContain(String(player.id));
  expect(await redis.smembers(keys.presenceLingering())).toContain(String(player.id));
  expect(await redis.smembers(keys.workers())).toEqual([staying.server.workerId]);
});
