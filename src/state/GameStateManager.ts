// The only code that touches the hot and durable stores (DESIGN.md §3): loads players on connect,
// reads state for the services, applies their named atomic changes, and syncs dirty state.
import { randomUUID } from 'node:crypto';
import type { Catalog } from '../content/catalog.ts';
import type { EquipSlot } from '../content/schema.ts';
import type { AccountRecord, DurableStore, GroundSnapshot, NewCharacter, StartingKit, StoredCharacter } from '../adapters/durable/DurableStore.ts';
import type { HotStore } from '../adapters/hot/HotStore.ts';
import type { HotView, KeyPattern } from '../adapters/hot/readView.ts';
import type { HotTransaction } from '../adapters/hot/transaction.ts';
import { GROUND_READY, keys, type DirtyKind } from '../adapters/keys.ts';
import type { Character, EquippedItem, GroundItem, InventoryEntry, UniqueItem } from '../domain/model.ts';
import { GameError, TOKEN_OF_ANOTHER, TOKEN_REVOKED } from '../errors.ts';
import * as change from './atomicChanges.ts';
import { decodeCharacter, decodeGround, decodeUniqueItem, encodeCharacter, encodeEntry, encodeEquipped, encodeGround, encodeUniqueItem } from './codec.ts';
import { toPlayerRead, type PlayerRead } from './playerRead.ts';
import { DirtySync, SYNC_BATCH_PLAYERS, type ForcedSaveReport, type SyncReport } from './dirtySync.ts';

export interface GroundRead {
  item: GroundItem;
  raw: string;
}

export interface PlayerSummary {
  id: number;
  name: string;
  connected: boolean;
}

/** The acting player with the wear of the unique items they carry or wear. */
export interface BelongingsRead {
  player: PlayerRead;
  uniques: Map<string, UniqueItem>;
}

/** The acting player with what a look shows: who else is here, the ground and their cooldowns. */
export interface SurroundingsRead {
  player: PlayerRead;
  players: PlayerSummary[];
  ground: Map<string, GroundRead>;
  cooldowns: Record<string, string>;
}

export interface Session {
  workerId: string;
  sessionId: string;
}

/** Whether a named change went through, or which of its guards failed. */
export type ChangeResult = { ok: true } | { ok: false; failed: number };

export class GameStateManager {
  private readonly sync: DirtySync;

  constructor(
    private readonly hot: HotStore,
    private readonly durable: DurableStore,
    private readonly catalog: Catalog,
    private readonly now: () => number = Date.now,
    /** Told of each transaction of forced saves (disconnects, evictions, dead workers), e.g. for metrics. */
    onForcedSave?: (report: ForcedSaveReport) => void,
    /** How long a session token lives (CINDER_TOKEN_TTL_SECONDS): a revocation need not be kept longer. */
    private readonly tokenTtlMs = DEFAULT_TOKEN_TTL_MS,
    /** Players per transaction of a batch sync (tests make it small to see a sync written in parts). */
    syncBatchPlayers = SYNC_BATCH_PLAYERS,
  ) {
    this.sync = new DirtySync(hot, durable, onForcedSave, syncBatchPlayers);
  }

  // ── accounts: immediate durable writes ──────────────────────────────────────────

  createAccount(username: string, passwordHash: string, character: NewCharacter, kit: StartingKit): Promise<AccountRecord> {
    return this.durable.createAccount(username, passwordHash, character, kit);
  }

  findAccount(username: string): Promise<AccountRecord | null> {
    return this.durable.findAccount(username);
  }

  /**
   * Writes the new hash and starts a new token generation, then refuses older tokens in the hot
   * store, where connections check them. Answers the new generation, or null when the account's
   * password is no longer the one `account` was read with, or it was banned since (nothing written).
   */
  async changePassword(account: AccountRecord, passwordHash: string): Promise<number | null> {
    const generation = await this.durable.changePassword(account.id, account.passwordHash, passwordHash);
    if (generation !== null) await this.raiseTokenFloorAfterWrite(account.characterId, generation);
    return generation;
  }

  /** Bans (refusing every token issued so far) or lifts a ban. Null when no account has that name. */
  async setBanned(username: string, banned: boolean): Promise<AccountRecord | null> {
    const account = await this.durable.setBanned(username, banned);
    if (account && banned) await this.raiseTokenFloorAfterWrite(account.characterId, account.tokenGeneration);
    return account;
  }

  /**
   * Deletes the account and its character from the durable store (only if `provenHash` is still
   * its hash and it is not banned; null: an operator's deletion), then refuses every token of it.
   * The character's hot state is removed separately (removeCharacter), once their session was told.
   * Null when nothing was deleted.
   */
  async deleteAccount(username: string, provenHash: string | null): Promise<AccountRecord | null> {
    const account = await this.durable.deleteAccount(username, provenHash);
    if (account) await this.raiseTokenFloorAfterWrite(account.characterId, DELETED_GENERATION);
    return account;
  }

