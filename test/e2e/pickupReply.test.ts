// What a pickup answers (docs/protocol.md, pickup): `picked.slots` in the order the item went in,
// the stack it topped up first, then free slots; and `ground` as the location holds it after the
// pickup, also when someone else dropped something there meanwhile.
import { expect, it, vi } from 'vitest';
import { keys } from '../../src/adapters/keys.ts';
import { encodeGround } from '../../src/state/codec.ts';
import { playingOn } from '../support/crateWorld.ts';
import { serverForFile } from '../support/inProcessServer.ts';
import { slotOf, type PlayView } from '../support/views.ts';

const file = serverForFile();
const { clients } = file;

type Picked = PlayView & { picked: { id: string; slots: number[] }; ground: { id: string }[] };

it('lists the topped-up stack first, then the free slot the rest went into', async () => {
  const server = file.server();
  const player = await playingOn(server, clients);
  const kit = await player.ok<PlayView>('inventory');
  const pipe = slotOf(kit.inventory.items, 'rusty-pipe');
  const beans = slotOf(kit.inventory.items, 'canned-beans');
  // A free slot below the beans' stack.
  await player.ok('drop', { slot: pipe.slot });
  expect(pipe.slot).toBeLessThan(beans.slot);
  // More beans than the stack has room for (a stack holds 10).
  const id = 'pickup-reply-beans';
  await server.adapters.hot.transact({
    expect: [],
    hset: [{ key: keys.ground(kit.self.locationId), field: id, value: encodeGround({ id, itemId: 'canned-beans', qty: 11 - beans.qty, droppedBy: null, despawnAt: null }) }],
  });
  const reply = await player.ok<Picked>('pickup', { groundItemId: id });
  expect(reply.picked.slots).toEqual([beans.slot, pipe.slot]);
  expect(reply.inventory.items.filter((item) => item.itemId === 'canned-beans').map((item) => [item.slot, item.qty])).toEqual([
    [pipe.slot, 1],
    [beans.slot, 10],
  ]);
});

it('answers with the ground as it is after the pickup, with what another player dropped meanwhile', async () => {
  const server = file.server();
  const player = await playingOn(server, clients);
  const other = await playingOn(server, clients);
  const mine = await player.ok<PlayView>('inventory');
  const { dropped } = await player.ok<{ dropped: { id: string } }>('drop', { slot: slotOf(mine.inventory.items, 'bandage').slot, qty: 1 });
  const theirs = await other.ok<PlayView>('inventory');
  const gsm = server.server.ctx.gsm;
  const pickupGroundItem = gsm.pickupGroundItem.bind(gsm);
  let droppedMeanwhile = '';
  // The other player drops beans after the pickup read the ground, before it is made.
  vi.spyOn(gsm, 'pickupGroundItem').mockImplementationOnce(async (...args) => {
    const reply = await other.ok<{ dropped: { id: string } }>('drop', { slot: slotOf(theirs.inventory.items, 'canned-beans').slot, qty: 1 });
    droppedMeanwhile = reply.dropped.id;
    return pickupGroundItem(...args);
  });
  const reply = await player.ok<Picked>('pickup', { groundItemId: dropped.id });
  expect(reply.ground.map((item) => item.id)).toContain(droppedMeanwhile);
  expect(reply.ground.map((item) => item.id)).not.toContain(dropped.id);
});
