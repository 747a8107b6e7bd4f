// PostgreSQL stopped and started again while players play (DESIGN.md §8, docs/scaling.md "What
// happens when something fails"): play goes on in Redis without a single refusal, the dirty sets
// keep what PostgreSQL has not seen, registration answers E_STORAGE_UNAVAILABLE (503), and once
// PostgreSQL is back the sync writes every change made during the outage by itself.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, registerPlayer } from '../support/accounts.ts';
import { GameClient } from '../support/GameClient.ts';
import { durableGround, durableHoldings } from '../support/durableState.ts';
import { heldAfter, normalGround, until, type GroundSeen, type Held, type HeldReply } from '../support/heldState.ts';
import { adminPost, startScaledWorld, type ScaledWorld } from '../support/scaledWorld.ts';
import type { ServerProcess } from '../support/serverProcess.ts';
import type { PostgresServerHandle } from '../support/services/postgresServer.ts';
import { MOVE_SPACING_MS, WAY } from '../support/twoLocations.ts';

/**
 * A player who plays without ever racing anyone: it picks up only what it dropped itself, and
 * moves only when the cooldown has passed, so every action it sends must be answered `ok`.
 */
class Player {
  client!: GameClient;
  held: Held = { locationId: '', inventory: [], equipment: {} };
  /** Every acknowledged action with the state its reply showed. */
  readonly acked: { type: string; held: Held }[] = [];
  private readonly drops: { id: string; locationId: string }[] = [];
  private lastMoveAt = -Infinity;
  private turn = 0;

  constructor(
    readonly label: string,
    readonly id: number,
    readonly token: string,
  ) {}

  async join(worker: ServerProcess): Promise<void> {
    this.client = await GameClient.connect(worker.wsUrl);
    await this.act('auth', { token: this.token });
    await this.act('inventory');
  }

  async act(type: string, data?: Record<string, unknown>): Promise<HeldReply> {
    const reply = await this.client.request<HeldReply>(type, data);
    if (reply.type !== 'ok') throw new Error(`${this.label}: ${type} ${JSON.stringify(data)} was refused: ${JSON.stringify(reply.data)}`);
    this.held = heldAfter(this.held, reply.data);
    const { dropped } = reply.data;
    if (dropped) this.drops.push({ id: dropped.id, locationId: this.held.locationId });
    if (type === 'pickup') this.drops.splice(this.drops.findIndex((drop) => drop.id === data?.groundItemId), 1);
    if (type === 'move') this.lastMoveAt = performance.now();
    if (type !== 'auth') this.acked.push({ type, held: this.held });
    return reply.data;
  }

  async play(stop: () => boolean): Promise<void> {
    while (!stop()) await this.step();
  }

  private async step(): Promise<void> {
    this.turn++;
    const way = WAY[this.held.locationId];
    if (way && performance.now() - this.lastMoveAt >= MOVE_SPACING_MS) {
      await this.act('move', { direction: way.direction });
      return;
    }
    const mine = this.drops.find((drop) => drop.locationId === this.held.locationId);
    const stack = this.held.inventory.find((slot) => slot.itemId !== 'rusty-pipe');
    const pipe = this.held.inventory.find((slot) => slot.itemId === 'rusty-pipe');
    switch (this.turn % 4) {
      case 0:
        if (stack) {
          await this.act('drop', { slot: stack.slot, qty: 1 });
          return;
        }
        break;
      case 1:
        if (mine) {
          await this.act('pickup', { groundItemId: mine.id });
          return;
        }
        break;
      case 2:
        if (pipe) {
          await this.act('equip', { slot: pipe.slot });
          return;
        }
        if (this.held.equipment.mainHand) {
          await this.act('unequip', { slot: 'mainHand' });
          return;
        }
        break;
      default:
        break;
    }
    await this.act('say', { text: `${this.label} turn ${this.turn}` });
  }
}

async function adminSave(worker: ServerProcess): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await adminPost(worker, '/api/admin/save');
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

let world: ScaledWorld;
let postgres: PostgresServerHandle;
let redis: Redis;
const players: Player[] = [];
/** Set to end every play loop; afterAll sets it too, so a failed test leaves none running. */
let stopping = false;
let loops: Promise<void>[] = [];