  /**
   * Takes a deleted character out of the hot store: their keys, the unique items they hold, their
   * place in their location, presence and the dirty sets (a batch already reading them writes
   * nothing: the durable store has no row left to update). Whatever session holds them then finds
   * no character; their changes in flight fail their guards. Null when they were not in the world.
   */
  async removeCharacter(characterId: number): Promise<{ name: string; locationId: string } | null> {
    const id = String(characterId);
    const playerKey = keys.player(characterId);
    for (let attempt = 0; attempt < ENTER_ATTEMPTS; attempt++) {
      const player = await this.readPlayer(characterId);
      if (!player) return null;
      const { fields } = player;
      const result = await this.hot.transact({
        // What was read is what is removed: a move, a new session or a change since reads again.
        expect: ['location_id', 'version', 'worker_id', 'session_id'].map((field) => ({ key: playerKey, field, value: fields[field] ?? null })),
        srem: [
          { key: keys.locationPlayers(player.character.locationId), member: id },
          { key: keys.presenceOnline(), member: id },
          { key: keys.presenceLingering(), member: id },
          ...(fields.worker_id ? [{ key: keys.workerPlayers(fields.worker_id), member: id }] : []),
          ...PLAYER_DIRTY_KINDS.map((kind) => ({ key: keys.dirty(kind), member: id })),
        ],
        del: [playerKey, keys.inventory(characterId), keys.equipment(characterId), keys.cooldowns(characterId), ...uniqueIdsOf(player).map(keys.uniqueItem)],
      });
      if (result.ok) return { name: player.character.name, locationId: player.character.locationId };
    }
    throw new GameError('E_CONFLICT', 'The character kept changing while being removed; try again.');
  }

  /**
   * The lowest token generation the character's account accepts, as far as the hot store knows:
   * kept both in a key of its own, set whether or not the character is in the world, and in the
   * character's hash, which lasts as long as they are (and so outlives a lost or evicted key).
   */
  async tokenFloor(characterId: number): Promise<number> {
    const [floor, field] = await Promise.all([
      this.hot.readCounter(keys.tokenFloor(characterId)),
      this.hot.hget(keys.player(characterId), TOKEN_FLOOR),
    ]);
    return Math.max(floor, Number(field ?? 0));
  }

  /**
   * The durable store has the new generation, so the change is made: a floor the hot store
   * refuses now (e.g. out of memory) is raised in the background until it holds, and the caller
   * goes on (its sign-out notice still ends the open session). Until then an older token could
   * connect again.
   */
  private async raiseTokenFloorAfterWrite(characterId: number, generation: number): Promise<void> {
    await this.raiseTokenFloor(characterId, generation).catch(() => {
      this.retryTokenFloor(characterId, generation, 1);
    });
  }

  private retryTokenFloor(characterId: number, generation: number, attempt: number): void {
    setTimeout(() => {
      this.raiseTokenFloor(characterId, generation).catch(() => {
        this.retryTokenFloor(characterId, generation, attempt + 1);
      });
    }, Math.min(FLOOR_RETRY_MS * attempt, FLOOR_RETRY_MAX_MS)).unref();
  }

  private async raiseTokenFloor(characterId: number, generation: number): Promise<void> {
    if (generation <= 0) return;
    await this.hot.raiseCounter(keys.tokenFloor(characterId), generation, this.tokenTtlMs + TOKEN_FLOOR_MARGIN_MS);
    // Never lowered: of two raises racing, the higher stays.
    const playerKey = keys.player(characterId);
    for (let attempt = 0; attempt < ENTER_ATTEMPTS; attempt++) {
      const fields = await this.hot.hgetall(playerKey);
      // Not in the world: a load takes the generation from the durable store.
      if (fields.name === undefined || Number(fields[TOKEN_FLOOR] ?? 0) >= generation) return;
      const raised = await this.hot.transact({
        expect: [
          { key: playerKey, field: 'name', value: fields.name },
          { key: playerKey, field: TOKEN_FLOOR, value: fields[TOKEN_FLOOR] ?? null },
        ],
        hset: [{ key: playerKey, field: TOKEN_FLOOR, value: String(generation) }],
      });
      if (raised.ok) return;
    }
  }

  /**
   * Counts one attempt now, to be given back later if it turns out not to count (e.g. it proved
   * the password). Counted before the attempt is made, not after: of many made at once, only as
   * many as the limit allows see a count within it.
   */
  async reserveAttempt(scope: string, subject: string, windowMs: number): Promise<{ count: number; giveBack: () => Promise<void> }> {
    // The window of the count: given back to the same one, even if the next has begun meanwhile.
    const key = keys.rateLimit(scope, subject, Math.floor(this.now() / windowMs));
    const count = await this.hot.incrWindow(key, windowMs);
    return {
      count,
      giveBack: async () => {
        await this.hot.incrWindow(key, windowMs, -1);
      },
    };
  }

  /** Counts one attempt in a fixed window shared by every worker; returns the count so far. */
  countAttempt(scope: string, subject: string, windowMs: number): Promise<number> {
    const window = Math.floor(this.now() / windowMs);
    return this.hot.incrWindow(keys.rateLimit(scope, subject, window), windowMs);
  }

  // ── the world ─────────────────────────────────────────────────────────────────

