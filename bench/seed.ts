// Bot accounts, made in bulk before anything is measured. Registering through the REST API costs
// an argon2id hash each (~8 ms of CPU): 10,000 of them would take over a minute on two cores, so
// the bench hashes one password once and inserts accounts and characters with unnest, then gives
// each character the world's starting kit through the durable store's own batch write. Each bot
// gets a session token signed with the workers' secret (what login would have returned).
import { v7 as uuidv7 } from 'uuid';
import { openPostgres } from '../src/adapters/durable/pgClient.ts';
import { SqlDurableStore } from '../src/adapters/durable/SqlDurableStore.ts';
import type { SqlClient } from '../src/adapters/durable/SqlClient.ts';
import { hashPassword } from '../src/auth/passwords.ts';
import { TokenIssuer } from '../src/auth/tokens.ts';
import type { Catalog } from '../src/content/catalog.ts';
import { planAdd } from '../src/domain/inventory.ts';
import type { InventoryEntry, UniqueItem } from '../src/domain/model.ts';
import { placementOfBot, type BenchWorld } from './world.ts';

export interface SeededBot {
  index: number;
  characterId: number;
  token: string;
}

const CHUNK = 2000;

function startingKit(catalog: Catalog): { inventory: [number, InventoryEntry][]; uniqueItems: UniqueItem[] } {
  const inventory = new Map<number, InventoryEntry>();
  const uniqueItems: UniqueItem[] = [];
  for (const { item, qty } of catalog.rules.startingItems) {
    const durability = catalog.items.get(item)?.durability;
    const units: InventoryEntry[] = [];
    if (durability === undefined) units.push({ itemId: item, qty });
    for (let unit = 0; durability !== undefined && unit < qty; unit++) {
      const id = uuidv7();
      uniqueItems.push({ id, itemId: item, durability, maxDurability: durability });
      units.push({ itemId: item, qty: 1, uniqueItemId: id });
    }
    for (const entry of units) {
      const plan = planAdd(catalog, inventory, new Map(), entry);
      if (!plan.ok) throw new Error(`the starting kit does not fit: ${plan.reason}`);
      for (const [slot, placed] of plan.writes) inventory.set(slot, placed);
    }
  }
  return { inventory: [...inventory], uniqueItems };
}

async function seedChunk(client: SqlClient, store: SqlDurableStore, world: BenchWorld, from: number, to: number, passwordHash: string): Promise<Map<number, { accountId: number; characterId: number }>> {
  const indices = Array.from({ length: to - from }, (_, i) => from + i);
  const names = indices.map((i) => `bot${i}`);
  const accounts = await client.query(
    'INSERT INTO accounts (username, password_hash) SELECT u, $2 FROM unnest($1::text[]) AS u RETURNING id, username',
    [names, passwordHash],
  );
  const accountOf = new Map(accounts.rows.map((row) => [String(row.username), Number(row.id)]));
  const { rules } = world.catalog;
  const now = Date.now();
  const characters = await client.query(
    `INSERT INTO characters (account_id, name, location_id, hp, max_hp, stamina, max_stamina, level, xp, vitals_at)
     SELECT a, n, l, $4, $5, $6, $7, 1, 0, $8 FROM unnest($1::bigint[], $2::text[], $3::text[]) AS t(a, n, l)
     RETURNING id, name`,
    [
      names.map((name) => accountOf.get(name)),
      names,
      indices.map((i) => placementOfBot(world, i).locationId),
      rules.startingHp ?? rules.maxHp,
      rules.maxHp,
      rules.maxStamina,
      rules.maxStamina,
      now,
    ],
  );
  const characterOf = new Map(characters.rows.map((row) => [String(row.name), Number(row.id)]));
  const kits = indices.map(() => startingKit(world.catalog));
  const ids = new Map<number, { accountId: number; characterId: number }>();
  indices.forEach((i, k) => {
    const name = names[k] ?? '';
    ids.set(i, { accountId: accountOf.get(name) ?? 0, characterId: characterOf.get(name) ?? 0 });
  });
  await store.writeBatch({
    characters: [],
    inventories: indices.map((i, k) => ({ characterId: ids.get(i)?.characterId ?? 0, entries: kits[k]?.inventory ?? [] })),
    equipment: [],
    ground: [],
    uniqueItems: kits.flatMap((kit) => kit.uniqueItems),
  });
  return ids;
}

/** Applies the migrations, creates `count` bots placed in `world`, and signs a token for each. */
export async function seedBots(databaseUrl: string, world: BenchWorld, count: number, tokenSecret: string): Promise<SeededBot[]> {
  const client = await openPostgres(databaseUrl, { max: 4 });
  try {
    const store = await SqlDurableStore.open(client);
    const passwordHash = await hashPassword('bench-password-not-secret');
    const tokens = new TokenIssuer(tokenSecret, 24 * 3600);
    const bots: SeededBot[] = [];
    for (let from = 0; from < count; from += CHUNK) {
      const ids = await seedChunk(client, store, world, from, Math.min(count, from + CHUNK), passwordHash);
      for (const [index, { accountId, characterId }] of ids) {
        bots.push({ index, characterId, token: await tokens.issue({ characterId, accountId, name: `bot${index}`, generation: 0 }) });
      }
    }
    return bots;
  } finally {
    await client.close();
  }
}
