// Loot rolls: weighted picks from a table, each roll independent.
import type { LootTable } from '../content/schema.ts';
import { randomInt, type Rng } from './rng.ts';

export interface LootDrop {
  itemId: string;
  qty: number;
}

export function rollLoot(table: LootTable, rng: Rng): LootDrop[] {
  const total = table.entries.reduce((sum, entry) => sum + entry.weight, 0);
  const drops = new Map<string, number>();
  for (let roll = 0; roll < table.rolls; roll++) {
    let pick = rng() * total;
    const entry = table.entries.find((candidate) => (pick -= candidate.weight) < 0) ?? table.entries.at(-1);
    if (!entry?.item) continue;
    const qty = randomInt(rng, entry.qty.min, entry.qty.max);
    if (qty > 0) drops.set(entry.item, (drops.get(entry.item) ?? 0) + qty);
  }
  return [...drops].map(([itemId, qty]) => ({ itemId, qty }));
}
