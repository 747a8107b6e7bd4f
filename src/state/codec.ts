// How game values are written into hot-store hashes (DESIGN.md §4): snake_case JSON per field.
// Encoding is deterministic, so an encoded value read back can serve as a compare-and-set guard.
import type { Character, EquippedItem, GroundItem, InventoryEntry, UniqueItem } from '../domain/model.ts';

type Json = Record<string, unknown>;

function parse(raw: string): Json {
  return JSON.parse(raw) as Json;
}

export function encodeEntry(entry: InventoryEntry): string {
  return JSON.stringify(
    entry.uniqueItemId === undefined
      ? { item_id: entry.itemId, qty: entry.qty }
      : { item_id: entry.itemId, qty: entry.qty, unique_item_id: entry.uniqueItemId },
  );
}

export function decodeEntry(raw: string): InventoryEntry {
  const json = parse(raw);
  return {
    itemId: String(json.item_id),
    qty: Number(json.qty),
    uniqueItemId: typeof json.unique_item_id === 'string' ? json.unique_item_id : undefined,
  };
}

export function encodeEquipped(item: EquippedItem): string {
  return encodeEntry({ ...item, qty: 1 });
}

export function decodeEquipped(raw: string): EquippedItem {
  const { itemId, uniqueItemId } = decodeEntry(raw);
  return { itemId, uniqueItemId };
}

export function encodeGround(item: GroundItem): string {
  return JSON.stringify({
    item_id: item.itemId,
    qty: item.qty,
    ...(item.uniqueItemId === undefined ? {} : { unique_item_id: item.uniqueItemId }),
    dropped_by: item.droppedBy,
    despawn_at: item.despawnAt,
  });
}

export function decodeGround(id: string, raw: string): GroundItem {
  const json = parse(raw);
  return {
    id,
    itemId: String(json.item_id),
    qty: Number(json.qty),
    uniqueItemId: typeof json.unique_item_id === 'string' ? json.unique_item_id : undefined,
    droppedBy: typeof json.dropped_by === 'number' ? json.dropped_by : null,
    despawnAt: typeof json.despawn_at === 'number' ? json.despawn_at : null,
  };
}

export function encodeUniqueItem(item: UniqueItem): Record<string, string> {
  return {
    item_id: item.itemId,
    durability: String(item.durability),
    max_durability: String(item.maxDurability),
  };
}

export function decodeUniqueItem(id: string, hash: Record<string, string>): UniqueItem | null {
  if (hash.item_id === undefined) return null;
  return {
    id,
    itemId: hash.item_id,
    durability: Number(hash.durability),
    maxDurability: Number(hash.max_durability),
  };
}

/** The character's durable fields as hot-store hash fields. */
export function encodeCharacter(character: Character): Record<string, string> {
  return {
    account_id: String(character.accountId),
    name: character.name,
    location_id: character.locationId,
    hp: String(character.hp),
    max_hp: String(character.maxHp),
    stamina: String(character.stamina),
    max_stamina: String(character.maxStamina),
    level: String(character.level),
    xp: String(character.xp),
    vitals_at: String(character.vitalsAt),
    version: String(character.version),
  };
}

export function decodeCharacter(id: number, hash: Record<string, string>): Character | null {
  if (hash.name === undefined || hash.location_id === undefined) return null;
  return {
    id,
    accountId: Number(hash.account_id),
    name: hash.name,
    locationId: hash.location_id,
    hp: Number(hash.hp),
    maxHp: Number(hash.max_hp),
    stamina: Number(hash.stamina),
    maxStamina: Number(hash.max_stamina),
    level: Number(hash.level),
    xp: Number(hash.xp),
    vitalsAt: Number(hash.vitals_at),
    version: Number(hash.version ?? 0),
  };
}
