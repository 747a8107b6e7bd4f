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
  /** A walk there and back, to the location's partner (see placementsOf). */
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

/** The exits of `location` whose target leads straight back, with that way back. */
function returnableExits(catalog: Catalog, location: Location): { direction: Direction; target: string; back: Direction }[] {
  return (Object.entries(location.exits) as [Direction, string][]).flatMap(([direction, target]) => {
    const back = Object.entries(catalog.locations.get(target)?.exits ?? {}).find(([, there]) => there === location.id);
    return back ? [{ direction, target, back: back[0] as Direction }] : [];
  });
}

/**
 * Each location's walk, paired where possible: a location's walkers go to a partner whose walkers
 * come back the other way, so a pair always holds its own players however many are out. (Every
 * location walking north would crowd some and empty others, and crowded locations make every
 * `say` and arrival fan out to more players than --per-location says.)
 */
function placementsOf(catalog: Catalog): Placement[] {
  const partner = new Map<string, Placement>();
  for (const location of catalog.locations.values()) {
    if (partner.has(location.id)) continue;
    const exits = returnableExits(catalog, location);
    const free = exits.find((exit) => !partner.has(exit.target) && exit.target !== location.id);
    if (free) {
      partner.set(location.id, { locationId: location.id, outbound: free.direction, inbound: free.back });
      partner.set(free.target, { locationId: free.target, outbound: free.back, inbound: free.direction });
      continue;
    }
    const first = exits[0];
    if (!first) throw new Error(`location ${location.id} has no exit that leads straight back`);
    partner.set(location.id, { locationId: location.id, outbound: first.direction, inbound: first.back });
  }
  return [...catalog.locations.keys()].map((id) => partner.get(id) as Placement);
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
  const placements = placementsOf(catalog);
  return { dir, catalog, placements, perLocation };
}

export function placementOfBot(world: BenchWorld, index: number): Placement {
  const placement = world.placements[Math.floor(index / world.perLocation) % world.placements.length];
  if (placement === undefined) throw new Error('the world has no location');
  return placement;
}
