// Two real WebSocket clients against a real server process: the core loop a player sees.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, registerPlayer } from '../support/accounts.ts';
import { GameClient } from '../support/GameClient.ts';
import { startServerProcess, tempDataDir, type ServerProcess } from '../support/serverProcess.ts';
import type { PlayView, ItemSlot } from '../support/views.ts';
import { slotOf } from '../support/views.ts';

let server: ServerProcess;
let removeData: () => Promise<void>;
let ada: GameClient;
let bo: GameClient;
let adaId: number;
let boId: number;

beforeAll(async () => {
  const data = await tempDataDir();
  removeData = data.remove;
  server = await startServerProcess(data.dir);
}, 90_000);

afterAll(async () => {
  try {
    // Unset when a test failed before connecting them.
    await (ada as GameClient | undefined)?.close();
    await (bo as GameClient | undefined)?.close();
  } finally {
    expect(await server.stop()).toBe(0);
    await removeData();
  }
});

describe('two players in the Ashlands', () => {
  it('register, log in and meet in the starting location', async () => {
    const a = await registerPlayer(server.baseUrl, 'Ada_e2e');
    const b = await registerPlayer(server.baseUrl, 'Bo_e2e');
    adaId = a.id;
    boId = b.id;
    const login = await post(server.baseUrl, '/api/auth/login', { username: 'ada_E2E', password: a.password });
    expect(login.status).toBe(200);
    expect(typeof login.json.token).toBe('string');

    ada = await GameClient.connect(server.wsUrl);
    const adaView = await ada.ok<PlayView>('auth', { token: String(login.json.token) });
    expect(adaView.self.name).toBe('Ada_e2e');
    expect(adaView.location.players).toEqual([]);

    bo = await GameClient.connect(server.wsUrl);
    const boView = await bo.ok<PlayView>('auth', { token: b.token });
    expect(boView.location.id).toBe(adaView.location.id);
    expect(boView.location.players).toEqual([{ id: adaId, name: 'Ada_e2e', connected: true }]);
    const arrived = await ada.event<{ player: { id: number } }>('player_arrived', (d) => d.player.id === boId);
    expect(arrived.player).toMatchObject({ id: boId, name: 'Bo_e2e' });
  });

  it('a move is seen as left by those behind and arrived by those ahead', async () => {
    const start = await ada.ok<PlayView>('look');
    const north = start.location.exits.find((exit) => exit.direction === 'north');
    const moved = await ada.ok<PlayView>('move', { direction: 'north' });
    expect(moved.location.id).toBe(north?.locationId);
    expect(moved.self.locationId).toBe(moved.location.id);
    const left = await bo.event<{ player: { id: number }; direction: string; to: { id: string } }>('player_left', (d) => d.player.id === adaId);
    expect(left.direction).toBe('north');
    expect(left.to.id).toBe(moved.location.id);

    const followed = await bo.ok<PlayView>('move', { direction: 'north' });
    expect(followed.location.id).toBe(moved.location.id);
    expect(followed.location.players.map((p) => p.id)).toContain(adaId);
    const arrived = await ada.event<{ player: { id: number }; from?: { id: string } }>('player_arrived', (d) => d.player.id === boId && d.from !== undefined);
    expect(arrived.from?.id).toBe(start.location.id);
  });

  it('chat reaches the others in the location', async () => {
    await ada.ok('say', { text: '  the bell rings at dusk  ' });
    const said = await bo.event<{ from: { id: number }; text: string }>('said', (d) => d.from.id === adaId);
    expect(said.text).toBe('the bell rings at dusk');
  });

  it('an item dropped by one is picked up by the other', async () => {
    const before = await ada.ok<PlayView>('inventory');
    const bandages = slotOf(before.inventory.items, 'bandage');
    const dropped = await ada.ok<PlayView & { dropped: { id: string; qty: number } }>('drop', { slot: bandages.slot, qty: 1 });
    expect(slotOf(dropped.inventory.items, 'bandage').qty).toBe(bandages.qty - 1);
    expect(dropped.ground.map((g) => g.id)).toContain(dropped.dropped.id);

    const seen = await bo.event<{ item: { id: string; itemId: string } }>('item_dropped', (d) => d.item.id === dropped.dropped.id);
    expect(seen.item.itemId).toBe('bandage');
    const boBefore = await bo.ok<PlayView>('inventory');
    const picked = await bo.ok<PlayView & { picked: { id: string; itemId: string; qty: number; slots: number[] } }>('pickup', { groundItemId: dropped.dropped.id });
    expect(total(picked.inventory.items, 'bandage')).toBe(total(boBefore.inventory.items, 'bandage') + 1);
    // The reply says where it went: the slot that took the bandage.
    expect(picked.picked).toMatchObject({ id: dropped.dropped.id, itemId: 'bandage', qty: 1, slots: [slotOf(boBefore.inventory.items, 'bandage').slot] });
    expect(picked.ground.map((g) => g.id)).not.toContain(dropped.dropped.id);
    const taken = await ada.event<{ player: { id: number }; item: { id: string } }>('item_picked_up', (d) => d.item.id === dropped.dropped.id);
    expect(taken.player.id).toBe(boId);

    const again = await ada.request('pickup', { groundItemId: dropped.dropped.id });
    expect(again).toMatchObject({ type: 'error', data: { code: 'E_ITEM_GONE' } });
  });

  it('equipping a weapon raises attack; unequipping lowers it again', async () => {
    const before = await ada.ok<PlayView>('inventory');
    const pipe = slotOf(before.inventory.items, 'rusty-pipe');
    const equipped = await ada.ok<PlayView>('equip', { slot: pipe.slot });
    expect(equipped.self.attack).toBeGreaterThan(before.self.attack);
    expect(equipped.equipment.mainHand?.itemId).toBe('rusty-pipe');
    expect(equipped.inventory.items.find((i) => i.itemId === 'rusty-pipe')).toBeUndefined();

    const unequipped = await ada.ok<PlayView>('unequip', { slot: 'mainHand' });
    expect(unequipped.self.attack).toBe(before.self.attack);
    expect(unequipped.equipment.mainHand).toBeUndefined();
    await ada.ok('equip', { slot: slotOf(unequipped.inventory.items, 'rusty-pipe').slot });
  });

  it('a consumable heals, and is used up', async () => {
    const before = await bo.ok<PlayView>('inventory');
    expect(before.self.hp).toBeLessThan(before.self.maxHp);
    const bandage = slotOf(before.inventory.items, 'bandage');
    const used = await bo.ok<PlayView & { healed: number }>('use', { slot: bandage.slot });
    expect(used.healed).toBe(15);
    expect(used.self.hp).toBeGreaterThanOrEqual(before.self.hp + 15);
    expect(total(used.inventory.items, 'bandage')).toBe(total(before.inventory.items, 'bandage') - 1);
  });

  it('a disconnected player stays, shown as disconnected', async () => {
    await bo.close();
    const gone = await ada.event<{ player: { id: number; connected: boolean } }>('player_disconnected', (d) => d.player.id === boId);
    expect(gone.player.connected).toBe(false);
    const look = await ada.ok<PlayView>('look');
    expect(look.location.players).toContainEqual({ id: boId, name: 'Bo_e2e', connected: false });
  });
});

function total(items: ItemSlot[], itemId: string): number {
  return items.filter((item) => item.itemId === itemId).reduce((sum, item) => sum + item.qty, 0);
}
