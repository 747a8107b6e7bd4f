// Coming and going: connecting puts a character in the world, disconnecting leaves them there
// (shown as disconnected) until the cleanup job lets them fade after the linger time.
import type { Session } from '../state/GameStateManager.ts';
import type { GameContext } from './context.ts';
import { publicPlayer } from './players.ts';

/**
 * Takes the character for `session` and tells others: the players here, and the character's older
 * session wherever it is (`session_replaced`, at once: from now on it does not own the character,
 * whatever becomes of this one). `epoch` orders the sessions of one character: a connection whose
 * epoch is lower than another's has been replaced by it (see sessionEpoch).
 */
export async function connect(ctx: GameContext, characterId: number, session: Session, token: { generation: number; name: string }): Promise<{ epoch: number; locationId: string }> {
  const { player, lingering, epoch } = await ctx.gsm.enterWorld(characterId, session, token.generation, token.name);
  ctx.events.toPlayer(characterId, 'session_replaced', { sessionId: session.sessionId, epoch });
  const who = { ...publicPlayer(player), connected: true };
  ctx.events.toLocation(player.character.locationId, lingering ? 'player_connected' : 'player_arrived', { player: who }, characterId);
  return { epoch, locationId: player.character.locationId };
}

export interface PlayingSession {
  characterId: number;
  sessionId: string;
  tokenGeneration: number;
}

export type SessionEnding = 'replaced' | 'released' | 'revoked';

/**
 * What should have ended each of these sessions, had its message arrived (pub/sub loses what is
 * published while a worker reconnects, or when a publish fails): `revoked` when its token was
 * revoked (a password change, a ban); `released` when no session holds its character (a newer one
 * took it, then failed half-way and gave it up; or this worker was taken for dead); `replaced`
 * when another session holds it. Null for a session that stands. One read for them all.
 */
export async function sessionEndings(ctx: GameContext, sessions: readonly PlayingSession[]): Promise<(SessionEnding | null)[]> {
  const standings = await ctx.gsm.sessionStandings(sessions.map((session) => session.characterId));
  return sessions.map((session, index) => {
    const standing = standings[index];
    if (!standing) return null;
    if (standing.tokenFloor > session.tokenGeneration) return 'revoked';
    if (standing.sessionId === null) return 'released';
    return standing.sessionId === session.sessionId ? null : 'replaced';
  });
}

/** The epoch of the character's newest session: a connection with a lower one was replaced. */
export function sessionEpoch(ctx: GameContext, characterId: number): Promise<number> {
  return ctx.gsm.sessionEpoch(characterId);
}

/**
 * Others learn of the disconnect first; then the character is saved. A failed save is not lost:
 * the character stays marked dirty for the batch sync.
 */
export async function disconnect(ctx: GameContext, characterId: number, session: Session): Promise<void> {
  if (!(await ctx.gsm.markDisconnected(characterId, session))) return;
  const player = await ctx.gsm.readPlayer(characterId);
  if (player) {
    ctx.events.toLocation(player.character.locationId, 'player_disconnected', { player: { ...publicPlayer(player), connected: false } });
  }
  await ctx.gsm.syncPlayer(characterId);
}

/**
 * Workers whose heartbeat stopped: their players are shown as disconnected (each told as soon as
 * released, whatever becomes of the saves that follow) and saved.
 */
export async function releaseDeadWorkers(ctx: GameContext, self: string, graceMs: number): Promise<number> {
  let released = 0;
  for (const workerId of await ctx.gsm.deadWorkers(self, graceMs)) {
    await ctx.gsm.releaseDeadWorker(workerId, ({ id, name, locationId }) => {
      ctx.events.toLocation(locationId, 'player_disconnected', { player: { id, name, connected: false } });
      released++;
    });
  }
  return released;
}

/**
 * At shutdown, after every connection has left: a player whose disconnect could not be recorded
 * (the hot store failed then) is still shown connected on this worker. They are released as a
 * dead worker's would be, and told; then the worker is forgotten. Returns how many were released.
 */
export async function leaveAsWorker(ctx: GameContext, workerId: string): Promise<number> {
  await ctx.gsm.stopHeartbeat(workerId);
  let released = 0;
  await ctx.gsm.releaseDeadWorker(workerId, ({ id, name, locationId }) => {
    ctx.events.toLocation(locationId, 'player_disconnected', { player: { id, name, connected: false } });
    released++;
  });
  await ctx.gsm.deregisterWorker(workerId);
  return released;
}

export async function evictLingering(ctx: GameContext, lingerMs: number): Promise<number> {
  const evicted = await ctx.gsm.evictLingering(lingerMs);
  for (const { id, name, locationId } of evicted) {
    ctx.events.toLocation(locationId, 'player_left', { player: { id, name }, reason: 'faded' });
  }
  return evicted.length;
}

const REMOVAL_RETRY_MS = 1000;
const REMOVAL_RETRY_MAX_MS = 30_000;

/**
 * Takes a deleted character out of the world and tells the players there. The deletion is made
 * (the durable store has it), so a hot store that refuses now is retried in the background until
 * it answers: meanwhile the character stands there and no token of theirs can take them.
 */
export async function removeFromWorld(ctx: GameContext, characterId: number, attempt = 0): Promise<void> {
  try {
    const removed = await ctx.gsm.removeCharacter(characterId);
    if (removed) ctx.events.toLocation(removed.locationId, 'player_left', { player: { id: characterId, name: removed.name }, reason: 'deleted' });
  } catch {
    setTimeout(() => {
      void removeFromWorld(ctx, characterId, attempt + 1);
    }, Math.min(REMOVAL_RETRY_MS * 2 ** attempt, REMOVAL_RETRY_MAX_MS)).unref();
  }
}
