// Reading result rows into domain values. Rows arrive untyped from the driver, and drivers
// differ (PGlite decodes bigint as number, pg as string), so every field is checked as read.
import type { AccountRecord } from './DurableStore.ts';
import type { Character, EquippedItem, GroundItem, InventoryEntry, UniqueItem } from '../../domain/model.ts';
import { EQUIP_SLOTS, type EquipSlot } from '../../content/schema.ts';
import type { Row } from './SqlClient.ts';

function field(row: Row, name: string): unknown {
  if (!(name in row)) throw new TypeError(`result row has no column ${name}`);
  return row[name];
}

function num(row: Row, name: string): number {
  const value = field(row, name);
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint' || typeof value === 'string') {
    const n = Number(value);
    if (Number.isFinite(n)) return n;
  }
  throw new TypeError(`column ${name}: expected a number, got ${typeof value}`);
}

function numOrNull(row: Row, name: string): number | null {
  return field(row, name) === null ? null : num(row, name);
}

function text(row: Row, name: string): string {
  const value = field(row, name);
  if (typeof value !== 'string') throw new TypeError(`column ${name}: expected text, got ${typeof value}`);
  return value;
}

function textOrNull(row: Row, name: string): string | null {
  return field(row, name) === null ? null : text(row, name);
}

function bool(row: Row, name: string): boolean {
  const value = field(row, name);
  if (typeof value !== 'boolean') throw new TypeError(`column ${name}: expected a boolean, got ${typeof value}`);
  return value;
}

export function toId(row: Row): number {
  return num(row, 'id');
}

export function toTokenGeneration(row: Row): number {
  return num(row, 'token_generation');
}

export function toAccount(row: Row): AccountRecord {
  return {
    id: num(row, 'id'),
    username: text(row, 'username'),
    passwordHash: text(row, 'password_hash'),
    characterId: num(row, 'character_id'),
    banned: bool(row, 'banned'),
    tokenGeneration: toTokenGeneration(row),
  };
}

export function toCharacter(row: Row): Character {
  return {
    id: num(row, 'id'),
    accountId: num(row, 'account_id'),
    name: text(row, 'name'),
    locationId: text(row, 'location_id'),
    hp: num(row, 'hp'),
    maxHp: num(row, 'max_hp'),
    stamina: num(row, 'stamina'),
    maxStamina: num(row, 'max_stamina'),
    level: num(row, 'level'),
    xp: num(row, 'xp'),
    vitalsAt: num(row, 'vitals_at'),
    version: num(row, 'version'),
  };
}

/** The unique item LEFT JOINed onto a row (u_item_id, durability, max_durability), if it holds one. */
export function toUniqueItem(row: Row): UniqueItem | undefined {
  const id = textOrNull(row, 'unique_item_id');
  if (id === null) return undefined;
  return {
    id,
    itemId: text(row, 'u_item_id'),
    durability: num(row, 'durability'),
    maxDurability: num(row, 'max_durability'),
  };
}

// uniqueItemId is left out, not set to null or undefined, when the row holds no unique item.
function withUniqueItem<T extends { uniqueItemId?: string | undefined }>(row: Row, value: T): T {
  const id = textOrNull(row, 'unique_item_id');
  if (id !== null) value.uniqueItemId = id;
  return value;
}

export function toInventorySlot(row: Row): [slot: number, entry: InventoryEntry] {
  return [num(row, 'slot'), withUniqueItem<InventoryEntry>(row, { itemId: text(row, 'item_id'), qty: num(row, 'qty') })];
}

export function toEquipped(row: Row): [slot: EquipSlot, item: EquippedItem] {
  const name = text(row, 'slot');
  const slot = EQUIP_SLOTS.find((s) => s === name);
  if (slot === undefined) throw new TypeError(`unknown equipment slot in the database: ${name}`);
  return [slot, withUniqueItem<EquippedItem>(row, { itemId: text(row, 'item_id') })];
}

export function toGroundItem(row: Row): GroundItem & { locationId: string } {
  return withUniqueItem<GroundItem & { locationId: string }>(row, {
    id: text(row, 'id'),
    locationId: text(row, 'location_id'),
    itemId: text(row, 'item_id'),
    qty: num(row, 'qty'),
    droppedBy: numOrNull(row, 'dropped_by'),
    despawnAt: numOrNull(row, 'despawn_at'),
  });
}
