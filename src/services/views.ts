// What replies carry: everything a client needs to redraw, with names resolved from content so
// that a client never needs the catalogue or a second request.
import type { EquipSlot } from '../content/schema.ts';
import { carriedWeight } from '../domain/inventory.ts';
import type { GroundItem, UniqueItem } from '../domain/model.ts';
import type { BelongingsRead, SurroundingsRead } from '../state/GameStateManager.ts';
import type { PlayerRead } from '../state/playerRead.ts';
import type { GameContext } from './context.ts';
import { currentVitals } from './vitals.ts';

export interface ItemView {
  itemId: string;
  name: string;
  kind: string;
  qty: number;
  weight: number;
  equipSlot?: EquipSlot;
  uniqueItemId?: string;
  durability?: number;
  maxDurability?: number;
}

function itemView(ctx: GameContext, itemId: string, qty: number, uniqueItemId: string | undefined, uniques: Map<string, UniqueItem>): ItemView {
  const template = ctx.catalog.items.get(itemId);
  const unique = uniqueItemId === undefined ? undefined : uniques.get(uniqueItemId);
  return {
    itemId,
    name: template?.name ?? itemId,
    kind: template?.kind ?? 'junk',
    qty,
    weight: template?.weight ?? 0,
    ...(template?.equipSlot ? { equipSlot: template.equipSlot } : {}),
    ...(uniqueItemId === undefined ? {} : { uniqueItemId }),
    ...(unique ? { durability: unique.durability, maxDurability: unique.maxDurability } : {}),
  };
}

export function selfView(ctx: GameContext, player: PlayerRead, now: number) {
  const { character } = player;
  const { hp, stamina, stats } = currentVitals(ctx, player, now);
  return {
    id: character.id,
    name: character.name,
    locationId: character.locationId,
    hp: Math.floor(hp),
    maxHp: stats.maxHp,
    stamina: Math.floor(stamina),
    maxStamina: stats.maxStamina,
    attack: stats.attack,
    defense: stats.defense,
    level: character.level,
    xp: character.xp,
    carried: Math.round(carriedWeight(ctx.catalog, player.inventory, player.equipment) * 10) / 10,
    carryLimit: ctx.catalog.rules.carryWeight,
  };
}

/** Inventory and equipment, with the wear of unique items. */
export function belongingsView(ctx: GameContext, { player, uniques }: BelongingsRead) {
  return {
    inventory: {
      slots: ctx.catalog.rules.inventorySlots,
      items: [...player.inventory]
        .sort((a, b) => a[0] - b[0])
        .map(([slot, entry]) => ({ slot, ...itemView(ctx, entry.itemId, entry.qty, entry.uniqueItemId, uniques) })),
    },
    equipment: Object.fromEntries(
      [...player.equipment].map(([slot, worn]) => [slot, itemView(ctx, worn.itemId, 1, worn.uniqueItemId, uniques)]),
    ),
  };
}

export function groundView(ctx: GameContext, items: Iterable<GroundItem>) {
  return [...items]
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map((item) => ({
      id: item.id,
      itemId: item.itemId,
      name: ctx.catalog.items.get(item.itemId)?.name ?? item.itemId,
      qty: item.qty,
      ...(item.uniqueItemId === undefined ? {} : { uniqueItemId: item.uniqueItemId }),
    }));
}

export function cooldownField(locationId: string, interactableId: string): string {
  return `${locationId}/${interactableId}`;
}

export function locationView(ctx: GameContext, { player, players, ground, cooldowns }: SurroundingsRead, now: number) {
  const { locationId, id } = player.character;
  const location = ctx.catalog.locations.get(locationId);
  if (!location) throw new Error(`character ${id} is in unknown location ${locationId}`);
  return {
    id: location.id,
    name: location.name,
    description: location.description,
    x: location.x,
    y: location.y,
    danger: location.danger,
    safe: location.safe,
    exits: Object.entries(location.exits).map(([direction, to]) => ({
      direction,
      locationId: to,
      name: ctx.catalog.locations.get(to)?.name ?? to,
    })),
    players: players.filter((other) => other.id !== id),
    ground: groundView(ctx, [...ground.values()].map((read) => read.item)),
    interactables: location.interactables.map((thing) => ({
      id: thing.id,
      name: thing.name,
      description: thing.description,
      verb: thing.verb,
      readyInMs: Math.max(0, Number(cooldowns[cooldownField(location.id, thing.id)] ?? 0) - now),
    })),
    npcs: location.npcs.map((npcId) => ({ id: npcId, name: ctx.catalog.npcs.get(npcId)?.name ?? npcId })),
  };
}