/** Every player plays until `stopping`; a loop's failure surfaces when `endPlay` awaits it. */
function startPlay(): void {
  stopping = false;
  loops = players.map((player) => player.play(() => stopping));
  for (const loop of loops) loop.catch(() => undefined);
}

async function endPlay(): Promise<void> {
  stopping = true;
  await Promise.all(loops);
}

/** What each player's last reply showed, and the ground of both locations as players see it now. */
async function expectedWorld(): Promise<{ characters: Map<number, Held>; ground: Map<string, GroundSeen[]> }> {
  const ground = new Map<string, GroundSeen[]>();
  for (const player of players) {
    const look = await player.client.ok<HeldReply>('look');
    if (look.location) ground.set(look.location.id, normalGround(look.location.ground));
  }
  return { characters: new Map(players.map((player) => [player.id, player.acked.at(-1)?.held ?? player.held])), ground };
}

/** PostgreSQL's view restricted to the players and locations of `expected`. */
async function durableMatching(expected: Awaited<ReturnType<typeof expectedWorld>>) {
  const [characters, ground] = await Promise.all([durableHoldings(world.databaseUrl), durableGround(world.databaseUrl)]);
  return {
    characters: new Map([...expected.characters.keys()].map((id) => [id, characters.get(id)])),
    ground: new Map([...expected.ground.keys()].map((location) => [location, ground.get(location) ?? []])),
  };
}

/** A comparable text for a world view (JSON.stringify alone would turn each Map into {}). */
function canonical(view: { characters: Map<number, Held | undefined>; ground: Map<string, GroundSeen[]> }): string {
  return JSON.stringify({
    characters: [...view.characters].sort(([a], [b]) => a - b),
    ground: [...view.ground].sort(([a], [b]) => a.localeCompare(b)),
  });
}

beforeAll(async () => {
  world = await startScaledWorld({ workers: 2, dedicatedPostgres: true });
  if (!world.postgres) throw new Error('the world has no PostgreSQL of its own');
  postgres = world.postgres;
  redis = new Redis(world.redis.url);
}, 120_000);

afterAll(async () => {
  stopping = true;
  await Promise.allSettled(loops);
  // A failure during the outage must not leave the workers' final sync without a database.
  if (!postgres.running) await postgres.restart();
  await Promise.all(
    players.map(async (player) => {
      await (player.client as GameClient | undefined)?.close();
    }),
  );
  await redis.quit();
  await world.stop();
}, 60_000);