  /**
   * Puts the durable ground items, and each location's ground version, into the hot store once per
   * hot store's life. One worker loads: it claims the load (a claim that outlives a worker that
   * died loading is taken over), writes in chunks each guarded by its claim, and sets the flag
   * last. The others change nothing, so a load can never land after play began and put back what a
   * player had already picked up; a worker that finds the load claimed goes on without waiting.
   */
  async loadWorld(): Promise<number> {
    const world = keys.world();
    const meta = await this.hot.hgetall(world);
    if (meta.ground_loaded !== undefined) {
      // Loaded by a version that did not set the field ground changes are guarded by.
      if (meta[GROUND_READY] === undefined) await this.hot.hset(world, { [GROUND_READY]: '1' });
      return 0;
    }
    if (meta.loading !== undefined && Number(meta.loading_until) > this.now()) return 0;
    const token = randomUUID();
    const claimed = await this.hot.transact({
      expect: [
        { key: world, field: 'ground_loaded', value: null },
        { key: world, field: 'loading', value: meta.loading ?? null },
        { key: world, field: 'loading_until', value: meta.loading_until ?? null },
      ],
      hset: [
        { key: world, field: 'loading', value: token },
        { key: world, field: 'loading_until', value: String(this.now() + LOAD_CLAIM_MS) },
      ],
    });
    if (!claimed.ok) return 0;
    const ours = { key: world, field: 'loading', value: token };
    let ground: GroundSnapshot;
    try {
      ground = await this.durable.loadGround();
    } catch (error) {
      // Given up at once, so that the next sync tries again instead of waiting out the claim.
      await this.hot.transact({ expect: [ours], hdel: [{ key: world, field: 'loading' }, { key: world, field: 'loading_until' }] }).catch(() => undefined);
      throw error;
    }
    const { items, uniqueItems, versions } = ground;
    const fields: { key: string; field: string; value: string }[] = [];
    for (const unique of uniqueItems) {
      for (const [field, value] of Object.entries(encodeUniqueItem(unique))) fields.push({ key: keys.uniqueItem(unique.id), field, value });
    }
    for (const item of items) fields.push({ key: keys.ground(item.locationId), field: item.id, value: encodeGround(item) });
    for (const { locationId, version } of versions) fields.push({ key: keys.groundVersion(locationId), field: 'version', value: String(version) });
    // Chunks keep each script short: Redis serves no one else while one runs.
    for (let first = 0; first < fields.length; first += LOAD_CHUNK) {
      const written = await this.hot.transact({ expect: [ours], hset: fields.slice(first, first + LOAD_CHUNK) });
      if (!written.ok) return 0;
    }
    const done = await this.hot.transact({
      expect: [ours],
      hset: [
        { key: world, field: 'ground_loaded', value: String(this.now()) },
        { key: world, field: GROUND_READY, value: '1' },
      ],
      // What was to despawn still is: the job finds it again.
      sadd: [...new Set(items.filter((item) => item.despawnAt !== null).map((item) => item.locationId))].map((locationId) => ({
        key: keys.despawning(),
        member: locationId,
      })),
      hdel: [
        { key: world, field: 'loading' },
        { key: world, field: 'loading_until' },
      ],
    });
    return done.ok ? items.length : 0;
  }

  // ── presence ──────────────────────────────────────────────────────────────────

  /**
   * Brings a character into the hot store if needed and marks this session as theirs.
   * `lingering` tells whether they were already in the world (disconnected or on another session).
   *
   * The session is taken in one transaction guarded by the name and place just read: an eviction
   * that deletes the character in between fails it (and the character is loaded again), rather
   * than leaving a nameless hash that every later connect would mistake for a character in play.
   *
   * Each session taken gets a higher `epoch` than the character's last (guarded too): of two
   * connects at once, the one with the higher epoch owns the character, whatever order the
   * workers hear of them.
   *
   * `tokenGeneration` is that of the session's token: a character loaded from the durable store is
   * refused to an older token there, and brings their account's generation back into the hot store
   * (which may have lost it) for the checks of tokenFloor.
   */
  async enterWorld(
    characterId: number,
    session: Session,
    tokenGeneration = 0,
    /** The character name the token was issued for, when it is checked. */
    tokenName?: string,
  ): Promise<{ player: PlayerRead; lingering: boolean; epoch: number }> {
    const id = String(characterId);
    const playerKey = keys.player(characterId);
    // Ids are handed out again after the durable store is restored from a backup or wiped: a token
    // issued since for character N must not take whoever is character N now.
    const issuedFor = (name: string) => {
      if (tokenName !== undefined && name !== tokenName) throw new GameError('E_BAD_TOKEN', TOKEN_OF_ANOTHER);
    };
    for (let attempt = 0; attempt < ENTER_ATTEMPTS; attempt++) {
      let fields = await this.hot.hgetall(playerKey);
      let lingering = fields.name !== undefined;
      if (!lingering) {
        const snapshot = await this.durable.loadCharacter(characterId);
        if (!snapshot) throw new GameError('E_NOT_FOUND', 'That character does not exist.');
        issuedFor(snapshot.character.name);
        await this.raiseTokenFloor(characterId, snapshot.tokenGeneration);
        if (snapshot.tokenGeneration > tokenGeneration) throw new GameError('E_BAD_TOKEN', TOKEN_REVOKED);
        lingering = !(await this.putSnapshot(snapshot));
        fields = await this.hot.hgetall(playerKey);
      }
      const { name, location_id: savedLocationId, session_epoch: previousEpoch } = fields;
      if (name === undefined || savedLocationId === undefined) continue;
      // Taken below only while the name is still this one (the transaction's guard).
      issuedFor(name);
      // From the clock, so that it keeps growing when the character was evicted and reloaded
      // (the stored epoch goes with the hash) while a stale socket of theirs is still open.
      const epoch = Math.max(Number(previousEpoch ?? 0) + 1, this.now());
      // A place the world no longer has (its content changed since) sends the character to the start.
      const moved = !this.catalog.locations.has(savedLocationId);
      const locationId = moved ? this.catalog.rules.startLocation : savedLocationId;
      const taken = await this.hot.transact({
        expect: [
          { key: playerKey, field: 'name', value: name },
          { key: playerKey, field: 'location_id', value: savedLocationId },
          { key: playerKey, field: 'session_epoch', value: previousEpoch ?? null },
        ],
        hset: [
          ...(moved ? [{ key: playerKey, field: 'location_id', value: locationId }] : []),
          { key: playerKey, field: 'session_epoch', value: String(epoch) },
          { key: playerKey, field: 'connected', value: '1' },
          { key: playerKey, field: 'worker_id', value: session.workerId },
          { key: playerKey, field: 'session_id', value: session.sessionId },
          { key: playerKey, field: 'last_seen', value: String(this.now()) },
          { key: playerKey, field: 'disconnected_at', value: '' },
        ],
        sadd: [
          { key: keys.locationPlayers(locationId), member: id },
          { key: keys.presenceOnline(), member: id },
          { key: keys.workerPlayers(session.workerId), member: id },
          // Saved with its new version (below), as every change of it is.
          { key: keys.dirty('position'), member: id },
        ],
        srem: [
          { key: keys.presenceLingering(), member: id },
          ...(moved ? [{ key: keys.locationPlayers(savedLocationId), member: id }] : []),
        ],
        // A new version: a change another session planned from an earlier read fails its guard,
        // and its retry finds the character taken (see ActionSession).
        hincrby: [{ key: playerKey, field: 'version', by: 1 }],
      });
      if (!taken.ok) continue;
      const player = await this.readPlayer(characterId);
      if (player) return { player, lingering, epoch };
    }
    throw new GameError('E_CONFLICT', 'The character left the world while connecting; try again.');
  }

