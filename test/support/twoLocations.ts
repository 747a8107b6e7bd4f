// The two neighbouring Ashlands locations that the scaled tests' players walk between.
export const SQUARE = 'emberwell-square';
export const MARKET = 'scrap-market';

/** The way from each of the two locations to the other. */
export const WAY: Record<string, { direction: string; to: string }> = {
  [SQUARE]: { direction: 'east', to: MARKET },
  [MARKET]: { direction: 'west', to: SQUARE },
};

/** Longer than the 400 ms move cooldown of the Ashlands, so that no move is refused for it. */
export const MOVE_SPACING_MS = 600;
