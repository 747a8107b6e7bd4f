// A location's ground holds at most the rules' groundItemsPerLocation items (a search's spill may
// take it a little past): every look reads it whole. A world whose square holds two, whose characters start with every slot taken, and whose
// donation crate always gives five bandages (two fit on the stack, three would spill).
import { afterAll, expect, it } from 'vitest';
import { serverForFile } from '../support/inProcessServer.ts';
import { slotOf, type PlayView } from '../support/views.ts';
import { removeCopies } from '../content/contentCopy.ts';
import { crateWorld, playingOn } from '../support/crateWorld.ts';

const file = serverForFile(async () => ({ CINDER_CONTENT_DIR: await crateWorld({ groundItemsPerLocation: 2 }) }));

afterAll(async () => {
  await removeCopies();
});

const playing = () => playingOn(file.server(), file.clients);

it('refuses a drop onto a full ground, and leaves behind what a search cannot put there, until someone picks something up', async () => {
  const dropper = await playing();
  const searcher = await playing();
  const kit = await dropper.ok<PlayView>('inventory');
  await dropper.ok('drop', { slot: slotOf(kit.inventory.items, 'canned-beans').slot });
  const { dropped: pipe } = await dropper.ok<{ dropped: { id: string } }>('drop', { slot: slotOf(kit.inventory.items, 'rusty-pipe').slot });

  expect(await dropper.request('drop', { slot: slotOf(kit.inventory.items, 'bandage').slot, qty: 1 })).toMatchObject({
    type: 'error',
    data: { code: 'E_GROUND_FULL', message: 'There is no room left on the ground here.' },
  });
  expect(slotOf((await dropper.ok<PlayView>('inventory')).inventory.items, 'bandage').qty).toBe(18);

  // Three of the five bandages found would have to fall: the search still happens (its cooldown
  // starts), two go on the stack and three stay behind; nothing lands on the ground.
  const searched = await searcher.ok<PlayView & { spilled: unknown[]; leftBehind: { itemId: string; qty: number }[] }>('interact', { interactableId: 'donation-crate' });
  expect(searched.spilled).toEqual([]);
  expect(searched.leftBehind).toEqual([{ itemId: 'bandage', name: 'Bandage', qty: 3 }]);
  expect(slotOf(searched.inventory.items, 'bandage').qty).toBe(20);
  expect(await searcher.request('interact', { interactableId: 'donation-crate' })).toMatchObject({ type: 'error', data: { code: 'E_COOLDOWN' } });
  expect((await searcher.ok<PlayView>('look')).location.ground).toHaveLength(2);

  // Room made, a search's overflow falls to the ground again.
  await dropper.ok('pickup', { groundItemId: pipe.id });
  const another = await playing();
  const found = await another.ok<{ spilled: { itemId: string; qty: number }[]; leftBehind?: unknown }>('interact', { interactableId: 'donation-crate' });
  expect(found.spilled).toMatchObject([{ itemId: 'bandage', qty: 3 }]);
  expect(found.leftBehind).toBeUndefined();
  expect((await another.ok<PlayView>('look')).location.ground).toHaveLength(2);
});
