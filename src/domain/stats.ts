// A character's effective numbers: base values plus what their equipment adds.
import type { Catalog } from '../content/catalog.ts';
import type { Character, Equipment } from './model.ts';

export interface EffectiveStats {
  attack: number;
  defense: number;
  maxHp: number;
  maxStamina: number;
}

export function effectiveStats(catalog: Catalog, character: Character, equipment: Equipment): EffectiveStats {
  const stats: EffectiveStats = { attack: 1, defense: 0, maxHp: character.maxHp, maxStamina: character.maxStamina };
  for (const worn of equipment.values()) {
    const bonus = catalog.items.get(worn.itemId)?.stats;
    if (!bonus) continue;
    stats.attack += bonus.attack ?? 0;
    stats.defense += bonus.defense ?? 0;
    stats.maxHp += bonus.maxHp ?? 0;
    stats.maxStamina += bonus.maxStamina ?? 0;
  }
  return stats;
}
