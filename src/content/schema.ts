// Shapes of the content files a designer edits. Cross-references (exits, loot tables, items)
// are checked by the loader after each file has passed its own schema.
import { z } from 'zod';

const id = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'must be lower-case letters, digits and dashes (e.g. "rusted-gate")');
const text = z.string().trim().min(1, 'must not be empty');
/**
 * Counts, quantities and stats stay far below what the durable store's 32-bit integer columns
 * hold (a stack, a loot roll's quantity times its rolls, a durability), so that no content can
 * make a save fail.
 */
const LIMIT = 1_000_000;
const count = z.number().int().nonnegative().max(LIMIT);
const bonus = z.number().int().min(-LIMIT).max(LIMIT);
const range = z
  .object({ min: count, max: count })
  .strict()
  .refine((r) => r.min <= r.max, { message: 'min must not exceed max' });

export const DIRECTIONS = [
  'north', 'south', 'east', 'west', 'northeast', 'northwest', 'southeast', 'southwest', 'up', 'down',
] as const;
export type Direction = (typeof DIRECTIONS)[number];

export const EQUIP_SLOTS = ['head', 'body', 'legs', 'feet', 'hands', 'mainHand', 'offHand', 'neck', 'ring'] as const;
export type EquipSlot = (typeof EQUIP_SLOTS)[number];

export const ITEM_KINDS = ['weapon', 'armour', 'consumable', 'material', 'tool', 'junk'] as const;

/** Bonuses an equipped item adds to its wearer. */
export const statsSchema = z
  .object({
    attack: bonus.optional(),
    defense: bonus.optional(),
    maxHp: bonus.optional(),
    maxStamina: bonus.optional(),
  })
  .strict();
export type Stats = z.infer<typeof statsSchema>;

export const effectsSchema = z
  .object({
    heal: count.optional(),
    restoreStamina: count.optional(),
  })
  .strict()
  .refine((e) => (e.heal ?? 0) + (e.restoreStamina ?? 0) > 0, { message: 'a consumable must heal or restore something' });

export const interactableSchema = z
  .object({
    id,
    name: text,
    description: text,
    verb: text.default('search'),
    lootTable: id,
    cooldownSeconds: z.number().int().positive(),
    staminaCost: count.default(0),
  })
  .strict();
export type Interactable = z.infer<typeof interactableSchema>;

export const locationSchema = z
  .object({
    id,
    name: text,
    description: text,
    x: z.number().int(),
    y: z.number().int(),
    danger: z.number().int().min(0).max(5),
    safe: z.boolean().default(false),
    exits: z.partialRecord(z.enum(DIRECTIONS), id),
    interactables: z.array(interactableSchema).default([]),
    npcs: z.array(id).default([]),
  })
  .strict();
export type Location = z.infer<typeof locationSchema>;

export const itemSchema = z
  .object({
    id,
    name: text,
    description: text,
    kind: z.enum(ITEM_KINDS),
    weight: z.number().nonnegative(),
    value: count.default(0),
    stackable: z.boolean(),
    maxStack: z.number().int().positive().max(LIMIT).default(1),
    equipSlot: z.enum(EQUIP_SLOTS).optional(),
    stats: statsSchema.optional(),
    effects: effectsSchema.optional(),
    durability: z.number().int().positive().max(LIMIT).optional(),
  })
  .strict()
  .superRefine((item, ctx) => {
    const fail = (path: string, message: string) => {
      ctx.addIssue({ code: 'custom', path: [path], message });
    };
    if ((item.kind === 'weapon' || item.kind === 'armour') && !item.equipSlot) {
      fail('equipSlot', `a ${item.kind} needs an equip slot`);
    }
    if (item.kind === 'consumable' && !item.effects) fail('effects', 'a consumable needs effects');
    if (item.kind !== 'consumable' && item.effects) fail('effects', 'only consumables have effects');
    if (item.stackable && item.durability !== undefined) fail('durability', 'a stackable item cannot have durability');
    if (item.stackable && item.equipSlot) fail('equipSlot', 'a stackable item cannot be equipped');
    if (!item.stackable && item.maxStack !== 1) fail('maxStack', 'an item that does not stack has maxStack 1');
    if (item.stats && !item.equipSlot) fail('stats', 'only equippable items give stats');
  });
export type ItemTemplate = z.infer<typeof itemSchema>;

export const npcSchema = z
  .object({
    id,
    name: text,
    description: text,
    level: z.number().int().positive(),
    hp: range,
    damage: range,
    defense: count,
    xp: count,
    lootTable: id,
    aggressive: z.boolean().default(false),
  })
  .strict();
export type NpcTemplate = z.infer<typeof npcSchema>;

export const lootEntrySchema = z
  .object({
    /** null rolls nothing: the weight of coming away empty-handed. */
    item: id.nullable(),
    weight: z.number().int().positive(),
    qty: range.default({ min: 1, max: 1 }),
  })
  .strict();

export const lootTableSchema = z
  .object({
    id,
    rolls: z.number().int().positive().max(100).default(1),
    entries: z.array(lootEntrySchema).min(1, 'a loot table needs at least one entry'),
  })
  .strict();
export type LootTable = z.infer<typeof lootTableSchema>;

/** Game rules a world sets for every character; defaults suit the Ashlands. */
export const rulesSchema = z
  .object({
    startLocation: id,
    respawnLocation: id,
    maxHp: z.number().int().positive().max(LIMIT),
    maxStamina: z.number().int().positive().max(LIMIT),
    inventorySlots: z.number().int().positive().max(200),
    carryWeight: z.number().positive(),
    /**
     * Items a location's ground holds at most: a drop (or a search's spill) onto a fuller ground is
     * refused. Every look reads the whole ground, so it must stay small.
     */
    groundItemsPerLocation: z.number().int().positive().max(10_000).default(200),
    /** How long what players drop (and a search's spill) lies on the ground before it despawns; 0 keeps it forever. */
    groundDespawnSeconds: count.default(1800),
    moveStaminaCost: count,
    moveCooldownMs: count,
    staminaRegenPerMinute: count,
    hpRegenPerMinute: count,
    /** New characters wake at this hp (the Ashlands start them wounded); defaults to maxHp. */
    startingHp: z.number().int().positive().optional(),
    startingItems: z.array(z.object({ item: id, qty: z.number().int().positive().max(LIMIT) }).strict()).default([]),
  })
  .strict()
  .refine((rules) => rules.startingHp === undefined || rules.startingHp <= rules.maxHp, {
    message: 'startingHp must not exceed maxHp',
    path: ['startingHp'],
  });
export type Rules = z.infer<typeof rulesSchema>;

export const worldFileSchema = z.object({ name: text, description: text, rules: rulesSchema }).strict();
export const locationsFileSchema = z.object({ locations: z.array(locationSchema) }).strict();
export const itemsFileSchema = z.object({ items: z.array(itemSchema) }).strict();
export const npcsFileSchema = z.object({ npcs: z.array(npcSchema) }).strict();
export const lootTablesFileSchema = z.object({ lootTables: z.array(lootTableSchema) }).strict();
