// PostgreSQL going away and coming back (DESIGN.md §8). The test owns a server of its own,
// stops it under an open store and starts it again: writes reject with an error the sync can
// recognise, nothing crashes the process, and the same store works again once the server is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Character, UniqueItem } from '../../src/domain/model.ts';
import type { SyncBatch } from '../../src/adapters/durable/DurableStore.ts';
import { isDurableStoreUnavailable, openPostgres } from '../../src/adapters/durable/pgClient.ts';
import type { SqlClient } from '../../src/adapters/durable/SqlClient.ts';
import { SqlDurableStore } from '../../src/adapters/durable/SqlDurableStore.ts';
import { until } from '../support/heldState.ts';
import { startPostgresServer, type PostgresServerHandle } from '../support/services/postgresServer.ts';

/** What the promise rejected with, or undefined when it fulfilled. */
function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => undefined, (error: unknown) => error);
}

function emptyBatch(): SyncBatch {
  return { characters: [], inventories: [], equipment: [], ground: [], uniqueItems: [] };
}

describe('PostgreSQL outage', () => {
  let server: PostgresServerHandle;
  let client: SqlClient;
  let store: SqlDurableStore;
  // Anything the pool let escape (an 'error' event nobody listens to) would land here: in a real
  // server process it would have been fatal.
  const escaped: unknown[] = [];
  const idleErrors: Error[] = [];
  const record = (error: unknown) => {
    escaped.push(error);
  };

  beforeAll(async () => {
    process.on('uncaughtException', record);
    process.on('unhandledRejection', record);
    server = await startPostgresServer();
    client = await openPostgres(await server.createDatabase('cinder_outage'), {
      max: 3,
      connectionTimeoutMillis: 2_000,
      onIdleError: (error) => idleErrors.push(error),
    });
    store = await SqlDurableStore.open(client);
  });

  afterAll(async () => {
    process.off('uncaughtException', record);
    process.off('unhandledRejection', record);
    try {
      await store.close();
    } finally {
      await server.dispose();
    }
  });

  async function register(name: string): Promise<Character> {
    const character = {
      name, locationId: 'ashgate-square', hp: 20, maxHp: 20, stamina: 10, maxStamina: 10,
      level: 1, xp: 0, vitalsAt: 1_790_000_000_000,
    };
    const account = await store.createAccount(name, 'hash', character, { inventory: [], uniqueItems: [] });
    return { id: account.characterId, accountId: account.id, ...character, version: 0 };
  }

  it('rejects writes while the server is down and writes again, with nothing lost, once it is back', async () => {
    const before = await register('BeforeTheFall');
    const during = await register('DuringTheFall');
    const blade: UniqueItem = { id: 'u-outage-blade', itemId: 'bronze-sword', durability: 31, maxDurability: 50 };
    const written: SyncBatch = {
      ...emptyBatch(),
      uniqueItems: [blade],
      characters: [{ ...before, locationId: 'cinder-road', hp: 14.5, xp: 250, level: 3, version: 4 }],
      inventories: [{ characterId: before.id, entries: [[0, { itemId: 'ash-berry', qty: 6 }], [1, { itemId: 'bronze-sword', qty: 1, uniqueItemId: blade.id }]] }],
      equipment: [{ characterId: before.id, entries: [['head', { itemId: 'iron-helm' }]] }],
      ground: [{ locationId: 'outage-field', items: [{ id: 'g-outage-1', itemId: 'pebble', qty: 3, droppedBy: before.id, despawnAt: null }], version: 1 }],
    };
    await store.writeBatch(written);
    const saved = await store.loadCharacter(before.id);

    // A transaction is open (its connection checked out of the pool) when the server goes; the
    // pool's other connections are idle. Neither may take the process down.
    await Promise.all([1, 2, 3].map(() => client.query('SELECT pg_sleep(0.05)')));
    let resume: () => void = () => undefined;
    const paused = new Promise<void>((resolve) => {
      resume = resolve;
    });
    let entered: () => void = () => undefined;
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const cut = rejection(client.transaction(async (tx) => {
      await tx.query('SELECT 1');
      entered();
      await paused;
      await tx.query('SELECT 1');
    }));
    await inside;

    await server.stop();
    // The pool's idle connections report their cut (their errors are checked below).
    await until(() => idleErrors.length > 0, 'the idle connections to report the cut');
    resume();
    const cutError = await cut;
    expect(cutError).toBeInstanceOf(Error);
    expect(isDurableStoreUnavailable(cutError)).toBe(true);

    const pending: SyncBatch = {
      ...emptyBatch(),
      characters: [{ ...during, locationId: 'ember-gate', xp: 40, version: 2 }],
      inventories: [{ characterId: during.id, entries: [[4, { itemId: 'flint', qty: 2 }]] }],
    };
    for (let attempt = 0; attempt < 3; attempt++) {
      const error = await rejection(store.writeBatch(pending));
      expect(error).toBeInstanceOf(Error);
      expect(isDurableStoreUnavailable(error)).toBe(true);
    }
    const readError = await rejection(store.loadCharacter(before.id));
    expect(isDurableStoreUnavailable(readError)).toBe(true);
    expect(escaped).toEqual([]);
    // The pool's idle connections were cut too, and reported rather than thrown.
    expect(idleErrors.length).toBeGreaterThan(0);
    expect(idleErrors.every(isDurableStoreUnavailable)).toBe(true);

    await server.restart();
    // The same store and pool, never reopened: the next sync simply succeeds.
    await store.writeBatch(pending);
    expect(await store.loadCharacter(before.id)).toEqual(saved);
    expect(saved?.character).toEqual({ ...before, locationId: 'cinder-road', hp: 14.5, xp: 250, level: 3, version: 4 });
    expect(saved?.inventory.get(1)).toEqual({ itemId: 'bronze-sword', qty: 1, uniqueItemId: blade.id });
    expect(saved?.uniqueItems).toEqual([blade]);
    const ground = await store.loadGround();
    expect(ground.items).toContainEqual({ id: 'g-outage-1', locationId: 'outage-field', itemId: 'pebble', qty: 3, droppedBy: before.id, despawnAt: null });
    const after = await store.loadCharacter(during.id);
    expect(after?.character).toEqual({ ...during, locationId: 'ember-gate', xp: 40, version: 2 });
    expect(after?.inventory).toEqual(new Map([[4, { itemId: 'flint', qty: 2 }]]));
    expect(await store.findAccount('beforethefall')).toMatchObject({ characterId: before.id });
    expect(escaped).toEqual([]);
  });

  it('tells SQL errors from a server that cannot be reached', async () => {
    if (!server.running) await server.restart(); // should the test above have failed midway
    const division = await rejection(client.query('SELECT 1 / 0'));
    expect(division).toMatchObject({ code: '22012' });
    expect(isDurableStoreUnavailable(division)).toBe(false);

    const orphan = await rejection(store.writeBatch({
      ...emptyBatch(),
      inventories: [{ characterId: 99_999_999, entries: [[0, { itemId: 'ash-berry', qty: 1 }]] }],
    }));
    expect(orphan).toMatchObject({ code: '23503' });
    expect(isDurableStoreUnavailable(orphan)).toBe(false);

    const syntax = await rejection(client.exec('SELEC nothing'));
    expect(isDurableStoreUnavailable(syntax)).toBe(false);
  });
});

