// Regeneration over time and the numbers equipment adds to a character.
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../src/content/catalog.ts';
import { loadContent } from '../../src/content/loader.ts';
import type { EquipSlot } from '../../src/content/schema.ts';
import type { Character, EquippedItem } from '../../src/domain/model.ts';
import { effectiveStats } from '../../src/domain/stats.ts';
import { regenerated } from '../../src/domain/vitals.ts';

const CONTENT_DIR = fileURLToPath(new URL('../../content/ashlands', import.meta.url));
const MINUTE = 60_000;

let catalog: Catalog;

beforeAll(async () => {
  catalog = await loadContent(CONTENT_DIR);
});

describe('regenerated', () => {
  it('adds perMinute for each minute elapsed', () => {
    expect(regenerated(50, 100, MINUTE, 6)).toBe(56);
    expect(regenerated(50, 100, 5 * MINUTE, 6)).toBe(80);
    expect(regenerated(10, 100, 30_000, 30)).toBe(25);
  });

  it('stops at the maximum', () => {
    expect(regenerated(98, 100, MINUTE, 6)).toBe(100);
    expect(regenerated(0, 100, 24 * 60 * MINUTE, 6)).toBe(100);
    expect(regenerated(100, 100, MINUTE, 6)).toBe(100);
  });

  it('brings a value above a lowered maximum (gear taken off) down to it', () => {
    expect(regenerated(105, 100, 0, 6)).toBe(100);
  });

  it('changes nothing when no time has passed or the clock went backwards', () => {
    expect(regenerated(42.5, 100, 0, 6)).toBe(42.5);
    expect(regenerated(42.5, 100, -5_000, 6)).toBe(42.5);
    expect(regenerated(42.5, 100, MINUTE, 0)).toBe(42.5);
  });

  it('keeps fractions, so a short interval between actions still counts', () => {
    // 100 ms at 6 per minute is a hundredth of a point: not rounded away.
    expect(regenerated(50, 100, 100, 6)).toBeCloseTo(50.01, 12);
  });

  it('reaches the same value through many small intervals as through one long one', () => {
    let stepwise = 20;
    for (let step = 0; step < 600; step++) stepwise = regenerated(stepwise, 100, 100, 6);
    expect(stepwise).toBeCloseTo(regenerated(20, 100, 60_000, 6), 9);
    expect(stepwise).toBeCloseTo(26, 9);
  });

  it('agrees with one long interval for any split of the time, cap included (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100 }),
        fc.array(fc.integer({ min: 0, max: 20_000 }), { maxLength: 200 }),
        fc.integer({ min: 0, max: 60 }),
        (start, intervals, perMinute) => {
          let stepwise = start;
          for (const ms of intervals) stepwise = regenerated(stepwise, 100, ms, perMinute);
          const total = intervals.reduce((sum, ms) => sum + ms, 0);
          const once = regenerated(start, 100, total, perMinute);
          expect(Math.abs(stepwise - once)).toBeLessThan(1e-6);
          expect(stepwise).toBeLessThanOrEqual(100);
        },
      ),
      { seed: 7, numRuns: 300 },
    );
  });
});

describe('effectiveStats', () => {
  const character: Character = {
    id: 1, accountId: 1, name: 'Wren', locationId: 'emberwell-square',
    hp: 60, maxHp: 100, stamina: 40, maxStamina: 100, level: 1, xp: 0, vitalsAt: 0, version: 0,
  };

  const wearing = (...items: [EquipSlot, string][]) =>
    new Map<EquipSlot, EquippedItem>(items.map(([slot, itemId]) => [slot, { itemId }]));

  it('gives a bare-handed character attack 1, defence 0 and their own maxima', () => {
    expect(effectiveStats(catalog, character, new Map())).toEqual({ attack: 1, defense: 0, maxHp: 100, maxStamina: 100 });
  });

  it('adds the bonuses of every worn item', () => {
    const stats = effectiveStats(
      catalog,
      character,
      wearing(['mainHand', 'rusty-pipe'], ['body', 'leather-jacket'], ['head', 'gas-mask'], ['neck', 'dog-tags']),
    );
    // pipe +3 attack; jacket +3 and mask +1 defence; mask +10 stamina; tags +5 hp.
    expect(stats).toEqual({ attack: 4, defense: 4, maxHp: 105, maxStamina: 110 });
  });

  it('does not change the character it is given', () => {
    const before = structuredClone(character);
    effectiveStats(catalog, character, wearing(['neck', 'dog-tags']));
    expect(character).toEqual(before);
  });

  it('ignores a worn item that is no longer in the catalogue instead of failing', () => {
    const stats = effectiveStats(catalog, character, wearing(['mainHand', 'rusty-pipe'], ['ring', 'ring-of-removed-content']));
    expect(stats).toEqual({ attack: 4, defense: 0, maxHp: 100, maxStamina: 100 });
  });

  it('lets hp regenerate up to the maximum raised by equipment', () => {
    const { maxHp } = effectiveStats(catalog, character, wearing(['neck', 'dog-tags']));
    expect(regenerated(99, maxHp, 10 * MINUTE, catalog.rules.hpRegenPerMinute)).toBe(105);
    expect(regenerated(99, character.maxHp, 10 * MINUTE, catalog.rules.hpRegenPerMinute)).toBe(100);
  });
});
