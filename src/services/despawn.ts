// What lies on the ground does not lie there for ever: what players drop, and what falls from a
// search, despawns after the world's rules.groundDespawnSeconds (DESIGN.md §7, ground-item
// despawn). Items a world places itself carry no despawn time and stay.
import type { GameContext } from './context.ts';
import { groundView } from './views.ts';

/** When an item put on the ground now despawns; null when the world keeps it. */
export function despawnTime(ctx: GameContext, now: number): number | null {
  const seconds = ctx.catalog.rules.groundDespawnSeconds;
  return seconds > 0 ? now + seconds * 1000 : null;
}

/**
 * The despawn job: every listed location's expired items are taken off its ground and the
 * players there told (`item_despawned`). An item picked up meanwhile stays with its taker; the
 * others of that location wait for the next run. Answers how many items despawned.
 */
export async function despawnGround(ctx: GameContext): Promise<number> {
  let despawned = 0;
  for (const locationId of await ctx.gsm.despawningLocations()) {
    const expired = await ctx.gsm.despawnExpired(locationId, ctx.now());
    for (const item of groundView(ctx, expired ?? [])) ctx.events.toLocation(locationId, 'item_despawned', { item });
    despawned += expired?.length ?? 0;
  }
  return despawned;
}
