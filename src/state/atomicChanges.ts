// Every all-or-nothing game change, by name, as one hot-store transaction (DESIGN.md §4).
// Each guards what it read: the item on the ground, the slots it writes, the player's version.
// Each also marks shared dirty sets, and pickup, drop, move and loot touch a location's keys:
// none would run on a Redis Cluster as they are (see docs/scaling.md).
import type { EquipSlot } from '../content/schema.ts';
import type { EquippedItem, GroundItem, InventoryEntry, UniqueItem } from '../domain/model.ts';
import { keys } from '../adapters/keys.ts';
import type { FieldExpectation, HotTransaction } from '../adapters/hot/transaction.ts';
import { encodeEntry, encodeEquipped, encodeGround, encodeUniqueItem } from './codec.ts';
import type { PlayerRead } from './playerRead.ts';

export interface Vitals {
  hp: number;
  stamina: number;
  vitalsAt: number;
}

type Writes = ReadonlyMap<number, InventoryEntry | null>;

function slotGuard(player: PlayerRead, slot: number): FieldExpectation {
  return { key: keys.inventory(player.character.id), field: String(slot), value: player.inventoryRaw.get(slot) ?? null };
}

function placeGuard(player: PlayerRead): FieldExpectation {
  return { key: keys.player(player.character.id), field: 'location_id', value: player.character.locationId };
}

/**
 * The whole player as read: an addition's weight was checked against everything carried, which
 * another change (a second session's, in the moment one replaces the other) could have added to
 * in slots this one does not write; and vitals are worked out from the hp, stamina and time read,
 * which a clock value alone would not guard (two changes in one millisecond stamp the same time).
 */
function versionGuard(player: PlayerRead): FieldExpectation {
  return { key: keys.player(player.character.id), field: 'version', value: player.fields.version ?? null };
}

function slotChanges(player: PlayerRead, writes: Writes): Pick<HotTransaction, 'hset' | 'hdel'> {
  const key = keys.inventory(player.character.id);
  const hset: { key: string; field: string; value: string }[] = [];
  const hdel: { key: string; field: string }[] = [];
  for (const [slot, entry] of writes) {
    if (entry) hset.push({ key, field: String(slot), value: encodeEntry(entry) });
    else hdel.push({ key, field: String(slot) });
  }
  return { hset, hdel };
}

function vitalsFields(player: PlayerRead, vitals: Vitals) {
  const key = keys.player(player.character.id);
  return [
    { key, field: 'hp', value: String(vitals.hp) },
    { key, field: 'stamina', value: String(vitals.stamina) },
    { key, field: 'vitals_at', value: String(vitals.vitalsAt) },
  ];
}

/** Every change to a player's state bumps their version (see Character.version). */
function bump(player: PlayerRead) {
  return [{ key: keys.player(player.character.id), field: 'version', by: 1 }];
}

function dirty(kind: 'position' | 'inventory' | 'equipment', player: PlayerRead) {
  return { key: keys.dirty(kind), member: String(player.character.id) };
}

function dirtyGround(locationId: string) {
  return { key: keys.dirty('ground'), member: locationId };
}

/** A location where items that will despawn now lie is listed for the despawn job. */
function despawning(locationId: string, items: readonly GroundItem[]) {
  return items.some((item) => item.despawnAt !== null) ? [{ key: keys.despawning(), member: locationId }] : [];
}

/**
 * Takes `expired` off a location's ground for good (their unique items with them), each guarded
 * by its value as read: one picked up (or changed) since stays with whoever has it, and other
 * changes of the ground do not get in the way. The location is unlisted (when nothing with a
 * despawn time is left) only while the ground is still at `version`, the one read before its
 * items: a drop since may have brought one.
 */
export function despawnGroundItems(
  locationId: string,
  version: string | null,
  expired: readonly { item: GroundItem; raw: string }[],
  stillListed: boolean,
): HotTransaction {
  const removes = expired.length > 0;
  return {
    expect: [
      ...expired.map(({ item, raw }) => ({ key: keys.ground(locationId), field: item.id, value: raw })),
      ...(stillListed ? [] : [{ key: keys.groundVersion(locationId), field: 'version', value: version }]),
    ],
    hdel: expired.map(({ item }) => ({ key: keys.ground(locationId), field: item.id })),
    hincrby: removes ? [bumpGround(locationId)] : [],
    sadd: removes ? [dirtyGround(locationId)] : [],
    srem: stillListed ? [] : [{ key: keys.despawning(), member: locationId }],
    del: expired.flatMap(({ item }) => (item.uniqueItemId === undefined ? [] : [keys.uniqueItem(item.uniqueItemId)])),
  };
}

/** Every change to a location's ground bumps its version, which the durable store compares. */
function bumpGround(locationId: string) {
  return { key: keys.groundVersion(locationId), field: 'version', by: 1 };
}

export function moveCharacter(player: PlayerRead, to: string, vitals: Vitals, moveReadyAt: number): HotTransaction {
  const { id, locationId } = player.character;
  return {
    expect: [placeGuard(player), versionGuard(player)],
    hset: [
      { key: keys.player(id), field: 'location_id', value: to },
      { key: keys.player(id), field: 'move_ready_at', value: String(moveReadyAt) },
      ...vitalsFields(player, vitals),
    ],
    srem: [{ key: keys.locationPlayers(locationId), member: String(id) }],
    hincrby: bump(player),
    sadd: [{ key: keys.locationPlayers(to), member: String(id) }, dirty('position', player)],
  };
}