  /** Writes a loaded snapshot unless another worker did it first; true when this call wrote it. */
  private async putSnapshot(snapshot: StoredCharacter): Promise<boolean> {
    const { character } = snapshot;
    const id = character.id;
    const tx: HotTransaction = {
      expect: [{ key: keys.player(id), field: 'name', value: null }],
      hset: [
        ...Object.entries(encodeCharacter(character)).map(([field, value]) => ({ key: keys.player(id), field, value })),
        { key: keys.player(id), field: TOKEN_FLOOR, value: String(snapshot.tokenGeneration) },
        ...[...snapshot.inventory].map(([slot, entry]) => ({ key: keys.inventory(id), field: String(slot), value: encodeEntry(entry) })),
        ...[...snapshot.equipment].map(([slot, item]) => ({ key: keys.equipment(id), field: slot, value: encodeEquipped(item) })),
        ...snapshot.uniqueItems.flatMap((unique) =>
          Object.entries(encodeUniqueItem(unique)).map(([field, value]) => ({ key: keys.uniqueItem(unique.id), field, value })),
        ),
      ],
    };
    return (await this.hot.transact(tx)).ok;
  }

  /** Marks the character disconnected if `session` still owns them, then saves them at once. */
  async leaveWorld(characterId: number, session: Session): Promise<boolean> {
    const left = await this.markDisconnected(characterId, session);
    if (left) await this.syncPlayer(characterId);
    return left;
  }

  /**
   * Marks the character disconnected if `session` still owns them, and dirty, so that the batch
   * sync writes them even if the forced save that should follow fails.
   */
  async markDisconnected(characterId: number, session: Session): Promise<boolean> {
    const id = String(characterId);
    const result = await this.hot.transact({
      expect: [{ key: keys.player(characterId), field: 'session_id', value: session.sessionId }],
      hset: [
        { key: keys.player(characterId), field: 'connected', value: '0' },
        { key: keys.player(characterId), field: 'disconnected_at', value: String(this.now()) },
        { key: keys.player(characterId), field: 'session_id', value: '' },
      ],
      // Inside the guard: a late leave of a replaced session must not unlist the new one, or a
      // crash of this worker would leave the player online for good (releaseDeadWorker reads it).
      srem: [
        { key: keys.presenceOnline(), member: id },
        { key: keys.workerPlayers(session.workerId), member: id },
      ],
      sadd: [
        { key: keys.presenceLingering(), member: id },
        { key: keys.dirty('position'), member: id },
        { key: keys.dirty('inventory'), member: id },
        { key: keys.dirty('equipment'), member: id },
      ],
    });
    return result.ok;
  }

  // ── workers ───────────────────────────────────────────────────────────────────

  /** Resolves when the hot store answers; rejects with its error when it cannot be reached. */
  pingHotStore(): Promise<void> {
    return this.hot.ping();
  }

  /**
   * Registers or refreshes a worker; its heartbeat key expires `ttlMs` after the last refresh.
   * False when this beat registered it: its first, or one after other workers released it as dead.
   */
  async heartbeat(workerId: string, info: Readonly<Record<string, string>>, ttlMs: number): Promise<boolean> {
    // The key before the listing: a dead-worker run that finds this worker listed as releasing
    // must also find it alive.
    await this.hot.hsetExpiring(keys.worker(workerId), { ...info, heartbeat_at: String(this.now()) }, ttlMs);
    const added = await this.hot.sadd(keys.workers(), [workerId]);
    // Back after being taken for dead: its release, if unfinished, must not go on to the sessions
    // it takes from now, and its old suspicion must not cut the grace it gets should it stop again.
    if (added > 0) {
      await this.hot.transact({ expect: [], hincrby: [{ key: keys.workerRegistrations(), field: workerId, by: 1 }] });
      await this.hot.srem(keys.workersReleasing(), [workerId]);
      await this.hot.hdel(keys.workersSuspected(), [workerId]);
    }
    return added === 0;
  }

  /** Ends this worker's heartbeat at once (at shutdown): other workers see it gone from now on. */
  async stopHeartbeat(workerId: string): Promise<void> {
    await this.hot.del([keys.worker(workerId)]);
  }

  async deregisterWorker(workerId: string): Promise<void> {
    await this.hot.del([keys.worker(workerId), keys.workerPlayers(workerId)]);
    await this.hot.hdel(keys.workersSuspected(), [workerId]);
    await this.hot.hdel(keys.workerRegistrations(), [workerId]);
    await this.hot.srem(keys.workers(), [workerId]);
    await this.hot.srem(keys.workersReleasing(), [workerId]);
  }

