// What a player holds, as replies show it, in a canonical form tests can compare with what
// PostgreSQL holds (durableState.ts); and a bounded poll for conditions that settle over time.

export interface Slot {
  slot: number;
  itemId: string;
  qty: number;
  uniqueItemId?: string;
}

export interface Worn {
  itemId: string;
  uniqueItemId?: string;
}

export interface Held {
  locationId: string;
  inventory: Slot[];
  equipment: Record<string, Worn>;
}

export interface GroundSeen {
  id: string;
  itemId: string;
  qty: number;
  uniqueItemId?: string;
}

/** The parts of a reply's data that show what a player holds and sees (docs/protocol.md). */
export interface HeldReply {
  self?: { id: number; locationId: string };
  location?: { id: string; ground: GroundSeen[]; players: { id: number; name: string; connected: boolean }[] };
  inventory?: { items: Slot[] };
  equipment?: Record<string, Worn | undefined>;
  ground?: GroundSeen[];
  dropped?: GroundSeen;
}

/** `before` updated with what `reply` shows; what it does not show stays as it was. */
export function heldAfter(before: Held, reply: HeldReply): Held {
  return {
    locationId: reply.self?.locationId ?? before.locationId,
    inventory: reply.inventory ? normalInventory(reply.inventory.items) : before.inventory,
    equipment: reply.equipment ? normalEquipment(reply.equipment) : before.equipment,
  };
}

export function slotView(item: Slot): Slot {
  return { slot: item.slot, itemId: item.itemId, qty: item.qty, ...(item.uniqueItemId === undefined ? {} : { uniqueItemId: item.uniqueItemId }) };
}

export function wornView(item: Worn): Worn {
  return { itemId: item.itemId, ...(item.uniqueItemId === undefined ? {} : { uniqueItemId: item.uniqueItemId }) };
}

export function normalInventory(items: Slot[]): Slot[] {
  return items.map(slotView).sort((a, b) => a.slot - b.slot);
}

export function normalEquipment(equipment: Record<string, Worn | undefined>): Record<string, Worn> {
  const entries = Object.entries(equipment).flatMap(([slot, worn]) => (worn ? [[slot, wornView(worn)] as const] : []));
  return Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
}

export function normalGround(items: GroundSeen[]): GroundSeen[] {
  return items
    .map((item) => ({ id: item.id, itemId: item.itemId, qty: item.qty, ...(item.uniqueItemId === undefined ? {} : { uniqueItemId: item.uniqueItemId }) }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** Polls `condition` every 25 ms; fails naming `what` after `timeoutMs`. Not a sleep: it stops as soon as the condition holds. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
