// Carrying things: showing the inventory, picking up from the ground, dropping onto it.
import { planAdd } from '../domain/inventory.ts';
import type { GroundItem } from '../domain/model.ts';
import { GameError } from '../errors.ts';
import type { ActionSession, GameContext } from './context.ts';
import { publicPlayer, refuse, requireBelongings, requirePlayer } from './players.ts';
import { withRetry } from './retry.ts';
import { despawnTime } from './despawn.ts';
import { belongingsView, groundView, selfView } from './views.ts';

export async function showInventory(ctx: GameContext, characterId: number) {
  const belongings = await requireBelongings(ctx, characterId);
  return { self: selfView(ctx, belongings.player, ctx.now()), ...belongingsView(ctx, belongings) };
}

export function pickup(ctx: GameContext, characterId: number, groundItemId: string, session?: ActionSession) {
  return withRetry(async () => {
    const player = await requirePlayer(ctx, characterId, session);
    const { locationId } = player.character;
    const ground = await ctx.gsm.groundAt(locationId);
    const target = ground.get(groundItemId);
    if (!target) {
      // Not there, or not back yet: a Redis that restarted empty has its ground loaded again. A
      // load that finished since the read above may have brought it: then the pickup starts over.
      await ctx.gsm.requireGroundLoaded();
      if ((await ctx.gsm.groundAt(locationId)).has(groundItemId)) throw new GameError('E_CONFLICT');
      throw new GameError('E_ITEM_GONE');
    }
    const { itemId, qty, uniqueItemId } = target.item;
    const plan = planAdd(ctx.catalog, player.inventory, player.equipment, { itemId, qty, uniqueItemId });
    if (!plan.ok) throw new GameError(plan.reason === 'full' ? 'E_INVENTORY_FULL' : 'E_TOO_HEAVY');

    const result = await ctx.gsm.pickupGroundItem(player, target, plan.writes);
    if (!result.ok) refuse(result.failed, new GameError('E_ITEM_GONE', 'Someone else got there first.'));

    const [item] = groundView(ctx, [target.item]);
    ctx.events.toLocation(locationId, 'item_picked_up', { player: publicPlayer(player), item }, characterId);
    // Where it went, so that a client need not compare inventories to show it: in the order it
    // went in (the stacks it topped up, then free slots), as planAdd planned it.
    const slots = [...plan.writes.keys()];
    // Read again, as drop does: others may have dropped or taken something since the read above.
    const after = await ctx.gsm.groundAt(locationId);
    return { ...(await inventoryReply(ctx, characterId, [...after.values()].map((read) => read.item))), picked: { ...item, slots } };
  });
}

export function drop(ctx: GameContext, characterId: number, slot: number, qty?: number, session?: ActionSession) {
  return withRetry(async () => {
    const player = await requirePlayer(ctx, characterId, session);
    const entry = player.inventory.get(slot);
    if (!entry) throw new GameError('E_SLOT_EMPTY');
    const count = qty ?? entry.qty;
    if (count > entry.qty) throw new GameError('E_NOT_ENOUGH', `You only have ${entry.qty}.`);
    const remaining = count === entry.qty ? null : { ...entry, qty: entry.qty - count };
    const dropped: GroundItem = {
      id: ctx.newId(),
      itemId: entry.itemId,
      qty: count,
      uniqueItemId: entry.uniqueItemId,
      droppedBy: characterId,
      despawnAt: despawnTime(ctx, ctx.now()),
    };
    const { locationId } = player.character;
    const result = await ctx.gsm.dropItem(player, slot, remaining, dropped);
    if (!result.ok) throw new GameError('E_CONFLICT');

    const [item] = groundView(ctx, [dropped]);
    ctx.events.toLocation(locationId, 'item_dropped', { player: publicPlayer(player), item }, characterId);
    const ground = await ctx.gsm.groundAt(locationId);
    return { ...(await inventoryReply(ctx, characterId, [...ground.values()].map((read) => read.item))), dropped: item };
  });
}

async function inventoryReply(ctx: GameContext, characterId: number, ground: GroundItem[]) {
  const after = await requireBelongings(ctx, characterId);
  return { self: selfView(ctx, after.player, ctx.now()), ...belongingsView(ctx, after), ground: groundView(ctx, ground) };
}
