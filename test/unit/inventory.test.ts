// Where picked-up items land and when a pickup is refused, against the real Ashlands catalogue.
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../src/content/catalog.ts';
import { loadContent } from '../../src/content/loader.ts';
import type { EquipSlot } from '../../src/content/schema.ts';
import { carriedWeight, firstFreeSlot, planAdd, unitsThatFit, type AddPlan } from '../../src/domain/inventory.ts';
import type { EquippedItem, InventoryEntry } from '../../src/domain/model.ts';

const CONTENT_DIR = fileURLToPath(new URL('../../content/ashlands', import.meta.url));

let catalog: Catalog;

beforeAll(async () => {
  catalog = await loadContent(CONTENT_DIR);
});

const entry = (itemId: string, qty: number, uniqueItemId?: string): InventoryEntry =>
  uniqueItemId === undefined ? { itemId, qty } : { itemId, qty, uniqueItemId };

function inventoryOf(...slots: [number, InventoryEntry][]): Map<number, InventoryEntry> {
  return new Map(slots);
}

const noEquipment = new Map<EquipSlot, EquippedItem>();

/** The plan's writes as plain [slot, itemId, qty] rows in slot order, or the refusal. */
function describePlan(plan: AddPlan): [number, string, number][] | string {
  if (!plan.ok) return plan.reason;
  return [...plan.writes].sort((a, b) => a[0] - b[0]).map(([slot, placed]) => [slot, placed.itemId, placed.qty]);
}

/** An inventory whose every slot holds a full stack of bandages (light: weight is no issue). */
function fullOfBandages(): Map<number, InventoryEntry> {
  const inventory = new Map<number, InventoryEntry>();
  for (let slot = 0; slot < catalog.rules.inventorySlots; slot++) inventory.set(slot, entry('bandage', 20));
  return inventory;
}

describe('the catalogue these tests rely on', () => {
  it('has the items and rules the cases below assume', () => {
    const pick = (id: string) => {
      const template = catalog.items.get(id);
      return template && { stackable: template.stackable, maxStack: template.maxStack, weight: template.weight };
    };
    expect(pick('scrap-metal')).toEqual({ stackable: true, maxStack: 50, weight: 0.5 });
    expect(pick('bandage')).toEqual({ stackable: true, maxStack: 20, weight: 0.05 });
    expect(pick('canned-beans')).toEqual({ stackable: true, maxStack: 10, weight: 0.4 });
    expect(pick('cloth-rag')).toEqual({ stackable: true, maxStack: 50, weight: 0.1 });
    expect(pick('rusty-pipe')).toEqual({ stackable: false, maxStack: 1, weight: 2.5 });
    expect(pick('leather-jacket')).toEqual({ stackable: false, maxStack: 1, weight: 2 });
    expect(catalog.rules.carryWeight).toBe(40);
    // 28 full bandage stacks weigh 28 kg: the slot cases never hit the weight limit.
    expect(catalog.rules.inventorySlots * 20 * 0.05).toBeLessThanOrEqual(catalog.rules.carryWeight);
  });
});

describe('planAdd: stacking', () => {
  it('tops up existing stacks of the same item, lowest slot first, before using a free slot', () => {
    const inventory = inventoryOf([0, entry('canned-beans', 3)], [2, entry('bandage', 15)], [4, entry('bandage', 18)]);
    const plan = planAdd(catalog, inventory, noEquipment, entry('bandage', 6));
    // Slot 1 is free but unused: both partial stacks absorb the six.
    expect(describePlan(plan)).toEqual([
      [2, 'bandage', 20],
      [4, 'bandage', 19],
    ]);
  });

  it('does not touch stacks of other items or stacks already full', () => {
    const inventory = inventoryOf([0, entry('scrap-metal', 50)], [1, entry('canned-beans', 4)], [2, entry('scrap-metal', 10)]);
    const plan = planAdd(catalog, inventory, noEquipment, entry('scrap-metal', 5));
    expect(describePlan(plan)).toEqual([[2, 'scrap-metal', 15]]);
  });

  it('spills what exceeds maxStack into the lowest free slots, one full stack each', () => {
    const inventory = inventoryOf([0, entry('rusty-pipe', 1, 'pipe-1')], [1, entry('bandage', 12)], [3, entry('canned-beans', 1)]);
    const plan = planAdd(catalog, inventory, noEquipment, entry('bandage', 50));
    // 8 top up slot 1; the remaining 42 become 20 + 20 + 2 in free slots 2, 4 and 5.
    expect(describePlan(plan)).toEqual([
      [1, 'bandage', 20],
      [2, 'bandage', 20],
      [4, 'bandage', 20],
      [5, 'bandage', 2],
    ]);
  });

  it('puts a large stackable pickup into an empty inventory as full stacks from slot 0', () => {
    const plan = planAdd(catalog, new Map(), noEquipment, entry('scrap-metal', 75));
    expect(describePlan(plan)).toEqual([
      [0, 'scrap-metal', 50],
      [1, 'scrap-metal', 25],
    ]);
  });
});