  /**
   * Registered workers (other than `self`) whose heartbeat key has been missing for at least
   * `graceMs`. The grace matters after a Redis outage longer than the heartbeat TTL: every
   * key expired, and live workers need a beat or two to put theirs back. Also the workers whose
   * release was left unfinished, unless they have come back since.
   */
  async deadWorkers(self: string, graceMs: number): Promise<string[]> {
    const now = this.now();
    const suspected = await this.hot.hgetall(keys.workersSuspected());
    const dead: string[] = [];
    for (const workerId of await this.hot.smembers(keys.workers())) {
      if (workerId === self) continue;
      const since = suspected[workerId];
      if (await this.hot.exists(keys.worker(workerId))) {
        if (since !== undefined) await this.hot.hdel(keys.workersSuspected(), [workerId]);
      } else if (since === undefined) {
        await this.hot.hset(keys.workersSuspected(), { [workerId]: String(now) });
      } else if (now - Number(since) >= graceMs) {
        dead.push(workerId);
      }
    }
    for (const workerId of await this.hot.smembers(keys.workersReleasing())) {
      if (workerId === self || dead.includes(workerId)) continue;
      if (await this.hot.exists(keys.worker(workerId))) await this.hot.srem(keys.workersReleasing(), [workerId]);
      else dead.push(workerId);
    }
    return dead;
  }

  /**
   * Marks the characters a dead worker held as disconnected (unless they already connected
   * elsewhere), syncs them, and forgets the worker. Returns who was released.
   */
  async releaseDeadWorker(
    workerId: string,
    /**
     * Told of each player as soon as they are released, before they are saved: the next run skips
     * them (no longer connected), so what it is told must not wait on saves that may fail.
     */
    onReleased: (player: { id: number; name: string; locationId: string }) => void = () => undefined,
  ): Promise<{ id: number; name: string; locationId: string }[]> {
    // Unlisted first: should the worker resume meanwhile, its next heartbeat finds itself gone and
    // closes the sessions released so far (and deregisterWorker unlists it again at the end).
    // Listed as releasing meanwhile, so that a release cut short is taken up again by the next run.
    const registrations = await this.hot.hget(keys.workerRegistrations(), workerId);
    await this.hot.transact({
      expect: [],
      srem: [{ key: keys.workers(), member: workerId }],
      sadd: [{ key: keys.workersReleasing(), member: workerId }],
    });
    const released: { id: number; name: string; locationId: string }[] = [];
    // The saves go on while the next players are released: they share batches (see syncPlayer).
    const saves: Promise<void>[] = [];
    await settled(saves, async () => {
      for (const id of (await this.hot.smembers(keys.workerPlayers(workerId))).map(Number)) {
        const result = await this.hot.transact({
          expect: [
            { key: keys.player(id), field: 'worker_id', value: workerId },
            { key: keys.player(id), field: 'connected', value: '1' },
            // The worker has not come back (see forgetDeadWorker): a live worker's sessions stay.
            { key: keys.worker(workerId), field: 'heartbeat_at', value: null },
            { key: keys.workerRegistrations(), field: workerId, value: registrations },
          ],
          hset: [
            { key: keys.player(id), field: 'connected', value: '0' },
            { key: keys.player(id), field: 'disconnected_at', value: String(this.now()) },
            { key: keys.player(id), field: 'session_id', value: '' },
          ],
          srem: [{ key: keys.presenceOnline(), member: String(id) }],
          // Marked dirty so that a failed forced sync below is still written by the next batch.
          sadd: [
            { key: keys.presenceLingering(), member: String(id) },
            { key: keys.dirty('position'), member: String(id) },
          ],
          // A new version: a change the stalled worker had under way fails its guard, and its
          // retry finds the character released (see ActionSession).
          hincrby: [{ key: keys.player(id), field: 'version', by: 1 }],
        });
        if (!result.ok && result.failed >= 2) break; // back: what it holds now is its own
        if (!result.ok) continue;
        const player = await this.readPlayer(id);
        // Not told when a new session took the character since: it announced itself connected.
        if (player && !player.fields.session_id) {
          const one = { id, name: player.character.name, locationId: player.character.locationId };
          released.push(one);
          onReleased(one);
        }
        saves.push(this.syncPlayer(id));
      }
    });
    await this.forgetDeadWorker(workerId, registrations);
    return released;
  }

  /**
   * The end of a release: the worker's listing and player set go, unless it came back meanwhile
   * (its beat wrote its key again, or registered it again: it may have stalled once more since).
   * Then the set holds the sessions it took since, which a later release must find should it die
   * for good.
   */
  private async forgetDeadWorker(workerId: string, registrations: string | null): Promise<void> {
    await this.hot.transact({
      expect: [
        { key: keys.worker(workerId), field: 'heartbeat_at', value: null },
        { key: keys.workerRegistrations(), field: workerId, value: registrations },
      ],
      hdel: [
        { key: keys.workersSuspected(), field: workerId },
        { key: keys.workerRegistrations(), field: workerId },
      ],
      srem: [
        { key: keys.workers(), member: workerId },
        { key: keys.workersReleasing(), member: workerId },
      ],
      del: [keys.workerPlayers(workerId)],
    });
  }

  /** The epoch of the character's newest session (see enterWorld), 0 when none was taken. */
  async sessionEpoch(characterId: number): Promise<number> {
    return Number((await this.hot.hget(keys.player(characterId), 'session_epoch')) ?? 0);
  }

