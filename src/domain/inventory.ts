// Where an item goes in an inventory, and whether it may: stacking, free slots, carry weight.
import type { Catalog } from '../content/catalog.ts';
import type { Equipment, Inventory, InventoryEntry } from './model.ts';

export type AddPlan =
  | { ok: true; writes: Map<number, InventoryEntry> }
  | { ok: false; reason: 'full' | 'too_heavy' };

/**
 * An item kind the world no longer has (its content was changed since it was saved) is kept, not
 * refused: it weighs nothing and does not stack, so its holder can still play and drop it.
 */
const RETIRED = { weight: 0, stackable: false, maxStack: 1 } as const;

function templateOf(catalog: Catalog, itemId: string) {
  return catalog.items.get(itemId) ?? RETIRED;
}

/** Total kilograms carried: inventory and worn equipment both weigh. */
export function carriedWeight(catalog: Catalog, inventory: Inventory, equipment: Equipment): number {
  let total = 0;
  for (const entry of inventory.values()) total += templateOf(catalog, entry.itemId).weight * entry.qty;
  for (const worn of equipment.values()) total += templateOf(catalog, worn.itemId).weight;
  return total;
}

/**
 * Plans adding an entry: tops up existing stacks of the same item first, then fills the lowest
 * free slots. All or nothing: a plan that cannot place every unit is refused.
 */
export function planAdd(
  catalog: Catalog,
  inventory: Inventory,
  equipment: Equipment,
  entry: InventoryEntry,
): AddPlan {
  const template = templateOf(catalog, entry.itemId);
  const { inventorySlots, carryWeight } = catalog.rules;
  // A rounding margin, so 0.1 + 0.2 kg never refuses a pickup that fits exactly.
  if (carriedWeight(catalog, inventory, equipment) + template.weight * entry.qty > carryWeight + 1e-9) {
    return { ok: false, reason: 'too_heavy' };
  }
  const writes = new Map<number, InventoryEntry>();
  let left = entry.qty;
  if (template.stackable) {
    for (const [slot, existing] of [...inventory.entries()].sort((a, b) => a[0] - b[0])) {
      if (left === 0) break;
      if (!stacksWith(existing, entry) || existing.qty >= template.maxStack) continue;
      const moved = Math.min(left, template.maxStack - existing.qty);
      writes.set(slot, { itemId: existing.itemId, qty: existing.qty + moved });
      left -= moved;
    }
  }
  for (let slot = 0; slot < inventorySlots && left > 0; slot++) {
    if (inventory.has(slot)) continue;
    const placed = template.stackable ? Math.min(left, template.maxStack) : 1;
    writes.set(slot, { itemId: entry.itemId, qty: placed, uniqueItemId: entry.uniqueItemId });
    left -= placed;
  }
  return left > 0 ? { ok: false, reason: 'full' } : { ok: true, writes };
}

/**
 * How many units of `entry` planAdd could place: what the stacks of that item have room for,
 * the free slots, and the weight left under the carry limit, whichever runs out first.
 */
export function unitsThatFit(catalog: Catalog, inventory: Inventory, equipment: Equipment, entry: InventoryEntry): number {
  const template = templateOf(catalog, entry.itemId);
  const { inventorySlots, carryWeight } = catalog.rules;
  let room = 0;
  if (template.stackable) {
    for (const existing of inventory.values()) {
      if (stacksWith(existing, entry)) room += Math.max(0, template.maxStack - existing.qty);
    }
  }
  for (let slot = 0; slot < inventorySlots; slot++) if (!inventory.has(slot)) room += template.stackable ? template.maxStack : 1;
  const spare = carryWeight + 1e-9 - carriedWeight(catalog, inventory, equipment);
  const light = template.weight > 0 ? Math.max(0, Math.floor(spare / template.weight)) : entry.qty;
  return Math.min(entry.qty, room, light);
}

/**
 * Whether `entry` may be added to the stack `existing`: the same item, neither of them unique. A
 * unique unit of a stackable item (one made before a content change made the item stack) keeps
 * its own slot, or its unique item would be left behind, held by no one.
 */
function stacksWith(existing: InventoryEntry, entry: InventoryEntry): boolean {
  return existing.itemId === entry.itemId && existing.uniqueItemId === undefined && entry.uniqueItemId === undefined;
}

/** The first free slot, or null when every slot holds something. */
export function firstFreeSlot(inventory: Inventory, slots: number): number | null {
  for (let slot = 0; slot < slots; slot++) if (!inventory.has(slot)) return slot;
  return null;
}
