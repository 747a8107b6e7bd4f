// A consistent read of one player's hot keys, keeping the raw values so changes can be guarded.
import type { EquipSlot } from '../content/schema.ts';
import type { Character, EquippedItem, InventoryEntry } from '../domain/model.ts';
import { decodeCharacter, decodeEntry, decodeEquipped } from './codec.ts';

export interface PlayerRead {
  character: Character;
  fields: Readonly<Record<string, string>>;
  inventory: Map<number, InventoryEntry>;
  inventoryRaw: Map<number, string>;
  equipment: Map<EquipSlot, EquippedItem>;
  equipmentRaw: Map<EquipSlot, string>;
}

export function toPlayerRead(
  id: number,
  fields: Record<string, string>,
  inventoryHash: Record<string, string>,
  equipmentHash: Record<string, string>,
): PlayerRead | null {
  const character = decodeCharacter(id, fields);
  if (!character) return null;
  const inventoryRaw = new Map(Object.entries(inventoryHash).map(([slot, raw]) => [Number(slot), raw]));
  const equipmentRaw = new Map(Object.entries(equipmentHash).map(([slot, raw]) => [slot as EquipSlot, raw]));
  return {
    character,
    fields,
    inventory: new Map([...inventoryRaw].map(([slot, raw]) => [slot, decodeEntry(raw)])),
    inventoryRaw,
    equipment: new Map([...equipmentRaw].map(([slot, raw]) => [slot, decodeEquipped(raw)])),
    equipmentRaw,
  };
}