describe('planAdd: items that do not stack', () => {
  it('takes one free slot per unit and never merges into an existing one', () => {
    const inventory = inventoryOf([0, entry('rusty-pipe', 1, 'pipe-1')], [2, entry('canned-beans', 2)]);
    const plan = planAdd(catalog, inventory, noEquipment, entry('rusty-pipe', 3));
    expect(describePlan(plan)).toEqual([
      [1, 'rusty-pipe', 1],
      [3, 'rusty-pipe', 1],
      [4, 'rusty-pipe', 1],
    ]);
  });

  it('keeps the unique item id of a single unit it places', () => {
    const inventory = inventoryOf([0, entry('leather-jacket', 1, 'jacket-1')]);
    const plan = planAdd(catalog, inventory, noEquipment, entry('leather-jacket', 1, 'jacket-2'));
    expect(plan.ok && [...plan.writes]).toEqual([[1, { itemId: 'leather-jacket', qty: 1, uniqueItemId: 'jacket-2' }]]);
  });
});

describe('planAdd: unique units of a stackable item (after a content change made it stack)', () => {
  it('neither tops up a unique unit nor merges one into a stack: each keeps its own slot', () => {
    const inventory = inventoryOf([0, entry('bandage', 1, 'old-bandage')], [1, entry('bandage', 3)]);
    expect(describePlan(planAdd(catalog, inventory, noEquipment, entry('bandage', 2)))).toEqual([[1, 'bandage', 5]]);
    const plan = planAdd(catalog, inventory, noEquipment, entry('bandage', 1, 'another-old-bandage'));
    expect(plan.ok && [...plan.writes]).toEqual([[2, { itemId: 'bandage', qty: 1, uniqueItemId: 'another-old-bandage' }]]);
    // unitsThatFit counts the same room: none in the unique unit's slot.
    const full = fullOfBandages();
    full.set(0, entry('bandage', 1, 'old-bandage'));
    expect(unitsThatFit(catalog, full, noEquipment, entry('bandage', 30))).toBe(0);
    expect(describePlan(planAdd(catalog, full, noEquipment, entry('bandage', 1)))).toBe('full');
  });
});

describe('planAdd: a full inventory', () => {
  it('still accepts units that fit into an existing partial stack', () => {
    const inventory = fullOfBandages();
    const last = catalog.rules.inventorySlots - 1;
    inventory.set(last, entry('bandage', 19));
    expect(describePlan(planAdd(catalog, inventory, noEquipment, entry('bandage', 1)))).toEqual([[last, 'bandage', 20]]);
  });

  it('refuses the whole pickup as "full" when only part of it would fit', () => {
    const inventory = fullOfBandages();
    inventory.set(catalog.rules.inventorySlots - 1, entry('bandage', 19));
    expect(planAdd(catalog, inventory, noEquipment, entry('bandage', 2))).toEqual({ ok: false, reason: 'full' });
  });

  it('refuses as "full" when the free slots are too few for the stacks needed', () => {
    const inventory = fullOfBandages();
    inventory.delete(5);
    inventory.delete(11);
    // Two free slots hold 40 bandages; 41 need a third.
    expect(describePlan(planAdd(catalog, inventory, noEquipment, entry('bandage', 40)))).toEqual([
      [5, 'bandage', 20],
      [11, 'bandage', 20],
    ]);
    expect(planAdd(catalog, inventory, noEquipment, entry('bandage', 41))).toEqual({ ok: false, reason: 'full' });
  });

  it('refuses a non-stacking item as "full" when every slot is taken', () => {
    expect(planAdd(catalog, fullOfBandages(), noEquipment, entry('rusty-pipe', 1, 'pipe-9'))).toEqual({ ok: false, reason: 'full' });
  });

  it('refuses several non-stacking units when fewer slots are free than units', () => {
    const inventory = fullOfBandages();
    inventory.delete(0);
    inventory.delete(1);
    expect(planAdd(catalog, inventory, noEquipment, entry('rusty-pipe', 3))).toEqual({ ok: false, reason: 'full' });
    expect(planAdd(catalog, inventory, noEquipment, entry('rusty-pipe', 2)).ok).toBe(true);
  });
});

