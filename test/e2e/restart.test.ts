// Progress survives a restart: play, SIGTERM (which syncs everything), start again on the same
// data directory, and find position, hp, inventory, equipment and ground items as they were.
import { afterAll, describe, expect, it } from 'vitest';
import { post, registerPlayer } from '../support/accounts.ts';
import { GameClient } from '../support/GameClient.ts';
import { startServerProcess, tempDataDir } from '../support/serverProcess.ts';
import { slotOf, type PlayView } from '../support/views.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
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
    expect(view.self.hp).toBeLessThanOrEqual(before.self.hp + 1);
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
});
