// Every hot-store key and bus channel name, in one place (DESIGN.md §4, §6). A player's keys share
// the hash tag {p:ID} so a Redis Cluster keeps them on one shard.

export const keys = {
  player: (id: number) => `player:{p:${id}}`,
  inventory: (id: number) => `inventory:{p:${id}}`,
  equipment: (id: number) => `equipment:{p:${id}}`,
  uniqueItem: (id: string) => `unique_item:${id}`,
  /**
   * A counter: the lowest token generation the character's account still accepts (a password
   * change or a ban raised it). It expires once every older token has (CINDER_TOKEN_TTL_SECONDS).
   */
  tokenFloor: (id: number) => `tokens:{p:${id}}`,
  /** Per-player ready times of interactables: field `location/interactable` → epoch ms. */
  cooldowns: (id: number) => `cooldowns:{p:${id}}`,
  locationPlayers: (locationId: string) => `location:${locationId}:players`,
  ground: (locationId: string) => `ground:${locationId}`,
  /** Field `version`: bumped by every change of the location's ground (see SyncBatch.ground). */
  groundVersion: (locationId: string) => `ground:${locationId}:version`,
  presenceOnline: () => 'presence:online',
  /**
   * Characters disconnected but still in the world: all the cleanup job reads, so its cost
   * follows the number of lingering characters, not of everyone online.
   */
  presenceLingering: () => 'presence:lingering',
  /** A live worker's heartbeat hash; it expires when the worker stops refreshing it. */
  worker: (workerId: string) => `worker:${workerId}`,
  /** Every worker that registered and has not been cleaned up: how dead ones are found. */
  workers: () => 'workers',
  /**
   * Workers found dead whose release has not finished (the releasing worker crashed, or a store
   * failed half-way): the next run of the job releases them again, until done.
   */
  workersReleasing: () => 'workers:releasing',
  /**
   * Field worker id → how many times it registered (again): a release that began before the
   * worker came back must not, at its end, forget the sessions it took since.
   */
  workerRegistrations: () => 'workers:registrations',
  /** Registered workers seen without a heartbeat key: field worker id → when first seen so. */
  workersSuspected: () => 'workers:suspected',
  /** The characters whose session a worker holds. */
  workerPlayers: (workerId: string) => `worker:${workerId}:players`,
  dirty: (kind: DirtyKind) => `dirty:${kind}`,
  dirtyClaim: (kind: DirtyKind) => `dirty:${kind}:syncing`,
  /** Flags about the world as a whole, e.g. whether ground items were loaded from the durable store. */
  world: () => 'world:meta',
  /** Locations whose ground holds items with a despawn time: all the despawn job reads. */
  despawning: () => 'world:despawning',
  /** A background job's lease: holds the holder's random token, expires with the lease. */
  lock: (name: string) => `lock:${name}`,
  rateLimit: (scope: string, subject: string, window: number) => `ratelimit:${scope}:${subject}:${window}`,
} as const;

/** Field of keys.world(): '1' once the durable ground is in the hot store. Every ground change and every sync of the ground waits for it. */
export const GROUND_READY = 'ground_ready';

export const DIRTY_KINDS = ['position', 'inventory', 'equipment', 'ground'] as const;
export type DirtyKind = (typeof DIRTY_KINDS)[number];

export const channels = {
  broadcast: () => 'game:broadcast',
  workers: () => 'game:workers',
  location: (locationId: string) => `location:${locationId}`,
  player: (id: number) => `player:${id}`,
} as const;
