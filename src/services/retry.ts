// A named change whose guard failed because the player's own state moved underneath it is
// re-read and re-planned; a few attempts settle any realistic race.
import { GameError } from '../errors.ts';

const ATTEMPTS = 3;

export async function withRetry<T>(attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof GameError) || error.code !== 'E_CONFLICT' || tries >= ATTEMPTS) throw error;
    }
  }
}