describe('PostgreSQL stopped and restarted mid-session', () => {
  it('lets play go on unrefused, refuses registration clearly, and writes every change once it is back', async () => {
    const w0 = world.worker(0);
    const w1 = world.worker(1);
    for (const [index, worker] of [w0, w0, w1, w1].entries()) {
      const { token, id } = await registerPlayer(worker.baseUrl);
      const player = new Player(`player${index}`, id, token);
      players.push(player);
      await player.join(worker);
    }

    // Two bystanders in the starting location: one will leave during the outage, one watches.
    const watcher = await GameClient.connect(w1.wsUrl);
    await watcher.ok('auth', { token: (await registerPlayer(w1.baseUrl)).token });
    const leaver = await registerPlayer(w0.baseUrl);
    const leaving = new Player('leaver', leaver.id, leaver.token);
    await leaving.join(w0);

    // Play, then a forced save: PostgreSQL holds exactly what the players' replies showed.
    startPlay();
    await until(() => players.every((player) => player.acked.length >= 12), 'some play before the outage');
    await endPlay();
    expect((await adminSave(w1)).status).toBe(200);
    const beforeOutage = await expectedWorld();
    expect(await durableMatching(beforeOutage)).toEqual(beforeOutage);

    // PostgreSQL goes away. Play goes on for several sync intervals (500 ms) and every action is ok.
    await postgres.stop();
    expect(postgres.running).toBe(false);
    const stoppedAt = performance.now();
    const ackedAtStop = players.map((player) => player.acked.length);
    startPlay();
    await until(
      () => performance.now() - stoppedAt > 2_500 && players.every((player, index) => player.acked.length >= (ackedAtStop[index] ?? 0) + 12),
      'play during the outage',
    );

    // Registration answers a clear 503, and so does a forced save; the dirty sets keep every player.
    const refused = await post(w0.baseUrl, '/api/auth/register', { username: 'during_pg_outage', password: 'ash-and-embers' });
    expect({ status: refused.status, code: (refused.json.error as { code?: string } | undefined)?.code }).toEqual({ status: 503, code: 'E_STORAGE_UNAVAILABLE' });
    const save = await adminSave(w1);
    expect({ status: save.status, code: (save.body.error as { code?: string } | undefined)?.code }).toEqual({ status: 503, code: 'E_STORAGE_UNAVAILABLE' });
    // The leaver moves, drops and arms itself, then leaves: its save on disconnect cannot be
    // written now, but others still learn of its leaving at once.
    const way = WAY[leaving.held.locationId];
    if (!way) throw new Error(`no way out of ${leaving.held.locationId}`);
    await watcher.ok('move', { direction: way.direction });
    await leaving.act('move', { direction: way.direction });
    const stack = leaving.held.inventory.find((slot) => slot.itemId !== 'rusty-pipe');
    const pipe = leaving.held.inventory.find((slot) => slot.itemId === 'rusty-pipe');
    if (!stack || !pipe) throw new Error('the leaver has no stack or no pipe');
    await leaving.act('drop', { slot: stack.slot, qty: 1 });
    await leaving.act('equip', { slot: pipe.slot });
    const leaverHeld = leaving.held;
    await leaving.client.close();
    const gone = await watcher.event<{ player: { id: number; connected: boolean } }>('player_disconnected', (d) => d.player.id === leaver.id);
    expect(gone.player.connected).toBe(false);
    await watcher.close();
    const dirty = new Set([...(await redis.smembers('dirty:inventory')), ...(await redis.smembers('dirty:inventory:syncing'))]);
    for (const player of players) expect(dirty.has(String(player.id)), `${player.label} in the dirty inventory set`).toBe(true);
    await endPlay();

    // A player in the world can still switch worker: the session lives in Redis, not PostgreSQL.
    const switching = players[1];
    if (!switching) throw new Error('no second player');
    const old = switching.client;
    await switching.join(w1);
    expect((await old.whenClosed()).code).toBe(4001);
    await switching.act('inventory');
    startPlay();
    await until(() => players.every((player, index) => player.acked.length >= (ackedAtStop[index] ?? 0) + 24), 'more play during the outage');
    await endPlay();
    const changed = await expectedWorld();
    expect(changed).not.toEqual(beforeOutage);
    for (const worker of world.workers) expect(worker.child.exitCode, 'worker exit code').toBeNull();

    // PostgreSQL returns. Without any help, the sync job (after its backoff) writes everything
    // that changed during the outage.
    await postgres.restart();
    const recoveryStarted = performance.now();
    await until(async () => canonical(await durableMatching(changed)) === canonical(changed), 'the sync job to catch up', 45_000);
    const recoveredAfterMs = Math.round(performance.now() - recoveryStarted);
    expect(await durableMatching(changed)).toEqual(changed);
    // The leaver's changes too, though its own save failed: it stayed dirty for the sync.
    await until(async () => JSON.stringify((await durableHoldings(world.databaseUrl)).get(leaver.id)) === JSON.stringify(leaverHeld), 'the leaver\'s changes in PostgreSQL', 15_000);
    expect((await durableHoldings(world.databaseUrl)).get(leaver.id)).toEqual(leaverHeld);

    // A forced save works again, registration too, and the new player plays.
    await until(async () => (await adminSave(w0)).status === 200, 'a forced save to succeed', 10_000);
    const { token, id } = await registerPlayer(w0.baseUrl, 'after_pg_outage');
    const newcomer = new Player('newcomer', id, token);
    players.push(newcomer);
    await newcomer.join(w1);
    await newcomer.act('move', { direction: 'east' });
    expect((await adminSave(w1)).status).toBe(200);
    const final = await expectedWorld();
    expect(await durableMatching(final)).toEqual(final);
    const during = players.slice(0, 4).reduce((sum, player, index) => sum + player.acked.length - (ackedAtStop[index] ?? 0), 0);
    console.info(`[postgresOutage] ${during} actions acknowledged during the outage; the sync job wrote them ${recoveredAfterMs} ms after PostgreSQL returned`);
  }, 120_000);
});
