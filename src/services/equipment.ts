// Wearing and wielding: an item moves between an inventory slot and its equipment slot.
import type { EquipSlot } from '../content/schema.ts';
import { firstFreeSlot } from '../domain/inventory.ts';
import { GameError } from '../errors.ts';
import type { ActionSession, GameContext } from './context.ts';
import { requireBelongings, requirePlayer } from './players.ts';
import { withRetry } from './retry.ts';
import { belongingsView, selfView } from './views.ts';
import { vitalsWearing } from './vitals.ts';

export function equip(ctx: GameContext, characterId: number, slot: number, session?: ActionSession) {
  return withRetry(async () => {
    const player = await requirePlayer(ctx, characterId, session);
    const entry = player.inventory.get(slot);
    if (!entry) throw new GameError('E_SLOT_EMPTY');
    const template = ctx.catalog.items.get(entry.itemId);
    const equipSlot = template?.equipSlot;
    if (!template || !equipSlot) throw new GameError('E_NOT_EQUIPPABLE', `${template?.name ?? entry.itemId} cannot be equipped.`);
    // A stack of an item that became equippable (a content change): wearing one must not take the rest.
    if (entry.qty > 1) throw new GameError('E_NOT_EQUIPPABLE', `Only one ${template.name} can be worn; drop the others first.`);
    const previous = player.equipment.get(equipSlot) ?? null;
    const worn = { itemId: entry.itemId, uniqueItemId: entry.uniqueItemId };
    const vitals = vitalsWearing(ctx, player, new Map(player.equipment).set(equipSlot, worn), ctx.now());
    const result = await ctx.gsm.equipItem(player, slot, equipSlot, worn, previous, vitals);
    if (!result.ok) throw new GameError('E_CONFLICT');
    return belongingsReply(ctx, characterId);
  });
}

export function unequip(ctx: GameContext, characterId: number, equipSlot: EquipSlot, session?: ActionSession) {
  return withRetry(async () => {
    const player = await requirePlayer(ctx, characterId, session);
    if (!player.equipment.has(equipSlot)) throw new GameError('E_NOTHING_EQUIPPED');
    const free = firstFreeSlot(player.inventory, ctx.catalog.rules.inventorySlots);
    if (free === null) throw new GameError('E_INVENTORY_FULL', 'Your inventory is full; make room first.');
    const without = new Map(player.equipment);
    without.delete(equipSlot);
    const result = await ctx.gsm.unequipItem(player, equipSlot, free, vitalsWearing(ctx, player, without, ctx.now()));
    if (!result.ok) throw new GameError('E_CONFLICT');
    return belongingsReply(ctx, characterId);
  });
}

async function belongingsReply(ctx: GameContext, characterId: number) {
  const after = await requireBelongings(ctx, characterId);
  return { self: selfView(ctx, after.player, ctx.now()), ...belongingsView(ctx, after) };
}
