// A worker killed with `kill -9` in the middle of play (DESIGN.md §8, docs/scaling.md "What happens
// when something fails"): its players reconnect to another worker and find their state as their
// last acknowledged reply showed it; those who do not reconnect are shown as disconnected and
// leave `presence:online` once the dead-worker job notices the missing heartbeat; and no action
// acknowledged with `ok` — on any worker — is missing from PostgreSQL after a final sync.
//
// The one action a player of the killed worker had in flight (sent, never answered) may or may
// not have been applied: the state found afterwards must be either the last acknowledged one or
// that one with the in-flight action applied, never anything else.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerPlayer } from '../support/accounts.ts';
import { GameClient, type ServerMessage } from '../support/GameClient.ts';
import { durableHoldings, durableItemUnits, uniquesTwice } from '../support/durableState.ts';
import { heldAfter, normalEquipment, normalInventory, slotView, until, wornView, type GroundSeen, type Held, type HeldReply } from '../support/heldState.ts';
import { adminPost, startScaledWorld, type ScaledWorld } from '../support/scaledWorld.ts';
import type { ServerProcess } from '../support/serverProcess.ts';
import { MARKET, MOVE_SPACING_MS, SQUARE, WAY } from '../support/twoLocations.ts';
import { seededRng } from '../../src/domain/rng.ts';

// ── the starting kit and the rules play meets ─────────────────────────────────────────────────

/** Stack sizes of the starting kit's items (content/ashlands/items.json); absent: not stackable. */
const MAX_STACK: Record<string, number> = { bandage: 20, 'canned-beans': 10 };
const KIT: Record<string, number> = { 'rusty-pipe': 1, bandage: 3, 'canned-beans': 2 };
const INVENTORY_SLOTS = 28;
/** Refusals that concurrent play legitimately produces; anything else fails the test. */
const EXPECTED_REFUSALS = new Set(['E_ITEM_GONE', 'E_TOO_HEAVY', 'E_INVENTORY_FULL']);

/** `held` with `entry` added as the server's planAdd places it: top up stacks, then the lowest free slots. */
function withAdded(held: Held, entry: { itemId: string; qty: number; uniqueItemId?: string }): Held {
  const inventory = held.inventory.map((slot) => ({ ...slot }));
  const maxStack = MAX_STACK[entry.itemId];
  let left = entry.qty;
  if (maxStack !== undefined) {
    for (const slot of inventory) {
      if (left === 0) break;
      if (slot.itemId !== entry.itemId || slot.qty >= maxStack) continue;
      const moved = Math.min(left, maxStack - slot.qty);
      slot.qty += moved;
      left -= moved;
    }
  }
  for (let index = 0; index < INVENTORY_SLOTS && left > 0; index++) {
    if (inventory.some((slot) => slot.slot === index)) continue;
    const placed = maxStack === undefined ? 1 : Math.min(left, maxStack);
    inventory.push(slotView({ slot: index, itemId: entry.itemId, qty: placed, uniqueItemId: entry.uniqueItemId }));
    left -= placed;
  }
  return { ...held, inventory: normalInventory(inventory) };
}

// ── a player who acts and keeps a log of what was acknowledged ─────────────────────────────────

interface Planned {
  type: string;
  data?: Record<string, unknown>;
  /** The state this action leaves when the server applies it. */
  predict: (held: Held) => Held;
}

interface Acked {
  type: string;
  data: Record<string, unknown> | undefined;
  seq: number | null;
  held: Held;
}

class Player {
  client!: GameClient;
  held: Held = { locationId: '', inventory: [], equipment: {} };
  /** What lies in the player's location, as the latest reply that showed it said. */
  ground: GroundSeen[] = [];
  /** Every action acknowledged with `ok`, with the state its reply showed. */
  readonly acked: Acked[] = [];
  readonly refusals: string[] = [];
  /**
   * Acknowledged actions whose reply did not show the state before them with the action applied:
   * with none, the log of acknowledged actions replayed from the join gives the state replies show.
   */
  readonly unreplayable: string[] = [];
  /** The action sent but not answered when the socket died, if any. */
  inFlight: (Planned & { before: Held }) | undefined;
  private lastMoveAt = -Infinity;
  private readonly random: () => number;

