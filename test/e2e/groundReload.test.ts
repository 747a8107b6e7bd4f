// A hot store that lost its ground (Redis restarted empty) gets it back from the durable store; a
// pickup meanwhile answers E_DEGRADED, never that the item is gone (docs/protocol.md, E_DEGRADED).
import { expect, it, vi } from 'vitest';
import { keys } from '../../src/adapters/keys.ts';
import { playingOn } from '../support/crateWorld.ts';
import { serverForFile } from '../support/inProcessServer.ts';
import { slotOf, type PlayView } from '../support/views.ts';

const file = serverForFile();
const { clients } = file;

it('answers a pickup while the ground is not loaded with E_DEGRADED, and the item can be picked up once it is', async () => {
  const server = file.server();
  const player = await playingOn(server, clients);
  const view = await player.ok<PlayView>('inventory');
  const { dropped } = await player.ok<{ dropped: { id: string } }>('drop', { slot: slotOf(view.inventory.items, 'bandage').slot, qty: 1 });
  await server.server.jobs.sync.run();
  // The hot store loses the ground of the player's location and the world's record of its load, as a Redis that restarted empty.
  await server.adapters.hot.transact({ expect: [], del: [keys.ground(view.self.locationId), keys.world()] });

  expect(await player.request('pickup', { groundItemId: dropped.id })).toMatchObject({ type: 'error', data: { code: 'E_DEGRADED' } });
  const picked = await player.ok<{ picked: { id: string } }>('pickup', { groundItemId: dropped.id });
  expect(picked.picked.id).toBe(dropped.id);
  // And an item that is really gone is still told so.
  expect(await player.request('pickup', { groundItemId: dropped.id })).toMatchObject({ type: 'error', data: { code: 'E_ITEM_GONE' } });
});

it('picks up an item that a load finishing just after the ground was read brought back', async () => {
  const server = file.server();
  const player = await playingOn(server, clients);
  const view = await player.ok<PlayView>('inventory');
  const { dropped } = await player.ok<{ dropped: { id: string } }>('drop', { slot: slotOf(view.inventory.items, 'bandage').slot, qty: 1 });
  // The pickup's first read of the ground comes before the load wrote the item; the load is done
  // by the time the pickup asks whether it is.
  const spy = vi.spyOn(server.server.ctx.gsm, 'groundAt').mockResolvedValueOnce(new Map());
  try {
    const picked = await player.ok<{ picked: { id: string } }>('pickup', { groundItemId: dropped.id });
    expect(picked.picked.id).toBe(dropped.id);
  } finally {
    spy.mockRestore();
  }
});
