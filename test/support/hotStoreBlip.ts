// A failure of the hot store for a test to throw: errors whose message is BLIP count as Redis
// being unreachable, as a blip would in scaled mode (the embedded store never fails by itself).
import type { Adapters } from '../../src/adapters/Adapters.ts';

export const BLIP = 'hot store blip';

/** The adapters, with BLIP errors counted as the hot store failing (pass as `adapt`). */
export function blipsAsHotFailures(adapters: Adapters): Adapters {
  return {
    ...adapters,
    failureOf: (error) => (error instanceof Error && error.message === BLIP ? 'hot' : adapters.failureOf(error)),
  };
}
