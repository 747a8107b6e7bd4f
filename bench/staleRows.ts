// For the batch sync *alone*: makes every saved inventory and equipment row differ from the hot
// state, so that the save after it rewrites every row instead of comparing most of them with
// identical stored values and leaving them be (characters and unique items are rewritten anyway).
// The save's rows/s then counts rows PostgreSQL actually wrote; afterwards no row may be stale.
import type { SqlClient } from '../src/adapters/durable/SqlClient.ts';

/** The rows a save of every player writes, by table. */
export interface SavedRows {
  characters: number;
  inventory: number;
  equipment: number;
  unique_items: number;
}

const STALE_MARK = '~stale';

export async function makeSavedRowsStale(client: SqlClient): Promise<SavedRows> {
  // A quantity one higher, an item id with a mark: values no play produces, both undone by a save.
  await client.query('UPDATE inventory SET qty = qty + 1');
  await client.query(`UPDATE equipment SET item_id = item_id || '${STALE_MARK}'`);
  const row = (await client.query(`
    SELECT (SELECT count(*) FROM characters) AS characters, (SELECT count(*) FROM inventory) AS inventory,
           (SELECT count(*) FROM equipment) AS equipment, (SELECT count(*) FROM unique_items) AS unique_items`)).rows[0];
  return {
    characters: Number(row?.characters),
    inventory: Number(row?.inventory),
    equipment: Number(row?.equipment),
    unique_items: Number(row?.unique_items),
  };
}

/** Equipment rows a save left stale (0 when it rewrote them all). */
export async function staleRowsLeft(client: SqlClient): Promise<number> {
  const row = (await client.query(`SELECT count(*) AS left FROM equipment WHERE item_id LIKE '%${STALE_MARK}'`)).rows[0];
  return Number(row?.left);
}
