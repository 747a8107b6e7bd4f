// References from one piece of content to another by id: each must name something that exists.
import type { ContentData } from './contentData.ts';
import type { Rules } from './schema.ts';
import type { Report } from './problemList.ts';

type Ids = ReadonlySet<string>;

export function idsOf(entries: readonly { readonly id: string }[]): Ids {
  return new Set(entries.map((entry) => entry.id));
}

export function checkExitTargets(locations: ContentData['locations'], report: Report): void {
  const locationIds = idsOf(locations);
  locations.forEach((location, index) => {
    for (const [direction, target] of Object.entries(location.exits)) {
      const path = ['locations', index, 'exits', direction];
      if (target === location.id) report('locations', path, `exit ${direction} leads back to "${location.id}" itself`);
      else if (!locationIds.has(target)) report('locations', path, `exit ${direction} leads to unknown location "${target}"`);
    }
  });
}

export function checkLocationNpcs(locations: ContentData['locations'], npcIds: Ids, report: Report): void {
  locations.forEach((location, index) => {
    location.npcs.forEach((npc, npcIndex) => {
      if (!npcIds.has(npc)) report('locations', ['locations', index, 'npcs', npcIndex], `unknown NPC "${npc}"`);
    });
  });
}

export function checkInteractableLootTables(locations: ContentData['locations'], lootTableIds: Ids, report: Report): void {
  locations.forEach((location, index) => {
    location.interactables.forEach((interactable, interactableIndex) => {
      if (lootTableIds.has(interactable.lootTable)) return;
      const path = ['locations', index, 'interactables', interactableIndex, 'lootTable'];
      report('locations', path, `unknown loot table "${interactable.lootTable}"`);
    });
  });
}

export function checkNpcLootTables(npcs: ContentData['npcs'], lootTableIds: Ids, report: Report): void {
  npcs.forEach((npc, index) => {
    if (!lootTableIds.has(npc.lootTable)) report('npcs', ['npcs', index, 'lootTable'], `unknown loot table "${npc.lootTable}"`);
  });
}

export function checkLootItems(lootTables: ContentData['lootTables'], itemIds: Ids, report: Report): void {
  lootTables.forEach((table, index) => {
    table.entries.forEach((entry, entryIndex) => {
      if (entry.item === null || itemIds.has(entry.item)) return;
      report('lootTables', ['lootTables', index, 'entries', entryIndex, 'item'], `unknown item "${entry.item}"`);
    });
  });
}

export function checkStartingItems(rules: Rules, itemIds: Ids, report: Report): void {
  rules.startingItems.forEach(({ item }, index) => {
    if (!itemIds.has(item)) report('world', ['rules', 'startingItems', index, 'item'], `unknown item "${item}"`);
  });
}

export function checkRuleLocations(rules: Rules, locationIds: Ids, report: Report): void {
  for (const field of ['startLocation', 'respawnLocation'] as const) {
    if (!locationIds.has(rules[field])) report('world', ['rules', field], `unknown location "${rules[field]}"`);
  }
}
