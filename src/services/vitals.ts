// A player's current hp and stamina: stored values plus regeneration since they were written.
import { effectiveStats, type EffectiveStats } from '../domain/stats.ts';
import type { Equipment } from '../domain/model.ts';
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

/**
 * The vitals to store when what the player wears changes: the current values, written now, and
 * capped by the maxima of `equipment`. Regeneration is counted up to now under the old maxima, so
 * an item that raises a maximum adds room to fill, not points saved up while the player was full.
 */
export function vitalsWearing(ctx: GameContext, player: PlayerRead, equipment: Equipment, now: number) {
  const before = currentVitals(ctx, player, now);
  const after = effectiveStats(ctx.catalog, player.character, equipment);
  return { hp: Math.min(before.hp, after.maxHp), stamina: Math.min(before.stamina, after.maxStamina), vitalsAt: now };
}

/**
 * How long until `stamina` regenerates to `needed`, in whole seconds rounded up, or null when it
 * never will (no regeneration in this world).
 */
export function secondsUntilStamina(ctx: GameContext, stamina: number, needed: number): number | null {
  const perMinute = ctx.catalog.rules.staminaRegenPerMinute;
  if (perMinute <= 0) return null;
  return Math.max(1, Math.ceil(((needed - stamina) / perMinute) * 60));
}

/** The E_NO_STAMINA message: what the player cannot do, and when they will be able to. */
export function exhausted(ctx: GameContext, stamina: number, needed: number, doing: string): string {
  const seconds = secondsUntilStamina(ctx, stamina, needed);
  return seconds === null ? `You are too exhausted to ${doing}.` : `You are too exhausted to ${doing}; rest ${seconds} s.`;
}
