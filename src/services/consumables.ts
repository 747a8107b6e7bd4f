// Using a consumable: one unit is spent, its effects apply up to the player's maxima.
import { GameError } from '../errors.ts';
import type { ActionSession, GameContext } from './context.ts';
import { requireBelongings, requirePlayer } from './players.ts';
import { withRetry } from './retry.ts';
import { belongingsView, selfView } from './views.ts';
import { currentVitals } from './vitals.ts';

export function use(ctx: GameContext, characterId: number, slot: number, session?: ActionSession) {
  return withRetry(async () => {
    const player = await requirePlayer(ctx, characterId, session);
    const entry = player.inventory.get(slot);
    if (!entry) throw new GameError('E_SLOT_EMPTY');
    const template = ctx.catalog.items.get(entry.itemId);
    const effects = template?.effects;
    if (!template || !effects) throw new GameError('E_NOT_USABLE', `${template?.name ?? entry.itemId} cannot be used.`);
    const now = ctx.now();
    const before = currentVitals(ctx, player, now);
    const helps = ((effects.heal ?? 0) > 0 && before.hp < before.stats.maxHp) || ((effects.restoreStamina ?? 0) > 0 && before.stamina < before.stats.maxStamina);
    if (!helps) throw new GameError('E_NOT_USABLE', `You are already at full strength; keep the ${template.name} for later.`);
    const hp = Math.min(before.stats.maxHp, before.hp + (effects.heal ?? 0));
    const stamina = Math.min(before.stats.maxStamina, before.stamina + (effects.restoreStamina ?? 0));
    const remaining = entry.qty > 1 ? { ...entry, qty: entry.qty - 1 } : null;
    const result = await ctx.gsm.consumeItem(player, slot, remaining, { hp, stamina, vitalsAt: now });
    if (!result.ok) throw new GameError('E_CONFLICT');

    const after = await requireBelongings(ctx, characterId);
    return {
      self: selfView(ctx, after.player, now),
      ...belongingsView(ctx, after),
      used: { itemId: template.id, name: template.name },
      healed: Math.floor(hp) - Math.floor(before.hp),
      restored: Math.floor(stamina) - Math.floor(before.stamina),
    };
  });
}
