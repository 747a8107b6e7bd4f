// Searching things in a location: a loot roll per search, a cooldown per player and thing.
// Loot that does not fit in the inventory falls to the ground rather than vanishing: of a stack,
// only the part that does not fit.
import { planAdd, unitsThatFit } from '../domain/inventory.ts';
import { rollLoot } from '../domain/loot.ts';
import type { GroundItem, InventoryEntry, UniqueItem } from '../domain/model.ts';
import { GameError } from '../errors.ts';
import type { ActionSession, GameContext } from './context.ts';
import { publicPlayer, requireBelongings, requirePlayer } from './players.ts';
import { withRetry } from './retry.ts';
import { belongingsView, cooldownField, groundView, selfView } from './views.ts';
import { currentVitals, exhausted } from './vitals.ts';
import { despawnTime } from './despawn.ts';

export function interact(ctx: GameContext, characterId: number, interactableId: string, session?: ActionSession) {
  return withRetry(async () => {
    const player = await requirePlayer(ctx, characterId, session);
    const location = ctx.catalog.locations.get(player.character.locationId);
    const thing = location?.interactables.find((candidate) => candidate.id === interactableId);
    const table = thing && ctx.catalog.lootTables.get(thing.lootTable);
    if (!location || !thing || !table) throw new GameError('E_NO_SUCH_THING', `There is no "${interactableId}" here.`);
    const now = ctx.now();
    const field = cooldownField(location.id, thing.id);
    const raw = await ctx.gsm.cooldown(characterId, field);
    if (raw !== null && Number(raw) > now) {
      throw new GameError('E_COOLDOWN', `You searched the ${thing.name} recently; try again in ${Math.ceil((Number(raw) - now) / 1000)} s.`);
    }
    const vitals = currentVitals(ctx, player, now);
    if (vitals.stamina < thing.staminaCost) throw new GameError('E_NO_STAMINA', exhausted(ctx, vitals.stamina, thing.staminaCost, `search the ${thing.name}`));

    const { found, created } = instantiate(ctx, rollLoot(table, ctx.rng));
    const inventory = new Map(player.inventory);
    const writes = new Map<number, InventoryEntry | null>();
    const spilled: GroundItem[] = [];
    for (const entry of found) {
      // As much as fits goes in (a stack topped up, a free slot filled); the rest falls.
      const fits = unitsThatFit(ctx.catalog, inventory, player.equipment, entry);
      const plan = fits > 0 ? planAdd(ctx.catalog, inventory, player.equipment, { ...entry, qty: fits }) : null;
      const placed = plan?.ok ? fits : 0;
      for (const [slot, written] of plan?.ok ? plan.writes : []) {
        inventory.set(slot, written);
        writes.set(slot, written);
      }
      if (placed < entry.qty) spilled.push({ id: ctx.newId(), ...entry, qty: entry.qty - placed, droppedBy: null, despawnAt: despawnTime(ctx, now) });
    }
    const readyAt = now + thing.cooldownSeconds * 1000;
    const take = (falling: GroundItem[]) =>
      ctx.gsm.takeLoot(
        player,
        { field, raw, readyAt },
        { hp: vitals.hp, stamina: vitals.stamina - thing.staminaCost, vitalsAt: now },
        writes,
        falling,
        // A unique item left behind is never made.
        created.filter((item) => !leftBehind.some((left) => left.uniqueItemId === item.id)),
      );
    // No room on the ground for what does not fit: the search still happens (its cost, its
    // cooldown), and the rest stays where it was found. Refusing it instead would let a player
    // search again and again, for free, until a roll fits.
    let leftBehind: GroundItem[] = [];
    let result = await take(spilled).catch((error: unknown) => {
      if (!(error instanceof GameError && error.code === 'E_GROUND_FULL')) throw error;
      return null;
    });
    if (result === null) {
      leftBehind = spilled.splice(0);
      result = await take(spilled);
    }
    if (!result.ok) {
      if (result.failed === 0) throw new GameError('E_COOLDOWN');
      throw new GameError('E_CONFLICT');
    }

    const who = publicPlayer(player);
    ctx.events.toLocation(location.id, 'player_searched', { player: who, interactable: { id: thing.id, name: thing.name } }, characterId);
    for (const item of groundView(ctx, spilled)) ctx.events.toLocation(location.id, 'item_dropped', { player: who, item }, characterId);
    const after = await requireBelongings(ctx, characterId);
    return {
      self: selfView(ctx, after.player, now),
      ...belongingsView(ctx, after),
      found: found.map((entry) => ({ itemId: entry.itemId, name: ctx.catalog.items.get(entry.itemId)?.name ?? entry.itemId, qty: entry.qty })),
      spilled: groundView(ctx, spilled),
      ...(leftBehind.length > 0 ? { leftBehind: leftBehind.map(({ itemId, qty }) => ({ itemId, name: ctx.catalog.items.get(itemId)?.name ?? itemId, qty })) } : {}),
      readyInMs: readyAt - now,
    };
  });
}

/** Gives each unit of a unique item (one with durability) its own instance and id. */
function instantiate(ctx: GameContext, drops: { itemId: string; qty: number }[]) {
  const found: InventoryEntry[] = [];
  const created: UniqueItem[] = [];
  for (const drop of drops) {
    const durability = ctx.catalog.items.get(drop.itemId)?.durability;
    if (durability === undefined) {
      found.push(drop);
      continue;
    }
    for (let unit = 0; unit < drop.qty; unit++) {
      const id = ctx.newId();
      created.push({ id, itemId: drop.itemId, durability, maxDurability: durability });
      found.push({ itemId: drop.itemId, qty: 1, uniqueItemId: id });
    }
  }
  return { found, created };
}
