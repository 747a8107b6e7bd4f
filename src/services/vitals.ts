// A player's current hp and stamina: stored values plus regeneration since they were written.
import { effectiveStats, type EffectiveStats } from '../domain/stats.ts';
import { regenerated } from '../domain/vitals.ts';
import type { PlayerRead } from '../state/playerRead.ts';
import type { GameContext } from './context.ts';

export interface CurrentVitals {
  hp: number;
  stamina: number;
  stats: EffectiveStats;
}

export function currentVitals(ctx: GameContext, player: PlayerRead, now: number): CurrentVitals {
  const { character } = player;
  const { rules } = ctx.catalog;
  const stats = effectiveStats(ctx.catalog, character, player.equipment);
  const elapsed = now - character.vitalsAt;
  return {
    hp: regenerated(character.hp, stats.maxHp, elapsed, rules.hpRegenPerMinute),
    stamina: regenerated(character.stamina, stats.maxStamina, elapsed, rules.staminaRegenPerMinute),
    stats,
  };
}