describe('planAdd: carry weight', () => {
  it('accepts a pickup that brings the load to exactly the limit', () => {
    const inventory = inventoryOf([0, entry('scrap-metal', 50)], [1, entry('scrap-metal', 20)]);
    // 35 kg carried + 10 × 0.5 kg = 40 kg.
    expect(describePlan(planAdd(catalog, inventory, noEquipment, entry('scrap-metal', 10)))).toEqual([
      [1, 'scrap-metal', 30],
    ]);
  });

  it('refuses as "too_heavy" one unit over the limit', () => {
    const inventory = inventoryOf([0, entry('scrap-metal', 50)], [1, entry('scrap-metal', 20)]);
    expect(planAdd(catalog, inventory, noEquipment, entry('scrap-metal', 11))).toEqual({ ok: false, reason: 'too_heavy' });
  });

  it('counts what the character wears', () => {
    const inventory = inventoryOf([0, entry('scrap-metal', 50)], [1, entry('scrap-metal', 20)]);
    const wearing = new Map<EquipSlot, EquippedItem>([['body', { itemId: 'leather-jacket', uniqueItemId: 'jacket-1' }]]);
    expect(carriedWeight(catalog, inventory, wearing)).toBe(37);
    // 37 kg + 4 × 0.5 kg = 39 kg fits, 37 + 3.5 = 40.5 kg does not.
    expect(planAdd(catalog, inventory, wearing, entry('scrap-metal', 4)).ok).toBe(true);
    expect(planAdd(catalog, inventory, wearing, entry('scrap-metal', 7))).toEqual({ ok: false, reason: 'too_heavy' });
  });

  it('does not refuse an exact fit because of floating-point rounding', () => {
    // 25 + 14.5 + 0.1 + 0.1 + 0.1 + 0.2 is 40 kg, but adds up to 40.00000000000001 in doubles.
    const inventory = inventoryOf(
      [0, entry('scrap-metal', 50)],
      [1, entry('scrap-metal', 29)],
      [2, entry('cloth-rag', 1)],
      [3, entry('cloth-rag', 1)],
      [4, entry('cloth-rag', 1)],
    );
    expect(describePlan(planAdd(catalog, inventory, noEquipment, entry('cloth-rag', 2)))).toEqual([[2, 'cloth-rag', 3]]);
  });

  it('refuses a too-heavy pickup even when there is plenty of room', () => {
    expect(planAdd(catalog, new Map(), noEquipment, entry('scrap-metal', 81))).toEqual({ ok: false, reason: 'too_heavy' });
  });
});

describe('carriedWeight and firstFreeSlot', () => {
  it('weighs every unit in the inventory and each worn item once', () => {
    const inventory = inventoryOf([0, entry('canned-beans', 5)], [3, entry('rusty-pipe', 1, 'pipe-1')]);
    const wearing = new Map<EquipSlot, EquippedItem>([['body', { itemId: 'leather-jacket' }], ['mainHand', { itemId: 'rusty-pipe' }]]);
    expect(carriedWeight(catalog, inventory, wearing)).toBeCloseTo(5 * 0.4 + 2.5 + 2 + 2.5, 9);
    expect(carriedWeight(catalog, new Map(), noEquipment)).toBe(0);
  });

  it('finds the lowest gap, or null when every slot is taken', () => {
    expect(firstFreeSlot(new Map(), 28)).toBe(0);
    expect(firstFreeSlot(inventoryOf([0, entry('bandage', 1)], [1, entry('bandage', 1)], [3, entry('bandage', 1)]), 28)).toBe(2);
    expect(firstFreeSlot(fullOfBandages(), catalog.rules.inventorySlots)).toBeNull();
    const almost = fullOfBandages();
    almost.delete(catalog.rules.inventorySlots - 1);
    expect(firstFreeSlot(almost, catalog.rules.inventorySlots)).toBe(catalog.rules.inventorySlots - 1);
  });
});

