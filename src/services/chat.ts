// Talking to everyone in the same location.
import type { GameContext } from './context.ts';
import { publicPlayer, requirePlayer } from './players.ts';

export async function say(ctx: GameContext, characterId: number, text: string) {
  const player = await requirePlayer(ctx, characterId);
  const message = { from: publicPlayer(player), text: text.trim() };
  ctx.events.toLocation(player.character.locationId, 'said', message, characterId);
  return { said: message };
}
