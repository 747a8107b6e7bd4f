// Loot rolls: reproducible from a seed, quantities within their ranges, weights honoured.
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../src/content/catalog.ts';
import { loadContent } from '../../src/content/loader.ts';
import type { LootTable } from '../../src/content/schema.ts';
import { rollLoot } from '../../src/domain/loot.ts';
import { seededRng } from '../../src/domain/rng.ts';

const CONTENT_DIR = fileURLToPath(new URL('../../content/ashlands', import.meta.url));

let catalog: Catalog;

beforeAll(async () => {
  catalog = await loadContent(CONTENT_DIR);
});

function realTable(id: string): LootTable {
  const table = catalog.lootTables.get(id);
  if (!table) throw new Error(`the Ashlands have no loot table ${id}`);
  return table;
}

function table(rolls: number, entries: [item: string | null, weight: number, min?: number, max?: number][]): LootTable {
  return {
    id: 'test-table',
    rolls,
    entries: entries.map(([item, weight, min = 1, max = min]) => ({ item, weight, qty: { min, max } })),
  };
}

describe('rollLoot', () => {
  it('gives the same drops for the same seed, roll after roll', () => {
    const pile = realTable('tribute-pile');
    const first = seededRng(42);
    const second = seededRng(42);
    const a = Array.from({ length: 200 }, () => rollLoot(pile, first));
    const b = Array.from({ length: 200 }, () => rollLoot(pile, second));
    expect(a).toEqual(b);
    // And the seed matters: another one gives another sequence.
    const other = seededRng(43);
    expect(Array.from({ length: 200 }, () => rollLoot(pile, other))).not.toEqual(a);
  });

  it('keeps every quantity within its entry range and reaches both ends of it', () => {
    const pharmacy = realTable('pharmacy');
    const ranges = new Map(pharmacy.entries.flatMap((e) => (e.item === null ? [] : [[e.item, e.qty] as const])));
    const seen = new Map<string, Set<number>>();
    const rng = seededRng(7);
    for (let i = 0; i < 5_000; i++) {
      const drops = rollLoot(pharmacy, rng);
      // One roll: at most one drop, of an item the table lists.
      expect(drops.length).toBeLessThanOrEqual(1);
      for (const { itemId, qty } of drops) {
        const range = ranges.get(itemId);
        expect(range).toBeDefined();
        expect(qty).toBeGreaterThanOrEqual(range?.min ?? Infinity);
        expect(qty).toBeLessThanOrEqual(range?.max ?? -Infinity);
        const values = seen.get(itemId) ?? new Set<number>();
        values.add(qty);
        seen.set(itemId, values);
      }
    }
    for (const [itemId, range] of ranges) {
      const values = seen.get(itemId);
      expect(values?.has(range.min), `${itemId} min ${range.min}`).toBe(true);
      expect(values?.has(range.max), `${itemId} max ${range.max}`).toBe(true);
    }
  });

  it('yields nothing from a table whose only entry is empty-handed', () => {
    const empty = table(3, [[null, 10, 1, 5]]);
    const rng = seededRng(1);
    for (let i = 0; i < 1_000; i++) expect(rollLoot(empty, rng)).toEqual([]);
  });

  it('adds up several rolls of the same item into one drop', () => {
    const scrapOnly = table(3, [['scrap-metal', 1, 2]]);
    expect(rollLoot(scrapOnly, seededRng(5))).toEqual([{ itemId: 'scrap-metal', qty: 6 }]);
  });

  it('rolls a multi-roll table as many times as it says', () => {
    const twoItems = table(4, [['bandage', 1], ['rusty-pipe', 1]]);
    const rng = seededRng(11);
    for (let i = 0; i < 500; i++) {
      const drops = rollLoot(twoItems, rng);
      expect(drops.reduce((sum, drop) => sum + drop.qty, 0)).toBe(4);
    }
  });

  it('picks the first entry for the lowest roll and the last for the highest', () => {
    const three = table(1, [['bandage', 5], ['canned-beans', 5], ['rusty-pipe', 5]]);
    expect(rollLoot(three, () => 0)).toEqual([{ itemId: 'bandage', qty: 1 }]);
    expect(rollLoot(three, () => 0.999_999_999)).toEqual([{ itemId: 'rusty-pipe', qty: 1 }]);
    expect(rollLoot(three, () => 0.5)).toEqual([{ itemId: 'canned-beans', qty: 1 }]);
    // Each entry owns a half-open share [start, end): a roll landing exactly on 5 of 15 is the second one's.
    expect((1 / 3) * 15).toBe(5);
    expect(rollLoot(three, () => 1 / 3)).toEqual([{ itemId: 'canned-beans', qty: 1 }]);
  });

  it('drops each entry about as often as its weight says over 10,000 seeded rolls', () => {
    const weighted = table(1, [['bandage', 50], ['canned-beans', 30], ['rusty-pipe', 15], ['leather-jacket', 5], [null, 100]]);
    const total = 200;
    const counts = new Map<string | null, number>();
    const rng = seededRng(20261121);
    const rolls = 10_000;
    for (let i = 0; i < rolls; i++) {
      const [drop] = rollLoot(weighted, rng);
      const key = drop?.itemId ?? null;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    for (const { item, weight } of weighted.entries) {
      expect(Math.abs((counts.get(item) ?? 0) / rolls - weight / total), `frequency of ${String(item)}`).toBeLessThan(0.015);
    }
  });

  it('matches the weights of a real table, empty rolls included', () => {
    const drops = realTable('ash-rat-drops');
    const total = drops.entries.reduce((sum, e) => sum + e.weight, 0);
    const counts = new Map<string | null, number>();
    const rng = seededRng(99);
    const rolls = 10_000;
    for (let i = 0; i < rolls; i++) {
      const [drop] = rollLoot(drops, rng);
      const key = drop?.itemId ?? null;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    for (const { item, weight } of drops.entries) {
      expect(Math.abs((counts.get(item) ?? 0) / rolls - weight / total), `frequency of ${String(item)}`).toBeLessThan(0.015);
    }
  });
});
