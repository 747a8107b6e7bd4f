// Looking around and walking between locations: exits, stamina and a short cooldown.
import type { Direction } from '../content/schema.ts';
import { GameError } from '../errors.ts';
import type { ActionSession, GameContext } from './context.ts';
import { publicPlayer, requirePlayer, requireSurroundings } from './players.ts';
import { withRetry } from './retry.ts';
import { locationView, selfView } from './views.ts';
import { currentVitals, exhausted } from './vitals.ts';

export async function look(ctx: GameContext, characterId: number) {
  const surroundings = await requireSurroundings(ctx, characterId);
  const now = ctx.now();
  return { self: selfView(ctx, surroundings.player, now), location: locationView(ctx, surroundings, now) };
}

export function move(ctx: GameContext, characterId: number, direction: Direction, session?: ActionSession) {
  return withRetry(async () => {
    const player = await requirePlayer(ctx, characterId, session);
    const now = ctx.now();
    const from = ctx.catalog.locations.get(player.character.locationId);
    const to = from?.exits[direction];
    if (!from || !to) throw new GameError('E_NO_EXIT', `There is no way ${direction} from here.`);
    const readyAt = Number(player.fields.move_ready_at ?? 0);
    if (now < readyAt) throw new GameError('E_COOLDOWN', `You need a moment to catch your breath (${readyAt - now} ms).`);
    const { rules } = ctx.catalog;
    const vitals = currentVitals(ctx, player, now);
    if (vitals.stamina < rules.moveStaminaCost) throw new GameError('E_NO_STAMINA', exhausted(ctx, vitals.stamina, rules.moveStaminaCost, 'move'));

    const result = await ctx.gsm.moveCharacter(
      player,
      to,
      { hp: vitals.hp, stamina: vitals.stamina - rules.moveStaminaCost, vitalsAt: now },
      now + rules.moveCooldownMs,
    );
    if (!result.ok) throw new GameError('E_CONFLICT');

    const destination = ctx.catalog.locations.get(to);
    const who = publicPlayer(player);
    ctx.events.toLocation(from.id, 'player_left', { player: who, direction, to: { id: to, name: destination?.name ?? to } }, characterId);
    ctx.events.toLocation(to, 'player_arrived', { player: { ...who, connected: true }, from: { id: from.id, name: from.name } }, characterId);
    await session?.entering(to);
    return look(ctx, characterId);
  });
}
