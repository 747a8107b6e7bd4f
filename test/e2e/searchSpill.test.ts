// Loot that does not fit falls to the ground, and only the part that does not fit: a world whose
// donation crate always gives five bandages, and whose characters start with every slot taken
// and their bandage stack two short of full.
import { afterAll, describe, expect, it } from 'vitest';
import { serverForFile } from '../support/inProcessServer.ts';
import { slotOf, type ItemSlot, type PlayView } from '../support/views.ts';
import { removeCopies } from '../content/contentCopy.ts';
import { crateWorld, playingOn } from '../support/crateWorld.ts';

const file = serverForFile(async () => ({ CINDER_CONTENT_DIR: await crateWorld() }));

afterAll(async () => {
  await removeCopies();
});

const playing = () => playingOn(file.server(), file.clients);

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
