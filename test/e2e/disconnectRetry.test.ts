// A disconnect that cannot be recorded while the hot store is away is retried for as long as the
// worker runs, however long the outage: nothing else marks the character disconnected while the
// worker lives. Between tries it waits 1 s more each time, at most 30 s; here 1 ms, at most 4 ms.
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { GameClient } from '../support/GameClient.ts';
import { registerPlayer } from '../support/accounts.ts';
import { leaves } from '../support/hotTransactions.ts';
import { BLIP, blipsAsHotFailures } from '../support/hotStoreBlip.ts';
import { playingOn } from '../support/crateWorld.ts';
import { startInProcessServer, type InProcessServer } from '../support/inProcessServer.ts';
import type { PlayView } from '../support/views.ts';

/** Far more failed tries than the 30 after which a disconnect used to be given up. */
const FAILURES = 150;

let server: InProcessServer;
const clients: GameClient[] = [];
const logs: Record<string, unknown>[] = [];

beforeAll(async () => {
  server = await startInProcessServer({}, {
    logs,
    disconnectRetry: { firstMs: 1, maxMs: 4 },
    adapt: blipsAsHotFailures,
  });
}, 60_000);

afterAll(async () => {
  vi.restoreAllMocks();
  await Promise.all(clients.map((client) => client.close()));
  await server.stop();
});

it('records a disconnect once the hot store answers again, however many tries that takes, logging only a few', async () => {
  const watcher = await playingOn(server, clients);
  const player = await registerPlayer(server.baseUrl);
  const client = await GameClient.connect(server.wsUrl);
  await client.ok('auth', { token: player.token });
  const shown = async () => (await watcher.ok<PlayView>('look')).location.players.find((p) => p.id === player.id)?.connected;
  expect(await shown()).toBe(true);

  const hot = server.adapters.hot;
  const transact = hot.transact.bind(hot);
  let failures = 0;
  const spy = vi.spyOn(hot, 'transact').mockImplementation(async (tx) => {
    if (leaves(tx) && failures < FAILURES) {
      failures++;
      throw new Error(BLIP);
    }
    return transact(tx);
  });
  try {
    await client.close();
    await watcher.event<{ player: { id: number } }>('player_disconnected', (data) => data.player.id === player.id);
  } finally {
    spy.mockRestore();
  }
  expect(failures).toBe(FAILURES);
  expect(await shown()).toBe(false);
  // An outage of hours must not flood the log: the first three failures, then every hundredth.
  const warned = logs.filter((line) => line.msg === 'disconnect not recorded' && line.characterId === player.id);
  expect(warned.map((line) => [line.attempt, line.retry])).toEqual([[1, true], [2, true], [3, true], [100, true]]);
});
