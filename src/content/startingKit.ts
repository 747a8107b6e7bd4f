// Whether a new character's kit fits the inventory the rules give them. A kit that does not fit
// would fail every registration, so the loader refuses the world instead.
import type { ItemTemplate, Rules } from './schema.ts';
import type { Report } from './problemList.ts';

/**
 * Counts the kit the way a pickup places it into an empty inventory: stackable items fill stacks
 * of `maxStack` (entries of one item share them), anything else takes one slot per unit.
 */
export function checkStartingKitFits(rules: Rules, items: readonly ItemTemplate[], report: Report): void {
  const templates = new Map(items.map((item) => [item.id, item]));
  const qtyByItem = new Map<string, number>();
  for (const { item, qty } of rules.startingItems) {
    // An unknown item is reported on its own; counting without it would only mislead.
    if (!templates.has(item)) return;
    qtyByItem.set(item, (qtyByItem.get(item) ?? 0) + qty);
  }
  let slots = 0;
  let weight = 0;
  for (const [id, qty] of qtyByItem) {
    const template = templates.get(id);
    if (!template) return;
    slots += template.stackable ? Math.ceil(qty / template.maxStack) : qty;
    weight += template.weight * qty;
  }
  const path = ['rules', 'startingItems'];
  if (slots > rules.inventorySlots) {
    report('world', path, `the starting kit needs ${slots} inventory slots; inventorySlots is ${rules.inventorySlots}`);
  }
  // The same rounding margin as a pickup's weight check.
  if (weight > rules.carryWeight + 1e-9) {
    report('world', path, `the starting kit weighs ${round(weight)} kg; carryWeight is ${rules.carryWeight}`);
  }
}

const round = (kg: number) => Math.round(kg * 1000) / 1000;
