// Reading the acting player, who must be in the world.
import { GameError } from '../errors.ts';
import type { PlayerRead } from '../state/playerRead.ts';
import type { GameContext } from './context.ts';

export async function requirePlayer(ctx: GameContext, characterId: number): Promise<PlayerRead> {
  const player = await ctx.gsm.readPlayer(characterId);
  if (!player) throw new GameError('E_UNAUTHENTICATED', 'Your character is not in the world; reconnect.');
  return player;
}

export function publicPlayer(player: PlayerRead) {
  return { id: player.character.id, name: player.character.name };
}

/** Turns a failed guard into the refusal the player sees: the first guard names what mattered. */
export function refuse(failed: number, first: GameError): never {
  throw failed === 0 ? first : new GameError('E_CONFLICT');
}