describe('unitsThatFit', () => {
  it('counts the room left in stacks, free slots and carry weight, whichever is least', () => {
    const inventory = fullOfBandages();
    inventory.set(3, entry('bandage', 18));
    expect(unitsThatFit(catalog, inventory, noEquipment, entry('bandage', 5))).toBe(2);
    expect(unitsThatFit(catalog, inventory, noEquipment, entry('rusty-pipe', 1, 'pipe-1'))).toBe(0);
    const heavy = inventoryOf([0, entry('scrap-metal', 50)], [1, entry('scrap-metal', 20)]);
    expect(unitsThatFit(catalog, heavy, noEquipment, entry('scrap-metal', 30))).toBe(10);
    expect(unitsThatFit(catalog, new Map(), noEquipment, entry('bandage', 7))).toBe(7);
  });

  it('is the most planAdd places, for any inventory and entry', () => {
    const ITEMS = ['scrap-metal', 'bandage', 'canned-beans', 'rusty-pipe', 'sledgehammer'] as const;
    const held = fc.record({ item: fc.constantFrom(...ITEMS), qty: fc.integer({ min: 1, max: 50 }) });
    fc.assert(
      fc.property(fc.array(held, { maxLength: 40 }), fc.constantFrom(...ITEMS), fc.integer({ min: 1, max: 200 }), (holding, item, qty) => {
        // Built as pickups build it, so that every stack and slot is one a game can have.
        const inventory = new Map<number, InventoryEntry>();
        for (const { item: heldItem, qty: heldQty } of holding) {
          const plan = planAdd(catalog, inventory, noEquipment, entry(heldItem, heldQty));
          if (plan.ok) for (const [slot, placed] of plan.writes) inventory.set(slot, placed);
        }
        const fits = unitsThatFit(catalog, inventory, noEquipment, entry(item, qty));
        expect(fits).toBeGreaterThanOrEqual(0);
        expect(fits).toBeLessThanOrEqual(qty);
        if (fits > 0) expect(planAdd(catalog, inventory, noEquipment, entry(item, fits)).ok).toBe(true);
        if (fits < qty) expect(planAdd(catalog, inventory, noEquipment, entry(item, fits + 1)).ok).toBe(false);
      }),
      { seed: 20261122, numRuns: 300 },
    );
  });
});

describe('planAdd: property over random sequences of pickups and drops', () => {
  const ITEMS = ['scrap-metal', 'bandage', 'canned-beans', 'rusty-pipe', 'leather-jacket'] as const;

  const operation = fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('add' as const), item: fc.constantFrom(...ITEMS), qty: fc.integer({ min: 1, max: 60 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), slot: fc.nat({ max: 30 }) }) },
  );

  it('conserves quantities, respects maxStack and the slot count, and never overwrites another item', () => {
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 60 }), fc.boolean(), (operations, wearJacket) => {
        const { inventorySlots, carryWeight } = catalog.rules;
        const equipment = new Map<EquipSlot, EquippedItem>(wearJacket ? [['body', { itemId: 'leather-jacket' }]] : []);
        const inventory = new Map<number, InventoryEntry>();
        const expected = new Map<string, number>();
        for (const op of operations) {
          if (op.kind === 'drop') {
            const dropped = inventory.get(op.slot);
            if (dropped) {
              inventory.delete(op.slot);
              expected.set(dropped.itemId, (expected.get(dropped.itemId) ?? 0) - dropped.qty);
            }
            continue;
          }
          const before = new Map(inventory);
          const plan = planAdd(catalog, inventory, equipment, entry(op.item, op.qty));
          if (!plan.ok) {
            if (plan.reason === 'too_heavy') {
              const weight = catalog.items.get(op.item)?.weight ?? 0;
              expect(carriedWeight(catalog, inventory, equipment) + weight * op.qty).toBeGreaterThan(carryWeight);
            }
            continue;
          }
          for (const [slot, placed] of plan.writes) {
            const previous = before.get(slot);
            // A write lands on a free slot or on a stack of the same item, never on something else.
            if (previous) expect(previous.itemId).toBe(op.item);
            expect(placed.itemId).toBe(op.item);
            inventory.set(slot, placed);
          }
          expected.set(op.item, (expected.get(op.item) ?? 0) + op.qty);
        }

        const totals = new Map<string, number>();
        for (const [slot, held] of inventory) {
          const template = catalog.items.get(held.itemId);
          expect(template).toBeDefined();
          expect(Number.isInteger(slot) && slot >= 0 && slot < inventorySlots).toBe(true);
          expect(held.qty).toBeGreaterThanOrEqual(1);
          expect(held.qty).toBeLessThanOrEqual(template?.maxStack ?? 0);
          totals.set(held.itemId, (totals.get(held.itemId) ?? 0) + held.qty);
        }
        for (const item of ITEMS) expect(totals.get(item) ?? 0).toBe(expected.get(item) ?? 0);
        expect(carriedWeight(catalog, inventory, equipment)).toBeLessThanOrEqual(carryWeight + 1e-9);
      }),
      { seed: 20261121, numRuns: 300 },
    );
  });
});
