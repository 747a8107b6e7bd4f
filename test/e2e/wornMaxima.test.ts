// Items that raise a maximum (dog tags: +5 max hp) add room to fill, not points: regeneration
// saved up while the player was already full is not paid out when the item goes on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newPlayerOn, type GameClient } from '../support/GameClient.ts';
import { startInProcessServer, type InProcessServer } from '../support/inProcessServer.ts';
import { slotOf, type PlayView } from '../support/views.ts';
import { copyAshlands, editFile, removeCopies } from '../content/contentCopy.ts';

const MINUTE = 60_000;
let clock = Date.UTC(2026, 10, 22, 12);
let server: InProcessServer;
let client: GameClient;

beforeAll(async () => {
  const content = await copyAshlands();
  await editFile(content, 'world.json', ({ rules }) => {
    rules.startingItems.push({ item: 'dog-tags', qty: 1 });
  });
  server = await startInProcessServer({ CINDER_CONTENT_DIR: content }, { now: () => clock });
  ({ client } = await newPlayerOn(server));
}, 60_000);

afterAll(async () => {
  await client.close();
  await server.stop();
  await removeCopies();
});

describe('an item that raises max hp', () => {
  it('adds room to regenerate into, not the points saved up while full', async () => {
    // The Ashlands start characters at 60/100 hp and regenerate 6 hp a minute: full after 7.
    clock += 30 * MINUTE;
    const full = await client.ok<PlayView>('inventory');
    expect(full.self).toMatchObject({ hp: 100, maxHp: 100 });

    const tags = slotOf(full.inventory.items, 'dog-tags').slot;
    const worn = await client.ok<PlayView>('equip', { slot: tags });
    expect(worn.self).toMatchObject({ hp: 100, maxHp: 105 });

    // Off and on again, with no time passing: nothing is gained either way.
    const off = await client.ok<PlayView>('unequip', { slot: 'neck' });
    expect(off.self).toMatchObject({ hp: 100, maxHp: 100 });
    const again = await client.ok<PlayView>('equip', { slot: slotOf(off.inventory.items, 'dog-tags').slot });
    expect(again.self).toMatchObject({ hp: 100, maxHp: 105 });

    // Then the new room fills at the world's rate: 1 hp every 10 s.
    clock += 10_000;
    expect((await client.ok<PlayView>('inventory')).self).toMatchObject({ hp: 101, maxHp: 105 });
    clock += MINUTE;
    expect((await client.ok<PlayView>('inventory')).self).toMatchObject({ hp: 105, maxHp: 105 });

    // Taking it off caps hp at the lower maximum.
    expect((await client.ok<PlayView>('unequip', { slot: 'neck' })).self).toMatchObject({ hp: 100, maxHp: 100 });
  });
});
