// The reference world as a player walks it: a coherent map, sensible items, and the ids other
// code and tests rely on. The loader checks what every world must satisfy; this checks ours.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../src/content/catalog.ts';
import { loadContent } from '../../src/content/loader.ts';
import type { Direction } from '../../src/content/schema.ts';
import { ASHLANDS_DIR } from './contentCopy.ts';

// y grows southwards, as on a screen: north of (0, 0) is (0, -1).
const STEP: Partial<Record<Direction, { dx: number; dy: number; back: Direction }>> = {
  north: { dx: 0, dy: -1, back: 'south' },
  south: { dx: 0, dy: 1, back: 'north' },
  east: { dx: 1, dy: 0, back: 'west' },
  west: { dx: -1, dy: 0, back: 'east' },
  northeast: { dx: 1, dy: -1, back: 'southwest' },
  southwest: { dx: -1, dy: 1, back: 'northeast' },
  northwest: { dx: -1, dy: -1, back: 'southeast' },
  southeast: { dx: 1, dy: 1, back: 'northwest' },
};

let world: Catalog;
beforeAll(async () => {
  world = await loadContent(ASHLANDS_DIR);
});

function get<T>(map: ReadonlyMap<string, T>, id: string): T {
  const value = map.get(id);
  if (value === undefined) throw new Error(`missing "${id}"`);
  return value;
}

/** Walking distance (in moves) of every location from the start. */
function distancesFromStart(): Map<string, number> {
  const distance = new Map([[world.rules.startLocation, 0]]);
  const queue = [world.rules.startLocation];
  for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
    for (const target of Object.values(get(world.locations, id).exits)) {
      if (distance.has(target)) continue;
      distance.set(target, (distance.get(id) ?? 0) + 1);
      queue.push(target);
    }
  }
  return distance;
}

describe('the Ashlands map', () => {
  it('has reciprocal exits whose directions agree with the coordinates', () => {
    for (const location of world.locations.values()) {
      for (const [direction, targetId] of Object.entries(location.exits) as [Direction, string][]) {
        const step = STEP[direction];
        const target = get(world.locations, targetId);
        const where = `${location.id} ${direction} → ${targetId}`;
        expect(step, where).toBeDefined();
        expect({ x: target.x - location.x, y: target.y - location.y }, where).toEqual({ x: step?.dx, y: step?.dy });
        expect(step && target.exits[step.back], where).toBe(location.id);
      }
    }
  });

  it('starts in a safe settlement with something to search and a way north', () => {
    const start = get(world.locations, world.rules.startLocation);
    expect(start.safe).toBe(true);
    expect(start.danger).toBe(0);
    expect(start.interactables.length).toBeGreaterThan(0);
    expect(start.exits.north).toBeDefined();
    expect(world.locations.has(world.rules.respawnLocation)).toBe(true);
  });

  it('wakes new characters wounded enough for a bandage to matter, with a pipe and supplies', () => {
    expect(world.rules.startingHp).toBeLessThanOrEqual(world.rules.maxHp - 15);
    expect(world.rules.startingItems.map((kit) => kit.item)).toEqual(['rusty-pipe', 'bandage', 'canned-beans']);
  });

  it('grows more dangerous the farther one walks, up to 5', () => {
    const distance = distancesFromStart();
    for (const location of world.locations.values()) {
      expect(location.danger, location.id).toBeLessThanOrEqual(distance.get(location.id) ?? 0);
      if (location.safe) expect(location.danger, location.id).toBe(0);
      else expect(location.npcs.length, `${location.id} has nothing to fight`).toBeGreaterThan(0);
    }
    expect(Math.max(...[...world.locations.values()].map((location) => location.danger))).toBe(5);
  });

  it('describes every location in 2–4 sentences, none alike', () => {
    const descriptions = new Set<string>();
    for (const location of world.locations.values()) {
      const sentences = location.description.split(/(?<=[.!?]['"]?)\s+(?=[A-Z'"])/);
      expect(sentences.length, location.id).toBeGreaterThanOrEqual(2);
      expect(sentences.length, location.id).toBeLessThanOrEqual(4);
      descriptions.add(location.description);
    }
    expect(descriptions.size).toBe(world.locations.size);
  });

  it('has interactables in most locations, with cooldowns of 30–600 s and a few costing stamina', () => {
    const locations = [...world.locations.values()];
    const interactables = locations.flatMap((location) => location.interactables);
    expect(locations.filter((location) => location.interactables.length > 0).length).toBeGreaterThan(locations.length / 2);
    for (const interactable of interactables) {
      expect(interactable.cooldownSeconds, interactable.id).toBeGreaterThanOrEqual(30);
      expect(interactable.cooldownSeconds, interactable.id).toBeLessThanOrEqual(600);
    }
    expect(interactables.filter((interactable) => interactable.staminaCost > 0).length).toBeGreaterThanOrEqual(3);
  });
});

describe('the Ashlands items and loot', () => {
  it('has the items other code and tests rely on', () => {
    expect(get(world.items, 'rusty-pipe')).toMatchObject({ kind: 'weapon', equipSlot: 'mainHand', stackable: false });
    expect(get(world.items, 'rusty-pipe').stats?.attack).toBeGreaterThan(0);
    expect(get(world.items, 'leather-jacket')).toMatchObject({ kind: 'armour', equipSlot: 'body', stackable: false });
    expect(get(world.items, 'leather-jacket').stats?.defense).toBeGreaterThan(0);
    expect(get(world.items, 'bandage')).toMatchObject({ kind: 'consumable', stackable: true, effects: { heal: 15 } });
    expect(get(world.items, 'canned-beans')).toMatchObject({
      kind: 'consumable',
      stackable: true,
      effects: { heal: 10, restoreStamina: 20 },
    });
    expect(get(world.items, 'scrap-metal')).toMatchObject({ kind: 'material', stackable: true, maxStack: 50, weight: 0.5 });
  });

  it('makes weapons and armour wear out and everything else stack', () => {
    for (const item of world.items.values()) {
      if (item.kind === 'weapon' || item.kind === 'armour') {
        expect(item.stackable, item.id).toBe(false);
        if (item.equipSlot !== 'neck' && item.equipSlot !== 'ring') expect(item.durability, item.id).toBeDefined();
      }
      if (item.kind === 'consumable') expect(item.maxStack, item.id).toBeGreaterThanOrEqual(10);
      if (item.kind === 'material' || item.kind === 'junk') expect(item.stackable, item.id).toBe(true);
      expect(item.weight, item.id).toBeLessThan(world.rules.carryWeight / 4);
    }
  });

  it('lets every item be found, every NPC be met and every loot table be used', () => {
    const dropped = new Set([...world.lootTables.values()].flatMap((table) => table.entries.map((entry) => entry.item)));
    for (const id of world.items.keys()) expect(dropped.has(id), `${id} is never dropped`).toBe(true);

    const locations = [...world.locations.values()];
    const placed = new Set(locations.flatMap((location) => location.npcs));
    for (const id of world.npcs.keys()) expect(placed.has(id), `${id} is never placed`).toBe(true);

    const used = new Set([
      ...locations.flatMap((location) => location.interactables.map((interactable) => interactable.lootTable)),
      ...[...world.npcs.values()].map((npc) => npc.lootTable),
    ]);
    for (const id of world.lootTables.keys()) expect(used.has(id), `${id} is never used`).toBe(true);
  });

  it('can come away empty-handed from every loot table', () => {
    for (const table of world.lootTables.values()) {
      expect(table.entries.some((entry) => entry.item === null), table.id).toBe(true);
    }
  });
});
