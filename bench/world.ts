// The world the bench plays in, and where each bot stands in it.
//
// `grid` (default): the Ashlands' rules, items, NPCs and loot tables on a generated square grid
// of safe locations, enough for --per-location players in each. The Ashlands has 32 locations:
// 10,000 players there would put ~300 in each, and every look, move and arrival would then cost
// O(300) (the location view lists everyone present) — a crowding test, not a throughput test.
// `ashlands`: the real content, unchanged, for that crowding test.
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Catalog } from '../src/content/catalog.ts';
import { loadContent } from '../src/content/loader.ts';
import type { Direction, Location } from '../src/content/schema.ts';

export const ASHLANDS_DIR = fileURLToPath(new URL('../content/ashlands/', import.meta.url));

export interface Placement {
  locationId: string;
  /** A walk there and back: the first exit of the location whose target leads straight back. */
  outbound: Direction;
  inbound: Direction;
}

export interface BenchWorld {
  dir: string;
  catalog: Catalog;
  /** Bot i stands in locations[floor(i / perLocation) mod locations.length]. */
  placements: Placement[];
  perLocation: number;
}

/** Writes the grid world into `dir` (side × side locations) and returns its directory. */
async function writeGrid(dir: string, side: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const file of ['items.json', 'npcs.json', 'loot-tables.json']) await copyFile(join(ASHLANDS_DIR, file), join(dir, file));
  const id = (x: number, y: number) => `waste-${x}-${y}`;
  const locations: Location[] = [];
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const exits: Partial<Record<Direction, string>> = {};
      if (y > 0) exits.north = id(x, y - 1);
      if (y < side - 1) exits.south = id(x, y + 1);
      if (x < side - 1) exits.east = id(x + 1, y);
      if (x > 0) exits.west = id(x - 1, y);
      locations.push({
        id: id(x, y),
        name: `Ash Waste ${x},${y}`,
        description: 'Grey dunes of ash under a brown sky, and the tracks of everyone who passed today.',
        x,
        y,
        danger: 0,
        safe: true,
        exits,
        interactables: [],
        npcs: [],
      });
    }
  }
  const world = JSON.parse(await readFile(join(ASHLANDS_DIR, 'world.json'), 'utf8')) as { name: string; description: string; rules: Record<string, unknown> };
  world.name = 'The Ashlands (bench grid)';
  world.rules.startLocation = id(0, 0);
  world.rules.respawnLocation = id(0, 0);
  await writeFile(join(dir, 'world.json'), JSON.stringify(world, null, 2));
  await writeFile(join(dir, 'locations.json'), JSON.stringify({ locations }, null, 2));
}

function placementOf(catalog: Catalog, location: Location): Placement {
  for (const [direction, target] of Object.entries(location.exits) as [Direction, string][]) {
    const back = Object.entries(catalog.locations.get(target)?.exits ?? {}).find(([, there]) => there === location.id);
    if (back) return { locationId: location.id, outbound: direction, inbound: back[0] as Direction };
  }
  throw new Error(`location ${location.id} has no exit that leads straight back`);
}

export async function prepareWorld(kind: 'grid' | 'ashlands', players: number, perLocation: number, scratchDir: string): Promise<BenchWorld> {
  let dir = ASHLANDS_DIR;
  if (kind === 'grid') {
    const side = Math.max(2, Math.ceil(Math.sqrt(Math.ceil(players / perLocation))));
    dir = join(scratchDir, 'world');
    await writeGrid(dir, side);
  }
  // The same loader and validator the workers run: a broken world fails here first.
  const catalog = await loadContent(dir);
  const placements = [...catalog.locations.values()].map((location) => placementOf(catalog, location));
  return { dir, catalog, placements, perLocation };
}

export function placementOfBot(world: BenchWorld, index: number): Placement {
  const placement = world.placements[Math.floor(index / world.perLocation) % world.placements.length];
  if (placement === undefined) throw new Error('the world has no location');
  return placement;
}
