// A session replaced from another worker: the old connection answers what it had queued, then
// closes, and meanwhile hears nothing more of the game, although its own worker still holds its
// socket in the location's index until then. Two workers in this process on their own Redis and
// PostgreSQL database, so that the old worker's hot store can hold a read on cue.
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openScaledAdapters } from '../../src/adapters/scaled.ts';
import { registerPlayer } from '../support/accounts.ts';
import { playingAs } from '../support/crateWorld.ts';
import type { GameClient } from '../support/GameClient.ts';
import { holdNextView } from '../support/holdView.ts';
import { startInProcessServer, type InProcessServer } from '../support/inProcessServer.ts';
import { ownScaledEnv, type Cleanups } from '../support/scaledEnv.ts';

const cleanups: Cleanups = [];
const clients: GameClient[] = [];
let oldWorker: InProcessServer;
let newWorker: InProcessServer;

beforeAll(async () => {
  const { env } = await ownScaledEnv('replaced', cleanups);
  const worker = async () => {
    const server = await startInProcessServer(env, {
      open: () => openScaledAdapters({ redisUrl: env.REDIS_URL, databaseUrl: env.DATABASE_URL, poolSize: 4, connectTimeoutMs: 5000, queryTimeoutMs: 5000 }, pino({ level: 'warn' })),
    });
    cleanups.unshift(() => server.stop());
    return server;
  };
  // One after the other: the first applies the migrations.
  oldWorker = await worker();
  newWorker = await worker();
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  for (const cleanup of cleanups) await cleanup();
});

/** Authenticated on `server` with `token`, closed after the file's tests. */
function connect(server: InProcessServer, token: string): Promise<GameClient> {
  return playingAs(server, token, clients);
}

it('an old connection replaced from another worker hears nothing of the game while it answers what it had queued', async () => {
  const player = await registerPlayer(oldWorker.baseUrl);
  const speaker = await connect(oldWorker, (await registerPlayer(oldWorker.baseUrl)).token);
  const old = await connect(oldWorker, player.token);

  // The first of three looks is held on the old worker while the character connects on the other.
  const { reached, release } = holdNextView(oldWorker.adapters.hot);
  const looks = [old.request('look'), old.request('look'), old.request('look')];
  await reached;
  const newer = await connect(newWorker, player.token);
  await old.event('session_replaced');

  // Said on the old worker, to the location where the old socket is still indexed.
  await speaker.ok('say', { text: 'after the replacement' });
  await newer.event<{ text: string }>('said', (said) => said.text === 'after the replacement');
  release();
  const replies = await Promise.all(looks);
  expect(replies.map((reply) => reply.type)).toEqual(['ok', 'error', 'error']);
  expect((await old.whenClosed()).code).toBe(4001);
  expect(old.events('said')).toEqual([]);
});