  constructor(
    readonly label: string,
    readonly id: number,
    readonly token: string,
    seed: number,
  ) {
    this.random = seededRng(seed);
  }

  static async register(label: string, worker: ServerProcess, seed: number): Promise<Player> {
    const { token, id } = await registerPlayer(worker.baseUrl);
    return new Player(label, id, token, seed);
  }

  /** Opens a socket to `worker`, authenticates and reads the inventory; returns the auth view. */
  async join(worker: ServerProcess): Promise<HeldReply> {
    this.client = await GameClient.connect(worker.wsUrl);
    const view = await this.client.ok<HeldReply>('auth', { token: this.token });
    this.absorb(view);
    this.absorb(await this.client.ok<HeldReply>('inventory'));
    return view;
  }

  /** Performs one action that must succeed, tracking its state like play() does. */
  async act(type: string, data?: Record<string, unknown>): Promise<HeldReply> {
    const reply = await this.attempt(type, data);
    if (reply.type !== 'ok') throw new Error(`${this.label}: ${type} was refused: ${JSON.stringify(reply.data)}`);
    return reply.data;
  }

  /** Performs one action that may be refused, tracking its state if it is not. */
  async attempt(type: string, data?: Record<string, unknown>): Promise<{ type: 'ok'; data: HeldReply } | { type: 'error'; data: { code: string } }> {
    const reply = await this.client.request<HeldReply>(type, data);
    if (reply.type !== 'ok') return { type: 'error', data: reply.data as unknown as { code: string } };
    this.absorb(reply.data);
    this.acked.push({ type, data, seq: reply.seq, held: this.held });
    if (type === 'move') this.lastMoveAt = performance.now();
    return { type: 'ok', data: reply.data };
  }

  /** Acts continuously, one action at a time, until `stop()` says so or the socket dies. */
  async play(stop: () => boolean): Promise<void> {
    while (!stop() && !this.socketClosed()) {
      const planned = this.choose();
      this.inFlight = { ...planned, before: this.held };
      let reply;
      try {
        reply = await this.client.request<HeldReply>(planned.type, planned.data);
      } catch (error) {
        if (this.socketClosed()) return; // the worker died under this action: it stays in flight
        throw error;
      }
      this.inFlight = undefined;
      if (reply.type === 'ok') {
        const replayed = planned.predict(this.held);
        this.absorb(reply.data);
        if (JSON.stringify(replayed) !== JSON.stringify(this.held)) {
          this.unreplayable.push(`${planned.type} ${JSON.stringify(planned.data)}: replayed ${JSON.stringify(replayed)}, replied ${JSON.stringify(this.held)}`);
        }
        this.acked.push({ type: planned.type, data: planned.data, seq: reply.seq, held: this.held });
        if (planned.type === 'move') this.lastMoveAt = performance.now();
      } else {
        const { code } = reply.data as unknown as { code: string };
        if (!EXPECTED_REFUSALS.has(code)) {
          throw new Error(`${this.label}: ${planned.type} ${JSON.stringify(planned.data)} refused with ${JSON.stringify(reply.data)}`);
        }
        this.refusals.push(code);
      }
    }
  }

  /** The states the player may be found in after losing its socket: last acknowledged, or with the in-flight action applied. */
  candidates(): Held[] {
    return this.inFlight ? [this.held, this.inFlight.predict(this.inFlight.before)] : [this.held];
  }

  private socketClosed(): boolean {
    return this.client.closed !== null;
  }

  absorb(data: HeldReply): void {
    this.held = heldAfter(this.held, data);
    const ground = data.location?.ground ?? data.ground;
    if (ground) this.ground = ground;
  }

  private pick<T>(values: readonly T[]): T | undefined {
    return values[Math.floor(this.random() * values.length)];
  }

