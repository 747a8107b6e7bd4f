// What players drop despawns after the world's rules.groundDespawnSeconds (1,800 in the Ashlands):
// the despawn job takes it off the ground and tells who is there. The game's clock is the test's.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { GameClient } from '../support/GameClient.ts';
import { startInProcessServer, type InProcessServer } from '../support/inProcessServer.ts';
import { slotOf, type PlayView } from '../support/views.ts';
import { playingOn } from '../support/crateWorld.ts';

let clock = 1_790_000_000_000;
let server: InProcessServer;
const clients: GameClient[] = [];

beforeAll(async () => {
  // The job runs when the test says, not on a timer.
  server = await startInProcessServer({ CINDER_DESPAWN_INTERVAL_MS: '0' }, { now: () => clock });
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await server.stop();
});

const playing = () => playingOn(server, clients);

it('takes a dropped item away once its time is up, and tells the players there', async () => {
  const dropper = await playing();
  const watcher = await playing();
  const kit = await dropper.ok<PlayView>('inventory');
  const { dropped } = await dropper.ok<{ dropped: { id: string } }>('drop', { slot: slotOf(kit.inventory.items, 'bandage').slot, qty: 1 });

  clock += 1_799_000;
  expect(await server.server.jobs.despawn.run()).toBe(0);
  expect((await watcher.ok<PlayView>('look')).location.ground.map((item) => item.id)).toContain(dropped.id);

  clock += 1_000;
  expect(await server.server.jobs.despawn.run()).toBe(1);
  const despawned = await watcher.event<{ item: { id: string; itemId: string; qty: number } }>('item_despawned');
  expect(despawned.item).toMatchObject({ id: dropped.id, itemId: 'bandage', qty: 1 });
  expect((await watcher.ok<PlayView>('look')).location.ground.map((item) => item.id)).not.toContain(dropped.id);
  expect(await dropper.request('pickup', { groundItemId: dropped.id })).toMatchObject({ type: 'error', data: { code: 'E_ITEM_GONE' } });
});

it('deletes a despawned unique item from PostgreSQL once nothing refers to it, and no other', async () => {
  const dropper = await playing();
  const keeper = await playing();
  const kit = await dropper.ok<PlayView>('inventory');
  const pipe = slotOf(kit.inventory.items, 'rusty-pipe');
  const keeperView = await keeper.ok<PlayView>('inventory');
  const keptPipe = slotOf(keeperView.inventory.items, 'rusty-pipe');
  await dropper.ok('drop', { slot: pipe.slot, qty: 1 });
  await server.server.jobs.sync.run();
  // Lying on the ground in PostgreSQL too: referred to, kept.
  expect(await server.server.jobs.uniqueSweep.run()).toBe(0);

  clock += 1_800_000;
  expect(await server.server.jobs.despawn.run()).toBe(1);
  await server.server.jobs.sync.run();
  expect(await server.server.jobs.uniqueSweep.run()).toBe(1);
  expect(await server.server.jobs.uniqueSweep.run()).toBe(0);

  // The keeper's pipe, in a bag, is untouched: a deleted item would have taken its slot with it.
  const saved = await server.adapters.durable.loadCharacter(keeperView.self.id);
  expect(saved?.inventory.get(keptPipe.slot)).toMatchObject({ itemId: 'rusty-pipe', uniqueItemId: keptPipe.uniqueItemId });
  expect(saved?.uniqueItems.map((item) => item.id)).toContain(keptPipe.uniqueItemId);
});
