// Value types of the game state, shared by every layer. Plain data, no behaviour.
import type { EquipSlot } from '../content/schema.ts';

export interface InventoryEntry {
  itemId: string;
  qty: number;
  uniqueItemId?: string | undefined;
}

/** Inventory slot index → entry; empty slots are absent. */
export type Inventory = ReadonlyMap<number, InventoryEntry>;

export interface EquippedItem {
  itemId: string;
  uniqueItemId?: string | undefined;
}

export type Equipment = ReadonlyMap<EquipSlot, EquippedItem>;

export interface GroundItem {
  id: string;
  itemId: string;
  qty: number;
  uniqueItemId?: string | undefined;
  droppedBy: number | null;
  /** Epoch ms after which the despawn job may remove it; null keeps it forever. */
  despawnAt: number | null;
}

/** One instance of a non-stacking item (weapon, armour) with its own wear. */
export interface UniqueItem {
  id: string;
  itemId: string;
  durability: number;
  maxDurability: number;
}

export interface Character {
  id: number;
  accountId: number;
  name: string;
  locationId: string;
  hp: number;
  maxHp: number;
  stamina: number;
  maxStamina: number;
  level: number;
  xp: number;
  /** Epoch ms at which hp and stamina were last written: regeneration counts from here. */
  vitalsAt: number;
  /**
   * Rises with every change to the character's state, so a durable write carrying an older
   * version (a batch that read before a later forced save) never overwrites a newer one.
   */
  version: number;
}

/** Everything the durable store holds for one character. */
export interface CharacterSnapshot {
  character: Character;
  inventory: Inventory;
  equipment: Equipment;
  uniqueItems: UniqueItem[];
}