  private choose(): Planned {
    const roll = this.random();
    const way = WAY[this.held.locationId];
    if (roll < 0.2 && way && performance.now() - this.lastMoveAt >= MOVE_SPACING_MS) {
      return { type: 'move', data: { direction: way.direction }, predict: (held) => ({ ...held, locationId: way.to }) };
    }
    const carried = this.pick(this.held.inventory);
    if (roll < 0.45 && carried) {
      return {
        type: 'drop',
        data: { slot: carried.slot, qty: 1 },
        predict: (held) => ({
          ...held,
          inventory: held.inventory.flatMap((slot) => (slot.slot !== carried.slot ? [slot] : slot.qty > 1 ? [{ ...slot, qty: slot.qty - 1 }] : [])),
        }),
      };
    }
    const lying = this.pick(this.ground.filter((item) => item.itemId in KIT));
    if (roll < 0.8 && lying) {
      return { type: 'pickup', data: { groundItemId: lying.id }, predict: (held) => withAdded(held, lying) };
    }
    const pipe = this.pick(this.held.inventory.filter((slot) => slot.itemId === 'rusty-pipe'));
    const wielded = this.held.equipment.mainHand;
    if (pipe && (!wielded || this.random() < 0.5)) {
      return {
        type: 'equip',
        data: { slot: pipe.slot },
        predict: (held) => {
          const previous = held.equipment.mainHand;
          const rest = held.inventory.filter((slot) => slot.slot !== pipe.slot);
          const back = previous ? [slotView({ slot: pipe.slot, itemId: previous.itemId, qty: 1, uniqueItemId: previous.uniqueItemId })] : [];
          return { ...held, inventory: normalInventory([...rest, ...back]), equipment: normalEquipment({ ...held.equipment, mainHand: wornView(pipe) }) };
        },
      };
    }
    if (wielded) {
      return {
        type: 'unequip',
        data: { slot: 'mainHand' },
        predict: (held) => {
          const { mainHand, ...rest } = held.equipment;
          return mainHand ? { ...withAdded({ ...held, equipment: rest }, { ...mainHand, qty: 1 }) } : held;
        },
      };
    }
    return { type: 'look', predict: (held) => held };
  }
}

// ── helpers ──────────────────────────────────────────────────────────────────────────────────

async function workerIdOf(worker: ServerProcess): Promise<string> {
  const health = (await (await fetch(`${worker.baseUrl}/api/health`)).json()) as { worker: string };
  return health.worker;
}

function isEvent(type: string, playerId: number) {
  return (message: ServerMessage) => message.type === type && (message.data as { player?: { id?: number } }).player?.id === playerId;
}

// ── the test ─────────────────────────────────────────────────────────────────────────────────

let world: ScaledWorld;
let redis: Redis;
const everyone: Player[] = [];
/** Set to end every play loop; afterAll sets it too, so a failed test leaves none running. */
let stopping = false;
const loops: Promise<void>[] = [];

/** Starts `player`'s play loop; its failure surfaces where the returned promise is awaited. */
function play(player: Player): Promise<void> {
  const loop = player.play(() => stopping);
  loop.catch(() => undefined);
  loops.push(loop);
  return loop;
}