/** Index 0 of `expect` is the ground item: a failure there means someone else took it. */
export function pickupGroundItem(player: PlayerRead, item: GroundItem, groundRaw: string, writes: Writes): HotTransaction {
  const { locationId } = player.character;
  const slots = slotChanges(player, writes);
  return {
    expect: [
      { key: keys.ground(locationId), field: item.id, value: groundRaw },
      placeGuard(player),
      versionGuard(player),
      ...[...writes.keys()].map((slot) => slotGuard(player, slot)),
    ],
    hdel: [{ key: keys.ground(locationId), field: item.id }, ...(slots.hdel ?? [])],
    hset: slots.hset ?? [],
    hincrby: [...bump(player), bumpGround(locationId)],
    sadd: [dirty('inventory', player), dirtyGround(locationId)],
  };
}

export function dropItem(player: PlayerRead, slot: number, remaining: InventoryEntry | null, dropped: GroundItem): HotTransaction {
  const { locationId } = player.character;
  const slots = slotChanges(player, new Map([[slot, remaining]]));
  return {
    // The version too: a drop planned by a session the character has since been taken from must fail (see ActionSession).
    expect: [slotGuard(player, slot), placeGuard(player), versionGuard(player)],
    hset: [...(slots.hset ?? []), { key: keys.ground(locationId), field: dropped.id, value: encodeGround(dropped) }],
    hdel: slots.hdel ?? [],
    hincrby: [...bump(player), bumpGround(locationId)],
    sadd: [dirty('inventory', player), dirtyGround(locationId), ...despawning(locationId, [dropped])],
  };
}

/**
 * Moves the item in `slot` to `equipSlot`; whatever was worn there takes its place in the
 * inventory. The vitals are written too: the maxima change with what is worn.
 */
export function equipItem(
  player: PlayerRead,
  slot: number,
  equipSlot: EquipSlot,
  worn: EquippedItem,
  previous: EquippedItem | null,
  vitals: Vitals,
): HotTransaction {
  const id = player.character.id;
  const back = previous ? { itemId: previous.itemId, qty: 1, uniqueItemId: previous.uniqueItemId } : null;
  const slots = slotChanges(player, new Map([[slot, back]]));
  return {
    expect: [
      slotGuard(player, slot),
      { key: keys.equipment(id), field: equipSlot, value: player.equipmentRaw.get(equipSlot) ?? null },
      versionGuard(player),
    ],
    hset: [...(slots.hset ?? []), { key: keys.equipment(id), field: equipSlot, value: encodeEquipped(worn) }, ...vitalsFields(player, vitals)],
    hdel: slots.hdel ?? [],
    hincrby: bump(player),
    sadd: [dirty('inventory', player), dirty('equipment', player), dirty('position', player)],
  };
}

export function unequipItem(player: PlayerRead, equipSlot: EquipSlot, slot: number, vitals: Vitals): HotTransaction {
  const id = player.character.id;
  const worn = player.equipment.get(equipSlot);
  if (!worn) throw new Error(`nothing worn in ${equipSlot}`);
  return {
    expect: [
      { key: keys.equipment(id), field: equipSlot, value: player.equipmentRaw.get(equipSlot) ?? null },
      slotGuard(player, slot),
      versionGuard(player),
    ],
    hset: [{ key: keys.inventory(id), field: String(slot), value: encodeEntry({ ...worn, qty: 1 }) }, ...vitalsFields(player, vitals)],
    hdel: [{ key: keys.equipment(id), field: equipSlot }],
    hincrby: bump(player),
    sadd: [dirty('inventory', player), dirty('equipment', player), dirty('position', player)],
  };
}

export function consumeItem(player: PlayerRead, slot: number, remaining: InventoryEntry | null, vitals: Vitals): HotTransaction {
  const slots = slotChanges(player, new Map([[slot, remaining]]));
  // A unique consumable used up takes its data with it; nothing else would ever delete it.
  const used = player.inventory.get(slot)?.uniqueItemId;
  return {
    expect: [slotGuard(player, slot), versionGuard(player)],
    hset: [...(slots.hset ?? []), ...vitalsFields(player, vitals)],
    hdel: slots.hdel ?? [],
    del: remaining === null && used !== undefined ? [keys.uniqueItem(used)] : [],
    hincrby: bump(player),
    sadd: [dirty('inventory', player), dirty('position', player)],
  };
}

/**
 * Searching an interactable: the cooldown starts, stamina is spent, loot goes to the inventory
 * and what does not fit falls to the ground.
 */
export function takeLoot(
  player: PlayerRead,
  cooldown: { field: string; raw: string | null; readyAt: number },
  vitals: Vitals,
  writes: Writes,
  spilled: readonly GroundItem[],
  created: readonly UniqueItem[],
): HotTransaction {
  const { id, locationId } = player.character;
  const slots = slotChanges(player, writes);
  return {
    expect: [
      { key: keys.cooldowns(id), field: cooldown.field, value: cooldown.raw },
      placeGuard(player),
      versionGuard(player),
      ...[...writes.keys()].map((slot) => slotGuard(player, slot)),
    ],
    hset: [
      { key: keys.cooldowns(id), field: cooldown.field, value: String(cooldown.readyAt) },
      ...vitalsFields(player, vitals),
      ...(slots.hset ?? []),
      ...spilled.map((item) => ({ key: keys.ground(locationId), field: item.id, value: encodeGround(item) })),
      ...created.flatMap((item) =>
        Object.entries(encodeUniqueItem(item)).map(([field, value]) => ({ key: keys.uniqueItem(item.id), field, value })),
      ),
    ],
    hdel: slots.hdel ?? [],
    hincrby: [...bump(player), ...(spilled.length > 0 ? [bumpGround(locationId)] : [])],
    sadd: [
      dirty('inventory', player),
      dirty('position', player),
      ...(spilled.length > 0 ? [dirtyGround(locationId)] : []),
      ...despawning(locationId, spilled),
    ],
  };
}
