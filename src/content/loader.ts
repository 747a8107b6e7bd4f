// Loads a content directory into a Catalog, or throws a ContentError listing every problem found.
import { stat } from 'node:fs/promises';
import type { Catalog } from './catalog.ts';
import type { ContentData } from './contentData.ts';
import { ContentError } from './contentError.ts';
import {
  checkExitTargets,
  checkInteractableLootTables,
  checkLocationNpcs,
  checkLootItems,
  checkNpcLootTables,
  checkRuleLocations,
  checkStartingItems,
  idsOf,
} from './crossReferences.ts';
import { reportDuplicateIds, reportDuplicateInteractableIds } from './duplicateIds.ts';
import { checkDistinctCoordinates, checkReachable } from './mapLayout.ts';
import { checkItemWeights, checkLootQuantities, checkStaminaCosts, checkWornMaxima } from './playability.ts';
import { ProblemList, type Report } from './problemList.ts';
import { readContentFile } from './readContentFile.ts';
import { checkStartingKitFits } from './startingKit.ts';
import { itemsFileSchema, locationsFileSchema, lootTablesFileSchema, npcsFileSchema, worldFileSchema } from './schema.ts';

export { ContentError, type ContentProblem } from './contentError.ts';

export async function loadContent(dir: string): Promise<Catalog> {
  // One problem for a wrong directory, rather than every file "not found".
  const found = await stat(dir).catch(() => null);
  if (!found?.isDirectory()) throw new ContentError([{ file: dir, path: '$', reason: found ? 'not a directory' : 'directory not found' }]);
  const problems = new ProblemList(dir);
  const { report } = problems;
  const [world, locations, items, npcs, lootTables] = await Promise.all([
    readContentFile(dir, 'world', worldFileSchema, report),
    readContentFile(dir, 'locations', locationsFileSchema, report).then((file) => file?.locations),
    readContentFile(dir, 'items', itemsFileSchema, report).then((file) => file?.items),
    readContentFile(dir, 'npcs', npcsFileSchema, report).then((file) => file?.npcs),
    readContentFile(dir, 'lootTables', lootTablesFileSchema, report).then((file) => file?.lootTables),
  ]);
  const content = { world, locations, items, npcs, lootTables };
  checkContent(content, report);
  if (!isComplete(content) || !problems.isEmpty) throw new ContentError(problems.list());
  return buildCatalog(content);
}

/**
 * Runs each check whose files passed their schemas: a check over a broken file would only
 * repeat its problems as misleading follow-ups (every item "unknown" when items.json is invalid).
 */
function checkContent(content: Partial<ContentData>, report: Report): void {
  const { world, locations, items, npcs, lootTables } = content;
  if (locations) {
    reportDuplicateIds(locations, 'location', 'locations', ['locations'], report);
    reportDuplicateInteractableIds(locations, report);
    checkExitTargets(locations, report);
    checkDistinctCoordinates(locations, report);
  }
  if (items) reportDuplicateIds(items, 'item', 'items', ['items'], report);
  if (npcs) reportDuplicateIds(npcs, 'NPC', 'npcs', ['npcs'], report);
  if (lootTables) reportDuplicateIds(lootTables, 'loot table', 'lootTables', ['lootTables'], report);

  if (locations && npcs) checkLocationNpcs(locations, idsOf(npcs), report);
  if (locations && lootTables) checkInteractableLootTables(locations, idsOf(lootTables), report);
  if (npcs && lootTables) checkNpcLootTables(npcs, idsOf(lootTables), report);
  if (lootTables && items) {
    checkLootItems(lootTables, idsOf(items), report);
    checkLootQuantities(lootTables, items, report);
  }
  if (world && items) {
    checkStartingItems(world.rules, idsOf(items), report);
    checkStartingKitFits(world.rules, items, report);
    checkItemWeights(world.rules, items, report);
    checkWornMaxima(world.rules, items, report);
  }
  if (world && locations) {
    checkStaminaCosts(world.rules, locations, report);
    const locationIds = idsOf(locations);
    checkRuleLocations(world.rules, locationIds, report);
    // From an unknown start everything would look unreachable; the rule's problem says enough.
    if (locationIds.has(world.rules.startLocation)) checkReachable(locations, world.rules.startLocation, report);
  }
}

function isComplete(content: Partial<ContentData>): content is ContentData {
  const { world, locations, items, npcs, lootTables } = content;
  return world !== undefined && locations !== undefined && items !== undefined && npcs !== undefined && lootTables !== undefined;
}

function buildCatalog(content: ContentData): Catalog {
  const byId = <T extends { id: string }>(entries: readonly T[]) => new Map(entries.map((entry) => [entry.id, entry]));
  const catalog: Catalog = {
    name: content.world.name,
    description: content.world.description,
    rules: content.world.rules,
    locations: byId(content.locations),
    items: byId(content.items),
    npcs: byId(content.npcs),
    lootTables: byId(content.lootTables),
  };
  // Workers share one catalog for their whole life: a stray write to a template must fail loudly.
  deepFreeze(catalog);
  return catalog;
}

function deepFreeze(value: unknown): void {
  if (value instanceof Map) for (const entry of value.values()) deepFreeze(entry);
  else if (typeof value === 'object' && value !== null) for (const field of Object.values(value)) deepFreeze(field);
  Object.freeze(value);
}
