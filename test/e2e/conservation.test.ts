// Items are conserved: concurrent pickups of one ground item have exactly one winner, and random
// concurrent drop/pickup/equip runs never create or destroy an item.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerPlayer } from '../support/accounts.ts';
import { GameClient, type Reply } from '../support/GameClient.ts';
import { startInProcessServer, type InProcessServer } from '../support/inProcessServer.ts';
import type { ItemSlot, PlayView } from '../support/views.ts';

const PLAYERS = 6;
let server: InProcessServer;
let clients: GameClient[];
let initial: Map<string, number>;

beforeAll(async () => {
  server = await startInProcessServer({ CINDER_ACTION_BURST: '1000', CINDER_ACTIONS_PER_SECOND: '1000' });
  clients = [];
  for (let i = 0; i < PLAYERS; i++) {
    const { token } = await registerPlayer(server.baseUrl);
    const client = await GameClient.connect(server.wsUrl);
    await client.ok('auth', { token });
    clients.push(client);
  }
  initial = await worldTotals();
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await server.stop();
});

/** Every item unit held, worn or lying in the start location, by item id (and unique ids seen once). */
async function worldTotals(): Promise<Map<string, number>> {
  const totals = new Map<string, number>();
  const uniques = new Set<string>();
  const add = (itemId: string, qty: number, uniqueItemId?: string) => {
    if (uniqueItemId !== undefined) {
      expect(uniques.has(uniqueItemId), `unique item ${uniqueItemId} exists twice`).toBe(false);
      uniques.add(uniqueItemId);
    }
    totals.set(itemId, (totals.get(itemId) ?? 0) + qty);
  };
  for (const client of clients) {
    const view = await client.ok<PlayView>('inventory');
    for (const item of view.inventory.items) add(item.itemId, item.qty, item.uniqueItemId);
    for (const worn of Object.values(view.equipment)) if (worn) add(worn.itemId, 1, worn.uniqueItemId);
  }
  const look = await clientAt(0).ok<PlayView & { location: { ground: { uniqueItemId?: string }[] } }>('look');
  for (const item of look.location.ground) add(item.itemId, item.qty, item.uniqueItemId);
  return totals;
}

function clientAt(index: number): GameClient {
  const client = clients[index];
  if (!client) throw new Error(`no client ${index}`);
  return client;
}

async function firstStack(client: GameClient, itemId: string): Promise<ItemSlot | undefined> {
  const view = await client.ok<PlayView>('inventory');
  return view.inventory.items.find((item) => item.itemId === itemId);
}

describe('conservation', () => {
  it('many players racing for one ground item: exactly one winner, every round', async () => {
    for (let round = 0; round < 30; round++) {
      let dropper: GameClient | undefined;
      let stack: ItemSlot | undefined;
      for (const candidate of clients) {
        stack = await firstStack(candidate, 'bandage');
        if (stack) {
          dropper = candidate;
          break;
        }
      }
      if (!dropper || !stack) throw new Error('no bandages left anywhere');
      const { dropped } = await dropper.ok<{ dropped: { id: string } }>('drop', { slot: stack.slot, qty: 1 });
      const racers = clients.filter((client) => client !== dropper);
      const replies = await Promise.all(racers.map((client) => client.request('pickup', { groundItemId: dropped.id })));
      expect(replies.filter((reply) => reply.type === 'ok')).toHaveLength(1);
      for (const reply of replies.filter((r) => r.type === 'error')) expect(reply.data.code).toBe('E_ITEM_GONE');
    }
    expect(await worldTotals()).toEqual(initial);
  });

  it('random concurrent drop, pickup, equip and unequip never create or destroy items', async () => {
    type Op = { player: number; op: 'drop' | 'pickup' | 'equip' | 'unequip' | 'use'; pick: number };
    const op = fc.record({
      player: fc.integer({ min: 0, max: PLAYERS - 1 }),
      op: fc.constantFrom('drop', 'pickup', 'pickup', 'equip', 'unequip'),
      pick: fc.nat(),
    }) as fc.Arbitrary<Op>;

    const perform = async ({ player, op: kind, pick }: Op): Promise<Reply | null> => {
      const client = clientAt(player);
      const view = await client.ok<PlayView>(kind === 'pickup' ? 'look' : 'inventory');
      if (kind === 'pickup') {
        const ground = view.location.ground;
        const target = ground[pick % Math.max(1, ground.length)];
        return target ? client.request('pickup', { groundItemId: target.id }) : null;
      }
      if (kind === 'unequip') return client.request('unequip', { slot: 'mainHand' });
      const items = view.inventory.items;
      const item = items[pick % Math.max(1, items.length)];
      if (!item) return null;
      return client.request(kind, kind === 'drop' ? { slot: item.slot, qty: 1 + (pick % item.qty) } : { slot: item.slot });
    };

    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(op, { minLength: 1, maxLength: PLAYERS }), { minLength: 1, maxLength: 8 }), async (rounds) => {
        for (const round of rounds) {
          // One op per player per round: each player's own read-then-act stays consistent.
          const byPlayer = new Map(round.map((o) => [o.player, o]));
          const replies = await Promise.all([...byPlayer.values()].map(perform));
          for (const reply of replies) {
            if (reply?.type === 'error') expect(['E_ITEM_GONE', 'E_NOT_EQUIPPABLE', 'E_NOTHING_EQUIPPED', 'E_INVENTORY_FULL', 'E_TOO_HEAVY']).toContain(reply.data.code);
          }
        }
        expect(await worldTotals()).toEqual(initial);
      }),
      { numRuns: 15, seed: 20261121 },
    );
  });
});
