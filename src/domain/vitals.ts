// HP and stamina regenerate with time; they are computed when read instead of ticked by a job.
// Values are kept fractional so that frequent actions never round regeneration away;
// players are shown whole numbers.

/** The value after `elapsedMs` of regeneration at `perMinute`, capped at `max`. */
export function regenerated(value: number, max: number, elapsedMs: number, perMinute: number): number {
  if (value >= max) return max;
  if (elapsedMs <= 0) return value;
  return Math.min(max, value + (elapsedMs * perMinute) / 60_000);
}