// A server that hangs rather than goes (stopped with SIGSTOP, a frozen VM, a network that drops
// packets): connections stay open and the port accepts, but nothing answers. Without timeouts every
// statement, and every login and shutdown behind it, would wait for ever.
describe('PostgreSQL that hangs', () => {
  it('rejects statements, transactions and new connections after the timeouts, and answers again once it resumes', async () => {
    const server = await startPostgresServer();
    const client = await openPostgres(await server.createDatabase('cinder_hang'), { max: 2, connectionTimeoutMillis: 300, queryTimeoutMillis: 300 });
    try {
      // Two pooled connections, idle when the server hangs.
      await Promise.all([client.query('SELECT pg_sleep(0.05)'), client.query('SELECT pg_sleep(0.05)')]);
      server.pause();
      try {
        const failures = [];
        // The idle connections time out and are dropped; then new ones cannot even connect.
        for (let attempt = 0; attempt < 3; attempt++) {
          failures.push(await rejection(client.query('SELECT 1')));
          failures.push(await rejection(client.transaction((tx) => tx.query('SELECT 1'))));
        }
        for (const failure of failures) {
          expect(failure).toBeInstanceOf(Error);
          expect(isDurableStoreUnavailable(failure), String(failure)).toBe(true);
        }
      } finally {
        server.resume();
      }
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await client.close();
      await server.dispose();
    }
  });
});

describe('isDurableStoreUnavailable', () => {
  const withCode = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

  it('recognises connection-level failures', () => {
    for (const error of [
      withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'),
      withCode('ECONNRESET', 'read ECONNRESET'),
      withCode('57P01', 'terminating connection due to administrator command'),
      withCode('57P03', 'the database system is starting up'),
      withCode('08006', 'connection failure'),
      withCode('08001'),
      new Error('Connection terminated'),
      new Error('Connection terminated unexpectedly'),
      new Error('Connection terminated due to connection timeout'),
      new Error('timeout exceeded when trying to connect'),
      new Error('Query read timeout'),
      new Error('Client has encountered a connection error and is not queryable'),
      new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')], 'connect failed'),
      new Error('sync failed', { cause: withCode('ECONNRESET') }),
    ]) {
      expect(isDurableStoreUnavailable(error), error.message).toBe(true);
    }
  });

  it('leaves SQL errors and non-errors alone', () => {
    for (const error of [
      withCode('23505', 'duplicate key value violates unique constraint'),
      withCode('23503', 'violates foreign key constraint'),
      withCode('22012', 'division by zero'),
      withCode('42601', 'syntax error'),
      withCode('40001', 'could not serialize access'),
      new Error('expected a row from INSERT_ACCOUNT'),
      new TypeError('column hp: expected a number, got string'),
      new Error('wrapped', { cause: withCode('23505') }),
      null,
      undefined,
      'ECONNREFUSED',
      42,
    ]) {
      expect(isDurableStoreUnavailable(error)).toBe(false);
    }
  });
});
