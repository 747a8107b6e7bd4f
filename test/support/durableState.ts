// What PostgreSQL holds, read straight from its tables in the shapes of heldState.ts, so that a
// test can compare it with what the players were told.
import pg from 'pg';
import { normalEquipment, normalGround, normalInventory, slotView, wornView, type GroundSeen, type Held } from './heldState.ts';

export interface ItemUnits {
  /** Units by item id. */
  totals: Record<string, number>;
  /** Each unique item id once per place it was found in (durableItemUnits sorts them). */
  uniques: string[];
}

async function reading<T>(databaseUrl: string, read: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await read(client);
  } finally {
    await client.end();
  }
}

/** Each character's location, inventory and equipment. */
export function durableHoldings(databaseUrl: string): Promise<Map<number, Held>> {
  return reading(databaseUrl, async (client) => {
    const characters = await client.query<{ id: string; location_id: string }>('SELECT id, location_id FROM characters');
    const inventory = await client.query<{ character_id: string; slot: number; item_id: string; qty: number; unique_item_id: string | null }>(
      'SELECT character_id, slot, item_id, qty, unique_item_id FROM inventory',
    );
    const equipment = await client.query<{ character_id: string; slot: string; item_id: string; unique_item_id: string | null }>(
      'SELECT character_id, slot, item_id, unique_item_id FROM equipment',
    );
    const held = new Map<number, Held>(characters.rows.map((row) => [Number(row.id), { locationId: row.location_id, inventory: [], equipment: {} }]));
    const of = (id: string): Held => {
      const found = held.get(Number(id));
      if (!found) throw new Error(`a row for unknown character ${id}`);
      return found;
    };
    for (const row of inventory.rows) {
      of(row.character_id).inventory.push(slotView({ slot: row.slot, itemId: row.item_id, qty: row.qty, uniqueItemId: row.unique_item_id ?? undefined }));
    }
    for (const row of equipment.rows) {
      of(row.character_id).equipment[row.slot] = wornView({ itemId: row.item_id, uniqueItemId: row.unique_item_id ?? undefined });
    }
    for (const entry of held.values()) {
      entry.inventory = normalInventory(entry.inventory);
      entry.equipment = normalEquipment(entry.equipment);
    }
    return held;
  });
}

/** The items lying in each location that has any. */
export function durableGround(databaseUrl: string): Promise<Map<string, GroundSeen[]>> {
  return reading(databaseUrl, async (client) => {
    const { rows } = await client.query<{ id: string; location_id: string; item_id: string; qty: number; unique_item_id: string | null }>(
      'SELECT id, location_id, item_id, qty, unique_item_id FROM ground_items',
    );
    const byLocation = new Map<string, GroundSeen[]>();
    for (const row of rows) {
      const items = byLocation.get(row.location_id) ?? [];
      items.push({ id: row.id, itemId: row.item_id, qty: row.qty, uniqueItemId: row.unique_item_id ?? undefined });
      byLocation.set(row.location_id, items);
    }
    return new Map([...byLocation].map(([location, items]) => [location, normalGround(items)]));
  });
}

/** Every item unit in inventories, equipment and on the ground. */
export function durableItemUnits(databaseUrl: string): Promise<ItemUnits> {
  return reading(databaseUrl, async (client) => {
    const { rows } = await client.query<{ item_id: string; qty: number; unique_item_id: string | null }>(`
      SELECT item_id, qty, unique_item_id FROM inventory
      UNION ALL SELECT item_id, 1, unique_item_id FROM equipment
      UNION ALL SELECT item_id, qty, unique_item_id FROM ground_items`);
    const units: ItemUnits = { totals: {}, uniques: [] };
    for (const row of rows) countUnits(units, row.item_id, row.qty, row.unique_item_id);
    units.uniques.sort();
    return units;
  });
}

/** Adds `qty` units of `itemId` to `units` (and the unique item id, if any). */
export function countUnits(units: ItemUnits, itemId: string, qty: number, uniqueItemId: string | null | undefined): void {
  units.totals[itemId] = (units.totals[itemId] ?? 0) + qty;
  if (uniqueItemId !== undefined && uniqueItemId !== null) units.uniques.push(uniqueItemId);
}

/** The unique item ids that `units` counts more than once. */
export function uniquesTwice(units: ItemUnits): string[] {
  const sorted = [...units.uniques].sort();
  return sorted.filter((id, index) => sorted[index - 1] === id && sorted[index - 2] !== id);
}