  /** Each character's current session id (absent: not in the world, or no session). */
  async sessionsOf(characterIds: readonly number[]): Promise<Map<number, string>> {
    const hashes = await this.hot.hgetallMany(characterIds.map((id) => keys.player(id)));
    const sessions = new Map<number, string>();
    characterIds.forEach((id, index) => {
      const session = hashes[index]?.session_id;
      if (session) sessions.set(id, session);
    });
    return sessions;
  }

  /**
   * For each character, in one read: the session holding them (null when none) and the token
   * generation their account accepts, as kept in their hash (see tokenFloor).
   */
  async sessionStandings(characterIds: readonly number[]): Promise<{ sessionId: string | null; tokenFloor: number }[]> {
    const hashes = await this.hot.hgetallMany(characterIds.map((id) => keys.player(id)));
    return hashes.map((hash) => ({ sessionId: hash.session_id || null, tokenFloor: Number(hash[TOKEN_FLOOR] ?? 0) }));
  }

  async sessionOf(characterId: number): Promise<string | null> {
    return (await this.hot.hget(keys.player(characterId), 'session_id')) || null;
  }

  /**
   * Removes characters disconnected for longer than `lingerMs` from the world, after syncing
   * them. A character who reconnects meanwhile is left alone (the guard on `connected`).
   */
  async evictLingering(lingerMs: number): Promise<{ id: number; name: string; locationId: string }[]> {
    const ids = (await this.hot.smembers(keys.presenceLingering())).map(Number);
    const hashes = await this.hot.hgetallMany(ids.map((id) => keys.player(id)));
    const due: { id: number; character: Character; disconnectedAt: string | undefined; version: string | null }[] = [];
    for (const [index, id] of ids.entries()) {
      const fields = hashes[index] ?? {};
      const character = decodeCharacter(id, fields);
      if (!character || fields.connected === '1') {
        // Gone already, or back: nothing to wait for. Guarded: one who left again since is listed anew.
        await this.hot.transact({
          expect: [character ? { key: keys.player(id), field: 'connected', value: '1' } : { key: keys.player(id), field: 'name', value: null }],
          srem: [{ key: keys.presenceLingering(), member: String(id) }],
        });
        continue;
      }
      const since = Number(fields.disconnected_at);
      if (since && since + lingerMs <= this.now()) due.push({ id, character, disconnectedAt: fields.disconnected_at, version: fields.version ?? null });
    }
    // Saved first, together; only then removed (a failed save removes no one).
    await settled(due.map(({ id }) => this.syncPlayer(id)));
    const evicted: { id: number; name: string; locationId: string }[] = [];
    for (const { id, character, disconnectedAt, version } of due) {
      const player = await this.readPlayer(id);
      const uniqueIds = player ? uniqueIdsOf(player) : [];
      const result = await this.hot.transact({
        expect: [
          { key: keys.player(id), field: 'connected', value: '0' },
          { key: keys.player(id), field: 'disconnected_at', value: disconnectedAt ?? null },
          // Nothing changed since the save above read them (a late action of a closed socket):
          // else that change would go unsaved. They go at the next run, after its save.
          { key: keys.player(id), field: 'version', value: version },
        ],
        srem: [
          { key: keys.locationPlayers(character.locationId), member: String(id) },
          { key: keys.presenceLingering(), member: String(id) },
        ],
        del: [keys.player(id), keys.inventory(id), keys.equipment(id), keys.cooldowns(id), ...uniqueIds.map(keys.uniqueItem)],
      });
      if (result.ok) evicted.push({ id, name: character.name, locationId: character.locationId });
    }
    return evicted;
  }

  // ── reads ─────────────────────────────────────────────────────────────────────

  async readPlayer(characterId: number): Promise<PlayerRead | null> {
    const [fields, inventory, equipment] = await this.hot.hgetallMany([
      keys.player(characterId),
      keys.inventory(characterId),
      keys.equipment(characterId),
    ]);
    return toPlayerRead(characterId, fields ?? {}, inventory ?? {}, equipment ?? {});
  }

  /** The character alone (no inventory or equipment): what a chat line needs. */
  async readCharacter(characterId: number): Promise<Character | null> {
    return decodeCharacter(characterId, await this.hot.hgetall(keys.player(characterId)));
  }

  /** The player and their unique items' wear, in one round trip. */
  async readBelongings(characterId: number): Promise<BelongingsRead | null> {
    const view = await this.hot.readView({
      hashes: [keys.player(characterId), keys.inventory(characterId), keys.equipment(characterId)],
      refs: UNIQUE_ITEMS_CARRIED,
    });
    const [fields = {}, inventory = {}, equipment = {}] = view.hashes;
    const player = toPlayerRead(characterId, fields, inventory, equipment);
    if (!player) return null;
    const uniques = new Map<string, UniqueItem>();
    for (const [id, hash] of view.refs) {
      const item = decodeUniqueItem(id, hash);
      if (item) uniques.set(id, item);
    }
    return { player, uniques };
  }

  /** The player and their location as they see it, in one round trip. */
  async readSurroundings(characterId: number): Promise<SurroundingsRead | null> {
    const view = await this.hot.readView({
      hashes: [keys.player(characterId), keys.inventory(characterId), keys.equipment(characterId), keys.cooldowns(characterId)],
      place: PLAYER_LOCATION,
    });
    const [fields = {}, inventory = {}, equipment = {}, cooldowns = {}] = view.hashes;
    const player = toPlayerRead(characterId, fields, inventory, equipment);
    if (!player || !view.place) return null;
    const players = view.place.members
      .flatMap(({ member, fields: [name, connected] }) =>
        name == null ? [] : [{ id: Number(member), name, connected: connected === '1' }],
      )
      .sort((a, b) => a.id - b.id);
    return { player, players, ground: groundReads(view.place.hashes[0] ?? {}), cooldowns };
  }

