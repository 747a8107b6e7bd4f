// For the batch sync *alone*: makes every saved row the save writes differ from the hot state, so
// that it must rewrite every row rather than compare most slots with identical stored values and
// leave them be. Each row gets a marked text column that no play produces and that the save
// overwrites; afterwards the marks still there count the rows the save did not rewrite.
import type { SqlClient } from '../src/adapters/durable/SqlClient.ts';

/** The rows a save of every player writes, by table. */
export interface SavedRows {
  characters: number;
  inventory: number;
  equipment: number;
  unique_items: number;
}

const MARK = '~stale';
/** Each table with the column that carries the mark. */
const MARKED: Record<keyof SavedRows, string> = { characters: 'location_id', inventory: 'item_id', equipment: 'item_id', unique_items: 'item_id' };
const TABLES = Object.keys(MARKED) as (keyof SavedRows)[];

/** Marks every row of the tables a save writes; answers how many there are of each. */
export async function makeSavedRowsStale(client: SqlClient): Promise<SavedRows> {
  for (const table of TABLES) await client.query(`UPDATE ${table} SET ${MARKED[table]} = ${MARKED[table]} || '${MARK}'`);
  return countRows(client, '');
}

/** The rows a save left marked, by table: all 0 when it rewrote every row. */
export function staleRowsLeft(client: SqlClient): Promise<SavedRows> {
  return countRows(client, (table) => `WHERE ${MARKED[table]} LIKE '%${MARK}'`);
}

async function countRows(client: SqlClient, where: '' | ((table: keyof SavedRows) => string)): Promise<SavedRows> {
  const counts = {} as SavedRows;
  for (const table of TABLES) {
    const row = (await client.query(`SELECT count(*) AS n FROM ${table} ${where === '' ? '' : where(table)}`)).rows[0];
    counts[table] = Number(row?.n);
  }
  return counts;
}

export function totalRows(rows: SavedRows): number {
  return rows.characters + rows.inventory + rows.equipment + rows.unique_items;
}
