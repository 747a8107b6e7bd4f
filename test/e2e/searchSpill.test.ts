// Loot that does not fit falls to the ground, and only the part that does not fit: a world whose
// donation crate always gives five bandages, and whose characters start with every slot taken
// and their bandage stack two short of full.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerPlayer } from '../support/accounts.ts';
import { GameClient } from '../support/GameClient.ts';
import { startInProcessServer, type InProcessServer } from '../support/inProcessServer.ts';
import { slotOf, type ItemSlot, type PlayView } from '../support/views.ts';
import { byId, copyAshlands, editFile, removeCopies } from '../content/contentCopy.ts';

let server: InProcessServer;
const clients: GameClient[] = [];

beforeAll(async () => {
  const dir = await copyAshlands();
  await editFile(dir, 'loot-tables.json', ({ lootTables }) => {
    byId(lootTables, 'donation-crate').entries = [{ item: 'bandage', weight: 1, qty: { min: 5, max: 5 } }];
  });
  await editFile(dir, 'world.json', ({ rules }) => {
    rules.inventorySlots = 3;
    rules.startingItems = [{ item: 'bandage', qty: 18 }, { item: 'rusty-pipe', qty: 1 }, { item: 'canned-beans', qty: 1 }];
  });
  server = await startInProcessServer({ CINDER_CONTENT_DIR: dir });
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await server.stop();
  await removeCopies();
});

async function playing(): Promise<GameClient> {
  const client = await GameClient.connect(server.wsUrl);
  clients.push(client);
  await client.ok('auth', { token: (await registerPlayer(server.baseUrl)).token });
  return client;
}

type Searched = PlayView & { found: { itemId: string; qty: number }[]; spilled: { id: string; itemId: string; qty: number }[] };

describe('a search whose loot only partly fits', () => {
  it('tops up the stack and drops only the rest, for others to see', async () => {
    const searcher = await playing();
    const watcher = await playing();
    const result = await searcher.ok<Searched>('interact', { interactableId: 'donation-crate' });

    expect(result.found).toEqual([{ itemId: 'bandage', name: 'Bandage', qty: 5 }]);
    expect(slotOf(result.inventory.items, 'bandage').qty).toBe(20);
    expect(result.inventory.items.map((item: ItemSlot) => item.itemId).sort()).toEqual(['bandage', 'canned-beans', 'rusty-pipe']);
    expect(result.spilled).toMatchObject([{ itemId: 'bandage', qty: 3 }]);
    const [spilled] = result.spilled;
    const dropped = await watcher.event<{ item: { id: string; qty: number } }>('item_dropped', (d) => d.item.id === spilled?.id);
    expect(dropped.item.qty).toBe(3);
    expect((await watcher.ok<PlayView>('look')).location.ground).toContainEqual(expect.objectContaining({ id: spilled?.id, itemId: 'bandage', qty: 3 }));
  });
});