  async playersIn(locationId: string): Promise<PlayerSummary[]> {
    const ids = (await this.hot.smembers(keys.locationPlayers(locationId))).map(Number).sort((a, b) => a - b);
    const hashes = await this.hot.hgetallMany(ids.map((id) => keys.player(id)));
    return ids.flatMap((id, index) => {
      const fields = hashes[index] ?? {};
      return fields.name === undefined ? [] : [{ id, name: fields.name, connected: fields.connected === '1' }];
    });
  }

  async groundAt(locationId: string): Promise<Map<string, GroundRead>> {
    return groundReads(await this.hot.hgetall(keys.ground(locationId)));
  }

  // ── despawn ───────────────────────────────────────────────────────────────────

  /** Locations whose ground holds items with a despawn time. */
  despawningLocations(): Promise<string[]> {
    return this.hot.smembers(keys.despawning());
  }

  /**
   * Takes the items of a location whose despawn time is at or before `now` off its ground, and
   * answers them; null when one of them, or the ground it would unlist, changed while read (the
   * next run tries again).
   */
  async despawnExpired(locationId: string, now: number): Promise<GroundItem[] | null> {
    // The version first: a change after it, and before the items are read, keeps the location listed.
    const version = await this.hot.hget(keys.groundVersion(locationId), 'version');
    const reads = [...(await this.groundAt(locationId)).values()];
    const expired = reads.filter(({ item }) => item.despawnAt !== null && item.despawnAt <= now);
    const stillListed = reads.some(({ item }) => item.despawnAt !== null && item.despawnAt > now);
    if (expired.length === 0 && stillListed) return [];
    let result = await this.changeGround(change.despawnGroundItems(locationId, version, expired, stillListed));
    // Only the unlisting's guard failed (the ground changed while read): the items go anyway, and
    // the next run, reading the ground again, unlists the location.
    if (!result.ok && !stillListed && result.failed === expired.length) {
      result = await this.changeGround(change.despawnGroundItems(locationId, version, expired, true));
    }
    return result.ok ? expired.map(({ item }) => item) : null;
  }

  /**
   * A despawned unique item leaves its row in the durable store (the sync writes what the hot
   * store holds and cannot tell a deleted item from one it did not read): the sweep deletes such
   * rows, in rounds of `perRound`, each its own short transaction. Answers how many.
   */
  async sweepUniqueItems(perRound = 1000): Promise<number> {
    let deleted = 0;
    let after: string | null = '';
    while (after !== null) {
      const round: { deleted: number; next: string | null } = await this.durable.deleteUnreferencedUniqueItems(perRound, after);
      deleted += round.deleted;
      after = round.next;
    }
    return deleted;
  }

  async uniqueItems(ids: readonly string[]): Promise<Map<string, UniqueItem>> {
    const hashes = await this.hot.hgetallMany(ids.map((id) => keys.uniqueItem(id)));
    const found = new Map<string, UniqueItem>();
    ids.forEach((id, index) => {
      const item = decodeUniqueItem(id, hashes[index] ?? {});
      if (item) found.set(id, item);
    });
    return found;
  }

  async cooldown(characterId: number, field: string): Promise<string | null> {
    return this.hot.hget(keys.cooldowns(characterId), field);
  }

  async cooldowns(characterId: number): Promise<Record<string, string>> {
    return this.hot.hgetall(keys.cooldowns(characterId));
  }

  // ── named atomic changes (see atomicChanges.ts) ──────────────────────────────

  moveCharacter(player: PlayerRead, to: string, vitals: change.Vitals, moveReadyAt: number): Promise<ChangeResult> {
    return this.hot.transact(change.moveCharacter(player, to, vitals, moveReadyAt));
  }

  pickupGroundItem(player: PlayerRead, ground: GroundRead, writes: ReadonlyMap<number, InventoryEntry | null>): Promise<ChangeResult> {
    return this.changeGround(change.pickupGroundItem(player, ground.item, ground.raw, writes));
  }

  /** Throws E_GROUND_FULL when the ground where the player stands holds as many items as the rules allow. */
  dropItem(player: PlayerRead, slot: number, remaining: InventoryEntry | null, dropped: GroundItem): Promise<ChangeResult> {
    return this.changeGround(change.dropItem(player, slot, remaining, dropped), player.character.locationId);
  }

  equipItem(player: PlayerRead, slot: number, equipSlot: EquipSlot, worn: EquippedItem, previous: EquippedItem | null, vitals: change.Vitals): Promise<ChangeResult> {
    return this.hot.transact(change.equipItem(player, slot, equipSlot, worn, previous, vitals));
  }

  unequipItem(player: PlayerRead, equipSlot: EquipSlot, slot: number, vitals: change.Vitals): Promise<ChangeResult> {
    return this.hot.transact(change.unequipItem(player, equipSlot, slot, vitals));
  }

  consumeItem(player: PlayerRead, slot: number, remaining: InventoryEntry | null, vitals: change.Vitals): Promise<ChangeResult> {
    return this.hot.transact(change.consumeItem(player, slot, remaining, vitals));
  }

  takeLoot(
    player: PlayerRead,
    cooldown: { field: string; raw: string | null; readyAt: number },
    vitals: change.Vitals,
    writes: ReadonlyMap<number, InventoryEntry | null>,
    spilled: readonly GroundItem[],
    created: readonly UniqueItem[],
  ): Promise<ChangeResult> {
    const loot = change.takeLoot(player, cooldown, vitals, writes, spilled, created);
    return spilled.length > 0 ? this.changeGround(loot, player.character.locationId) : this.hot.transact(loot);
  }

