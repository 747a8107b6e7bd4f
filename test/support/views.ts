// The reply shapes tests read (see docs/protocol.md).
export interface ItemSlot {
  slot: number;
  itemId: string;
  name: string;
  qty: number;
  uniqueItemId?: string;
  durability?: number;
}

export interface PlayView {
  self: { id: number; name: string; locationId: string; hp: number; maxHp: number; stamina: number; maxStamina: number; attack: number; defense: number };
  location: {
    id: string;
    name: string;
    exits: { direction: string; locationId: string }[];
    players: { id: number; name: string; connected: boolean }[];
    ground: { id: string; itemId: string; qty: number }[];
    interactables: { id: string; name: string; readyInMs: number }[];
  };
  inventory: { slots: number; items: ItemSlot[] };
  equipment: Partial<Record<string, { itemId: string; uniqueItemId?: string }>>;
  ground: { id: string; itemId: string; qty: number }[];
}

export function slotOf(items: ItemSlot[], itemId: string): ItemSlot {
  const found = items.find((item) => item.itemId === itemId);
  if (!found) throw new Error(`no ${itemId} in ${JSON.stringify(items)}`);
  return found;
}
