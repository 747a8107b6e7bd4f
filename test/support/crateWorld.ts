// A copy of the Ashlands for the tests of what a search spills: the donation crate always gives
// five bandages, and characters start with every slot taken (three) and their bandage stack two
// short of full, so two go on the stack and three fall. `rules` changes more of the world's rules.
import type { Rules } from '../../src/content/schema.ts';
import { byId, copyAshlands, editFile } from '../content/contentCopy.ts';
import { registerPlayer } from './accounts.ts';
import { GameClient } from './GameClient.ts';
import type { InProcessServer } from './inProcessServer.ts';

export async function crateWorld(rules: Partial<Rules> = {}): Promise<string> {
  const dir = await copyAshlands();
  await editFile(dir, 'loot-tables.json', ({ lootTables }) => {
    byId(lootTables, 'donation-crate').entries = [{ item: 'bandage', weight: 1, qty: { min: 5, max: 5 } }];
  });
  await editFile(dir, 'world.json', (world) => {
    Object.assign(world.rules, {
      inventorySlots: 3,
      startingItems: [{ item: 'bandage', qty: 18 }, { item: 'rusty-pipe', qty: 1 }, { item: 'canned-beans', qty: 1 }],
      ...rules,
    });
  });
  return dir;
}

/** A new player, registered and authenticated on `server`; the client goes in `clients` to be closed. */
export async function playingOn(server: InProcessServer, clients: GameClient[]): Promise<GameClient> {
  return playingAs(server, (await registerPlayer(server.baseUrl)).token, clients);
}

/** A client authenticated on `server` with `token`; it goes in `clients` to be closed. */
export async function playingAs(server: InProcessServer, token: string, clients: GameClient[]): Promise<GameClient> {
  const client = await GameClient.connect(server.wsUrl);
  clients.push(client);
  await client.ok('auth', { token });
  return client;
}
