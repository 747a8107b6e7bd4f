// What every service is given: state access, content, a way to tell other players, and the
// sources of time, chance and ids (parameters, so tests can fix them).
import type { Catalog } from '../content/catalog.ts';
import type { Rng } from '../domain/rng.ts';
import type { GameStateManager } from '../state/GameStateManager.ts';

export interface GameEvents {
  /** To everyone in a location except `except` (usually the actor, who gets a reply instead). */
  toLocation(locationId: string, type: string, data: unknown, except?: number): void;
  toPlayer(characterId: number, type: string, data: unknown): void;
  toEveryone(type: string, data: unknown): void;
}

export interface GameContext {
  gsm: GameStateManager;
  catalog: Catalog;
  events: GameEvents;
  rng: Rng;
  now: () => number;
  newId: () => string;
}

/** What the player's connection does for an action while it runs. */
export interface ActionSession {
  /**
   * The session acting. The character may have been taken by a newer session meanwhile (a
   * reconnect elsewhere while this one's action was queued): a change is then refused with
   * E_SESSION_REPLACED, never made for a session the character no longer has.
   */
  readonly sessionId: string;
  /**
   * The character has just moved to `locationId`: from now on the connection hears what happens
   * there (held until the reply is sent), so that nothing said there between the move and the view
   * the reply carries is missed.
   */
  entering(locationId: string): Promise<void>;
}
