// The one atomic primitive of the hot store: compare-and-set over hash fields and set members.
// Every multi-key game change (pick up, drop, equip, use, move) is expressed as one of these,
// built by name in src/state/atomicChanges.ts. The Redis adapter runs it as a single Lua script,
// the memory adapter applies it synchronously; the contract suite runs both through the same cases.

export interface FieldExpectation {
  key: string;
  field: string;
  /** The exact current value, or null when the field must be absent. */
  value: string | null;
}

/** A hash that must hold fewer than `below` fields before the change: a bound on what piles up there. */
export interface RoomExpectation {
  key: string;
  below: number;
}

export interface HotTransaction {
  expect: readonly FieldExpectation[];
  /** Checked after `expect`: a failure here is reported as `expect.length` + its index. */
  room?: readonly RoomExpectation[];
  hset?: readonly { key: string; field: string; value: string }[];
  hdel?: readonly { key: string; field: string }[];
  sadd?: readonly { key: string; member: string }[];
  srem?: readonly { key: string; member: string }[];
  hincrby?: readonly { key: string; field: string; by: number }[];
  /** Whole keys removed last, after every other change. */
  del?: readonly string[];
}

/** On failure, `failed` is the index in `expect` of the first value that did not match (or `expect.length` + the index in `room`). */
export type HotTransactionResult = { ok: true } | { ok: false; failed: number };

/** Every key a transaction touches: a Redis script must declare them (and a Cluster co-locate them). */
export function transactionKeys(tx: HotTransaction): string[] {
  const keys = new Set<string>();
  for (const list of [tx.expect, tx.room ?? [], tx.hset ?? [], tx.hdel ?? [], tx.hincrby ?? [], tx.sadd ?? [], tx.srem ?? []]) {
    for (const change of list) keys.add(change.key);
  }
  for (const key of tx.del ?? []) keys.add(key);
  return [...keys];
}
