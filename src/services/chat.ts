// Talking to everyone in the same location.
import type { GameContext } from './context.ts';
import { publicPlayer, requireCharacter } from './players.ts';

export async function say(ctx: GameContext, characterId: number, text: string) {
  const character = await requireCharacter(ctx, characterId);
  const message = { from: publicPlayer({ character }), text: text.trim() };
  ctx.events.toLocation(character.locationId, 'said', message, characterId);
  return { said: message };
}
