// Progress survives a restart: play, SIGTERM (which syncs everything), start again on the same
// data directory, and find position, hp, inventory, equipment and ground items as they were.
import { afterAll, describe, expect, it } from 'vitest';
import { post, registerPlayer } from '../support/accounts.ts';
import { GameClient } from '../support/GameClient.ts';
import { startServerProcess, tempDataDir } from '../support/serverProcess.ts';
import { slotOf, type PlayView } from '../support/views.ts';
import { byId, copyAshlands, editFile, removeCopies } from '../content/contentCopy.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await removeCopies();
});

describe('restart', () => {
  it('keeps what players did across SIGTERM and start', async () => {
    const data = await tempDataDir();
    cleanups.push(data.remove);
    // A long sync interval: only the shutdown sync can have saved this session.
    const env = { CINDER_SYNC_INTERVAL_MS: '3600000' };
    const first = await startServerProcess(data.dir, env);
    cleanups.push(() => first.stop());

    const player = await registerPlayer(first.baseUrl);
    const client = await GameClient.connect(first.wsUrl);
    await client.ok('auth', { token: player.token });
    await client.ok('move', { direction: 'north' });
    const inventory = await client.ok<PlayView>('inventory');
    await client.ok('equip', { slot: slotOf(inventory.inventory.items, 'rusty-pipe').slot });
    const afterEquip = await client.ok<PlayView>('inventory');
    const beans = slotOf(afterEquip.inventory.items, 'canned-beans');
    await client.ok('drop', { slot: beans.slot, qty: 1 });
    await client.ok('use', { slot: slotOf(afterEquip.inventory.items, 'bandage').slot });
    const before = await client.ok<PlayView>('inventory');
    const readBeforeAt = performance.now();
    const placeBefore = await client.ok<PlayView>('look');

    const shutdown = client.event('server_shutdown');
    expect(await first.stop()).toBe(0);
    await shutdown;
    expect(first.logs.join('\n')).toContain('final sync done');

    const second = await startServerProcess(data.dir, env);
    cleanups.push(() => second.stop());
    // The token secret lives in the data directory: the old token is still good.
    const again = await GameClient.connect(second.wsUrl);
    const view = await again.ok<PlayView>('auth', { token: player.token });
    expect(view.self.locationId).toBe(placeBefore.self.locationId);
    expect(view.self.hp).toBeGreaterThanOrEqual(before.self.hp);
    // Kept, not reset: no more than the Ashlands' 6 hp a minute regained over the restart (views floor hp).
    const minutes = (performance.now() - readBeforeAt) / 60_000;
    expect(view.self.hp).toBeLessThanOrEqual(before.self.hp + Math.ceil(6 * minutes) + 1);
    expect(view.location.ground.map(({ id, itemId, qty }) => ({ id, itemId, qty }))).toEqual(
      placeBefore.location.ground.map(({ id, itemId, qty }) => ({ id, itemId, qty })),
    );
    expect(view.location.ground.some((item) => item.itemId === 'canned-beans')).toBe(true);
    const after = await again.ok<PlayView>('inventory');
    expect(after.inventory).toEqual(before.inventory);
    expect(after.equipment).toEqual(before.equipment);
    expect(after.self.attack).toBe(before.self.attack);

    const relogin = await post(second.baseUrl, '/api/auth/login', { username: player.username, password: player.password });
    expect(relogin.status).toBe(200);
    await again.close();
    expect(await second.stop()).toBe(0);
  });

  it('keeps a character playable when its place and an item it holds were taken out of the world', async () => {
    const data = await tempDataDir();
    cleanups.push(data.remove);
    // A world with one more place (down from the square) and one more kind of item in every kit.
    const richer = await copyAshlands();
    await editFile(richer, 'items.json', ({ items }) => {
      items.push({ ...byId(items, 'old-photograph'), id: 'old-coin', name: 'Old Coin', description: 'Struck before the ash.' });
    });
    await editFile(richer, 'world.json', (world) => {
      world.name = 'The Ashlands, Extended';
      world.rules.startingItems.push({ item: 'old-coin', qty: 2 });
    });
    await editFile(richer, 'locations.json', ({ locations }) => {
      const square = byId(locations, 'emberwell-square');
      square.exits.down = 'old-cellar';
      locations.push({ ...square, id: 'old-cellar', name: 'Old Cellar', x: 9, y: 9, exits: { up: 'emberwell-square' }, interactables: [], npcs: [] });
    });
    const first = await startServerProcess(data.dir, { CINDER_CONTENT_DIR: richer });
    cleanups.push(() => first.stop());
    const player = await registerPlayer(first.baseUrl);
    const client = await GameClient.connect(first.wsUrl);
    await client.ok('auth', { token: player.token });
    await client.ok('move', { direction: 'down' });
    const held = await client.ok<PlayView>('inventory');
    await client.ok('drop', { slot: slotOf(held.inventory.items, 'old-coin').slot, qty: 1 });
    await client.close();
    expect(await first.stop()).toBe(0);

    // The shipped world has neither: the character wakes at the start, the coin still carried.
    const second = await startServerProcess(data.dir);
    cleanups.push(() => second.stop());
    // The operator is told that these saves come from another world.
    expect(second.logs.join('\n')).toContain('these saves were made in \\"The Ashlands, Extended\\", not \\"The Ashlands\\"');
    const again = await GameClient.connect(second.wsUrl);
    const view = await again.ok<PlayView>('auth', { token: player.token });
    expect(view.self.locationId).toBe('emberwell-square');
    const coin = slotOf((await again.ok<PlayView>('inventory')).inventory.items, 'old-coin');
    expect(coin).toMatchObject({ name: 'old-coin', qty: 1 });
    await again.ok('move', { direction: 'north' });
    const dropped = await again.ok<{ dropped: { itemId: string } }>('drop', { slot: coin.slot, qty: 1 });
    expect(dropped.dropped.itemId).toBe('old-coin');
    await again.close();
    expect(await second.stop()).toBe(0);
  });

  it('refuses a second server on a data directory in use, and starts once the first has stopped or died', async () => {
    const data = await tempDataDir();
    cleanups.push(data.remove);
    const first = await startServerProcess(data.dir);
    cleanups.push(() => first.stop());
    await expect(startServerProcess(data.dir)).rejects.toThrow(/CINDER_DATA_DIR .* is in use by another Cinder process \(pid \d+\)/);
    expect(await first.stop()).toBe(0);
    // A server killed outright leaves its pid behind: the next one takes the directory over.
    const killed = await startServerProcess(data.dir);
    cleanups.push(() => killed.stop());
    await killed.kill();
    const second = await startServerProcess(data.dir);
    cleanups.push(() => second.stop());
    expect(await second.stop()).toBe(0);
  });
});
