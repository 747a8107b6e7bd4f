// Reading the acting player, who must be in the world.
import { GameError } from '../errors.ts';
import type { Character } from '../domain/model.ts';
import type { BelongingsRead, SurroundingsRead } from '../state/GameStateManager.ts';
import type { PlayerRead } from '../state/playerRead.ts';
import type { ActionSession, GameContext } from './context.ts';

/** With `session`, only while that session still has the character (see ActionSession). */
export async function requirePlayer(ctx: GameContext, characterId: number, session?: ActionSession): Promise<PlayerRead> {
  const player = present(await ctx.gsm.readPlayer(characterId));
  if (session && player.fields.session_id !== session.sessionId) {
    // Nobody's: let go (this worker was taken for dead, or a newer session took it and failed).
    throw new GameError(player.fields.session_id ? 'E_SESSION_REPLACED' : 'E_SESSION_RELEASED');
  }
  return player;
}

/** The acting character without their belongings: what a chat line needs. */
export async function requireCharacter(ctx: GameContext, characterId: number): Promise<Character> {
  return present(await ctx.gsm.readCharacter(characterId));
}

/** The acting player with their unique items' wear: what an inventory reply shows. */
export async function requireBelongings(ctx: GameContext, characterId: number): Promise<BelongingsRead> {
  return present(await ctx.gsm.readBelongings(characterId));
}

/** The acting player with their location as they see it: what a look shows. */
export async function requireSurroundings(ctx: GameContext, characterId: number): Promise<SurroundingsRead> {
  return present(await ctx.gsm.readSurroundings(characterId));
}

function present<T>(read: T | null): T {
  if (read === null) throw new GameError('E_UNAUTHENTICATED', 'Your character is not in the world; reconnect.');
  return read;
}

export function publicPlayer({ character }: { character: Pick<Character, 'id' | 'name'> }) {
  return { id: character.id, name: character.name };
}

/** Turns a failed guard into the refusal the player sees: the first guard names what mattered. */
export function refuse(failed: number, first: GameError): never {
  throw failed === 0 ? first : new GameError('E_CONFLICT');
}