  /**
   * A change of a location's ground, made only once the durable ground is loaded into the hot
   * store (see loadWorld): a change before would be overwritten by the load (an item picked up
   * lying there again), and a sync of a ground half loaded would delete the rest from the durable
   * store. Until then it answers E_DEGRADED, once it has tried the load itself (the hot store lost
   * its data, and no sync has loaded it yet; a load another worker has under way is left to it).
   *
   * A change that adds to the ground of `filling` needs room there: fewer items than the rules'
   * groundItemsPerLocation (a search's spill may take it past, by what that search found). Every
   * look reads the whole ground, so a player dropping one unit at a time must not make it huge.
   */
  private async changeGround(tx: HotTransaction, filling?: string): Promise<ChangeResult> {
    const guard = tx.expect.length;
    const room = filling === undefined ? [] : [{ key: keys.ground(filling), below: this.catalog.rules.groundItemsPerLocation }];
    const result = await this.hot.transact({ ...tx, expect: [...tx.expect, { key: keys.world(), field: GROUND_READY, value: '1' }], room });
    if (result.ok || result.failed < guard) return result;
    if (result.failed > guard) throw new GameError('E_GROUND_FULL');
    return this.groundStillLoading();
  }

  /**
   * Throws E_DEGRADED (after asking for the load) when the hot store's ground is not loaded: an
   * item looked for there and not found may be one still to come back (Redis restarted empty).
   */
  async requireGroundLoaded(): Promise<void> {
    if ((await this.hot.hget(keys.world(), GROUND_READY)) !== '1') await this.groundStillLoading();
  }

  private async groundStillLoading(): Promise<never> {
    await this.loadWorld().catch(() => undefined);
    throw new GameError('E_DEGRADED', 'The world is still loading; try again in a moment.');
  }

  // ── durability ────────────────────────────────────────────────────────────────

  /**
   * Batch sync of everything marked dirty (DESIGN.md §5). A hot store that lost its data (Redis
   * restarted empty) first gets the durable ground and its versions back, as at start-up: else
   * new drops there would count versions from 0 and the durable store would refuse them.
   */
  async syncDirty(): Promise<SyncReport> {
    await this.loadWorld();
    return this.sync.syncDirty();
  }

  /** How many players, ground locations, … have changes the durable store has not seen, by dirty set. */
  unsynced(): Promise<Record<DirtyKind, number>> {
    return this.sync.unsynced();
  }

  /** Forced sync of one character (disconnect, eviction). */
  syncPlayer(characterId: number): Promise<void> {
    return this.sync.syncPlayer(characterId);
  }
}

/**
 * Runs `work` (which may add to `pending`), then waits for every pending promise, so that none is
 * left rejecting unheard; throws the first error, of the work or of a pending promise.
 */
async function settled(pending: Promise<unknown>[], work: () => Promise<void> = () => Promise.resolve()): Promise<void> {
  let failure: { error: unknown } | undefined;
  try {
    await work();
  } catch (error) {
    failure = { error };
  }
  for (const result of await Promise.allSettled(pending)) {
    if (result.status === 'rejected') failure ??= { error: result.reason };
  }
  if (failure) throw failure.error;
}

function groundReads(hash: Record<string, string>): Map<string, GroundRead> {
  return new Map(Object.entries(hash).map(([id, raw]) => [id, { item: decodeGround(id, raw), raw }]));
}

/** A key builder of keys.ts as the prefix and suffix around its argument, for readView. */
function keyPattern(build: (value: never) => string): KeyPattern {
  const marker = '\u0000';
  const [prefix = '', suffix = ''] = build(marker as never).split(marker);
  return { prefix, suffix };
}

/** Fields written by one script of loadWorld, and how long its claim lasts (a load takes seconds). */
const LOAD_CHUNK = 500;
const LOAD_CLAIM_MS = 120_000;

/** Tries of enterWorld: each lost only to an eviction, a move or another connect at that very moment. */
const ENTER_ATTEMPTS = 3;
/** The field of a character's hash holding their account's token generation (see tokenFloor). */
const TOKEN_FLOOR = 'token_floor';
/**
 * How long a token floor outlives the tokens it refuses: a login that proved the old password
 * just before a change issues its (already refused) token a moment after the floor was set.
 */
const TOKEN_FLOOR_MARGIN_MS = 5 * 60_000;
/** A floor the hot store refused is retried after 1 s, 2 s, … then every 10 s until it holds. */
const FLOOR_RETRY_MS = 1000;
const FLOOR_RETRY_MAX_MS = 10_000;
/** The floor a deleted account's tokens meet: above any generation an account can reach. */
export const DELETED_GENERATION = 2 ** 31 - 1;
const PLAYER_DIRTY_KINDS = ['position', 'inventory', 'equipment'] as const satisfies readonly DirtyKind[];
const DEFAULT_TOKEN_TTL_MS = 24 * 3600 * 1000;

/** readView shapes (constant, so that their encoding is reused): see readBelongings and readSurroundings. */
const UNIQUE_ITEMS_CARRIED: HotView['refs'] = { from: [1, 2], property: 'unique_item_id', hash: keyPattern(keys.uniqueItem) };
const PLAYER_LOCATION: HotView['place'] = {
  field: 'location_id',
  hashes: [keyPattern(keys.ground)],
  members: { set: keyPattern(keys.locationPlayers), hash: keyPattern(keys.player), fields: ['name', 'connected'] },
};

export function uniqueIdsOf(player: PlayerRead): string[] {
  return [...player.inventory.values(), ...player.equipment.values()].flatMap((item) =>
    item.uniqueItemId === undefined ? [] : [item.uniqueItemId],
  );
}
