// The five content files once each has passed its schema, before the catalog is built.
import type { z } from 'zod';
import type { ItemTemplate, Location, LootTable, NpcTemplate, worldFileSchema } from './schema.ts';

export interface ContentData {
  readonly world: z.output<typeof worldFileSchema>;
  readonly locations: readonly Location[];
  readonly items: readonly ItemTemplate[];
  readonly npcs: readonly NpcTemplate[];
  readonly lootTables: readonly LootTable[];
}
