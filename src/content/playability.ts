// Content every file accepts on its own but the game could not play: a cost no character can ever
// pay, an item no one can ever carry, worn bonuses that leave a character without health. Each
// would pass unnoticed until a player met it.
import type { ContentData } from './contentData.ts';
import { EQUIP_SLOTS, type ItemTemplate, type Rules } from './schema.ts';
import type { Report } from './problemList.ts';

export function checkStaminaCosts(rules: Rules, locations: ContentData['locations'], report: Report): void {
  const most = rules.maxStamina;
  if (rules.moveStaminaCost > most) {
    report('world', ['rules', 'moveStaminaCost'], `a move costs ${rules.moveStaminaCost} stamina; maxStamina is ${most}, so no one could ever move`);
  }
  locations.forEach((location, index) => {
    location.interactables.forEach((thing, thingIndex) => {
      if (thing.staminaCost <= most) return;
      const path = ['locations', index, 'interactables', thingIndex, 'staminaCost'];
      report('locations', path, `searching "${thing.id}" costs ${thing.staminaCost} stamina; maxStamina is ${most}, so no one could ever search it`);
    });
  });
}

export function checkItemWeights(rules: Rules, items: readonly ItemTemplate[], report: Report): void {
  items.forEach((item, index) => {
    if (item.weight > rules.carryWeight) {
      report('items', ['items', index, 'weight'], `"${item.id}" weighs ${item.weight} kg; carryWeight is ${rules.carryWeight}, so no one could ever carry it`);
    }
  });
}

/**
 * Wearing, in every equipment slot, the item that lowers a maximum most must still leave it at 1
 * or more: at 0 or below, health and stamina would be nonsense, and stay low after unequipping.
 */
export function checkWornMaxima(rules: Rules, items: readonly ItemTemplate[], report: Report): void {
  for (const stat of ['maxHp', 'maxStamina'] as const) {
    let lowest = rules[stat];
    let worst: { index: number; bonus: number } | null = null;
    for (const slot of EQUIP_SLOTS) {
      let slotWorst: { index: number; bonus: number } | null = null;
      for (const [index, item] of items.entries()) {
        const bonus = item.stats?.[stat] ?? 0;
        if (item.equipSlot === slot && bonus < (slotWorst?.bonus ?? 0)) slotWorst = { index, bonus };
      }
      if (slotWorst === null) continue;
      lowest += slotWorst.bonus;
      if (worst === null || slotWorst.bonus < worst.bonus) worst = slotWorst;
    }
    if (lowest >= 1 || worst === null) continue;
    report('items', ['items', worst.index, 'stats', stat], `wearing the items that lower ${stat} most, one per slot, leaves ${stat} at ${lowest}; it must stay at least 1`);
  }
}

/** Items that do not stack are made one by one (each unique one with its own id): a search must not make a flood of them. */
export function checkLootQuantities(lootTables: ContentData['lootTables'], items: readonly ItemTemplate[], report: Report): void {
  const stacking = new Map(items.map((item) => [item.id, item.stackable]));
  lootTables.forEach((table, index) => {
    table.entries.forEach((entry, entryIndex) => {
      if (entry.item === null || stacking.get(entry.item) !== false) return;
      const most = entry.qty.max * table.rolls;
      if (most <= MAX_SEPARATE_ITEMS) return;
      const path = ['lootTables', index, 'entries', entryIndex, 'qty', 'max'];
      report('lootTables', path, `"${entry.item}" does not stack, and one search could make ${most} of them (qty.max × rolls); at most ${MAX_SEPARATE_ITEMS}`);
    });
  });
}

const MAX_SEPARATE_ITEMS = 100;