beforeAll(async () => {
  world = await startScaledWorld({ workers: 2 });
  redis = new Redis(world.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
}, 120_000);

afterAll(async () => {
  stopping = true;
  await Promise.allSettled(loops);
  await Promise.all(
    everyone.map(async (player) => {
      await (player.client as GameClient | undefined)?.close();
    }),
  );
  await redis.quit();
  await world.stop();
}, 60_000);

describe('a worker killed with SIGKILL during play', () => {
  it('loses no acknowledged action, frees its players to reconnect elsewhere and releases those who do not', async () => {
    const w0 = world.worker(0);
    const w1 = world.worker(1);
    const deadWorkerId = await workerIdOf(w0);

    // Players who reconnect, players who do not (both on the worker to be killed), players on the
    // surviving worker, and two idle observers on the surviving worker, one in each location.
    const returning = await Promise.all([0, 1, 2, 3].map((i) => Player.register(`returning${i}`, w0, 100 + i)));
    const vanishing = await Promise.all([0, 1].map((i) => Player.register(`vanishing${i}`, w0, 200 + i)));
    const survivors = await Promise.all([0, 1, 2].map((i) => Player.register(`survivor${i}`, w1, 300 + i)));
    const inSquare = await Player.register('observerSquare', w1, 400);
    const inMarket = await Player.register('observerMarket', w1, 401);
    everyone.push(...returning, ...vanishing, ...survivors, inSquare, inMarket);
    for (const player of [...returning, ...vanishing]) await player.join(w0);
    for (const player of [...survivors, inSquare, inMarket]) await player.join(w1);
    await inMarket.act('move', { direction: 'east' });
    expect(inMarket.held.locationId).toBe(MARKET);
    expect(inSquare.held.locationId).toBe(SQUARE);

    // Everyone plays at full speed; worker 0 dies once each player has had plenty acknowledged.
    const onDoomed = [...returning, ...vanishing].map(play);
    const survivorPlay = survivors.map(play);
    await until(() => [...returning, ...vanishing, ...survivors].every((player) => player.acked.length >= 25), 'every player to have 25 actions acknowledged');

    const killedAt = performance.now();
    await w0.kill();
    await Promise.all(onDoomed);
    for (const player of [...returning, ...vanishing]) expect(player.client.closed, `${player.label}'s socket`).not.toBeNull();
    const inFlight = [...returning, ...vanishing].filter((player) => player.inFlight !== undefined).length;

    // (a) The returning players reconnect to worker 1 with the same token and find their state.
    const foundApplied: string[] = [];
    for (const player of returning) {
      const candidates = player.candidates();
      await player.join(w1);
      expect(candidates, `${player.label} after reconnecting (in flight: ${player.inFlight?.type ?? 'nothing'})`).toContainEqual(player.held);
      if (player.inFlight && JSON.stringify(player.held) !== JSON.stringify(candidates[0])) foundApplied.push(player.inFlight.type);
      player.inFlight = undefined;
    }
    const returningPlay = returning.map(play);

    // (b) The others are released by the dead-worker job: announced as disconnected where they
    // stand, shown so in `look`, gone from presence:online, and the dead worker is forgotten.
    for (const player of vanishing) {
      const seenBy = await Promise.any(
        [inSquare, inMarket].map((observer) => observer.client.waitFor(isEvent('player_disconnected', player.id), 8_000).then(() => observer)),
      ).catch(() => {
        throw new Error(`no player_disconnected for ${player.label} within 8 s of the kill`);
      });
      const look = await seenBy.act('look');
      expect(look.location?.players.find((other) => other.id === player.id), `${player.label} in ${seenBy.label}'s look`).toMatchObject({ connected: false });
    }
    const releasedAfterMs = performance.now() - killedAt;
    expect(releasedAfterMs).toBeLessThan(5_000);
    await until(async () => !(await redis.sismember('workers', deadWorkerId)), 'the dead worker to leave the registry', 5_000);
    const online = new Set(await redis.smembers('presence:online'));
    for (const player of vanishing) expect(online.has(String(player.id)), `${player.label} in presence:online`).toBe(false);
    for (const player of [...returning, ...survivors, inSquare, inMarket]) expect(online.has(String(player.id)), `${player.label} in presence:online`).toBe(true);
    // The release ends once their saves are written (each was announced before).
    await until(async () => (await redis.exists(`worker:${deadWorkerId}:players`)) === 0, "the dead worker's player set to go", 5_000);

    // A new worker (the killed one is not restarted) joins and works alongside worker 1.
    const w2 = await world.startWorker();
    const newcomer = await Player.register('newcomer', w2, 500);
    everyone.push(newcomer);
    const arrival = await newcomer.join(w2);
    expect(arrival.location?.players.find((other) => other.id === inSquare.id)).toMatchObject({ connected: true });
    await newcomer.act('say', { text: 'hello from the new worker' });
    expect((await inSquare.client.event<{ from: { id: number }; text: string }>('said', (said) => said.from.id === newcomer.id)).text).toBe(
      'hello from the new worker',
    );
    await inSquare.act('say', { text: 'welcome, new worker' });
    expect((await newcomer.client.event<{ from: { id: number }; text: string }>('said', (said) => said.from.id === inSquare.id)).text).toBe(
      'welcome, new worker',
    );
    const beans = newcomer.held.inventory.find((slot) => slot.itemId === 'canned-beans');
    if (!beans) throw new Error('the newcomer has no canned beans');
    const { dropped } = await newcomer.act('drop', { slot: beans.slot, qty: 1 });
    if (!dropped) throw new Error('drop did not say what was dropped');
    await inSquare.client.event<{ item: { id: string } }>('item_dropped', (event) => event.item.id === dropped.id);
    const picked = await newcomer.attempt('pickup', { groundItemId: dropped.id });
    if (picked.type === 'error') {
      // A player still playing in the square saw the tin and took it first: the race any two run.
      expect(picked.data.code).toBe('E_ITEM_GONE');
      const taken = await inSquare.client.event<{ player: { id: number }; item: { id: string } }>('item_picked_up', (event) => event.item.id === dropped.id);
      expect(taken.player.id).not.toBe(newcomer.id);
    }
    await newcomer.act('move', { direction: 'east' });
    expect(newcomer.held.locationId).toBe(MARKET);
    const workers = new Set(await redis.smembers('workers'));
    expect(workers).toEqual(new Set([await workerIdOf(w1), await workerIdOf(w2)]));

    // Play goes on for a while on the surviving worker, then stops.
    const ackedSoFar = new Map([...returning, ...survivors].map((player) => [player, player.acked.length]));
    await until(() => [...ackedSoFar].every(([player, before]) => player.acked.length >= before + 25), 'play to go on after the crash');
    stopping = true;
    await Promise.all([...returningPlay, ...survivorPlay]);

    // At the end, every socket still open is in the state its last reply showed; the observers
    // see the returning and surviving players connected and the vanished ones not.
    for (const player of [...returning, ...survivors, inSquare, inMarket, newcomer]) {
      expect(player.client.closed, `${player.label}'s socket`).toBeNull();
    }
    const seen = new Map<number, boolean>();
    for (const observer of [inSquare, inMarket]) {
      for (const other of (await observer.act('look')).location?.players ?? []) seen.set(other.id, other.connected);
    }
    for (const player of [...returning, ...survivors, newcomer]) expect(seen.get(player.id), `${player.label} seen connected`).toBe(true);
    for (const player of vanishing) expect(seen.get(player.id), `${player.label} seen disconnected`).toBe(false);

    // Each acknowledged action's reply showed the state before it with that action applied, so the
    // last acknowledged state below is the log replayed, not merely what the server last said.
    for (const player of everyone) expect(player.unreplayable, `${player.label}'s acknowledged actions`).toEqual([]);

    // (c) After a final sync, PostgreSQL holds each player's last acknowledged state (for the
    // vanished players: that, or that with their in-flight action applied).
    const saved = await adminPost(w1, '/api/admin/save');
    expect(saved.status, await saved.clone().text()).toBe(200);
    const durable = await durableHoldings(world.databaseUrl);
    for (const player of [...returning, ...survivors, inSquare, inMarket, newcomer]) {
      expect(player.acked.length, `${player.label}'s log`).toBeGreaterThan(0);
      expect(durable.get(player.id), `${player.label} in PostgreSQL`).toEqual(player.acked.at(-1)?.held);
    }
    for (const player of vanishing) {
      expect(player.candidates(), `${player.label} in PostgreSQL (in flight: ${player.inFlight?.type ?? 'nothing'})`).toContainEqual(durable.get(player.id));
    }

    // Nothing was created or destroyed: PostgreSQL holds exactly the starting kits of everyone registered.
    const units = await durableItemUnits(world.databaseUrl);
    expect(uniquesTwice(units)).toEqual([]);
    expect(units.totals).toEqual(Object.fromEntries(Object.entries(KIT).map(([itemId, qty]) => [itemId, qty * durable.size])));

    const refused = [...returning, ...vanishing, ...survivors].reduce((sum, player) => sum + player.refusals.length, 0);
    const acknowledged = [...returning, ...vanishing, ...survivors].reduce((sum, player) => sum + player.acked.length, 0);
    console.info(`[workerCrash] ${acknowledged} actions acknowledged, ${refused} refused by play rules, ${inFlight} in flight at the kill (found applied: ${foundApplied.join(', ') || 'none'}); released ${Math.round(releasedAfterMs)} ms after it`);
  }, 90_000);
});
