// The validated, read-only content a worker holds in memory for its whole life.
import type { ItemTemplate, Location, LootTable, NpcTemplate, Rules } from './schema.ts';

export interface Catalog {
  readonly name: string;
  readonly description: string;
  readonly rules: Rules;
  readonly locations: ReadonlyMap<string, Location>;
  readonly items: ReadonlyMap<string, ItemTemplate>;
  readonly npcs: ReadonlyMap<string, NpcTemplate>;
  readonly lootTables: ReadonlyMap<string, LootTable>;
}
