// SqlClient over a `pg` Pool: the real PostgreSQL server. The pool reconnects by itself, so a
// server that goes away and comes back needs no reopening: statements sent meanwhile reject
// (isDurableStoreUnavailable tells those failures from SQL errors) and later ones succeed.
import { Pool, type PoolClient } from 'pg';
import { withArrayLiterals } from './arrayLiteral.ts';
import type { Row, SqlClient } from './SqlClient.ts';

export interface PostgresOptions {
  /** Most connections the pool holds open at once (pg's default is 10). */
  max?: number;
  /** How long to wait for a connection, new or from a busy pool, before rejecting (default 5 s). */
  connectionTimeoutMillis?: number;
  /**
   * How long to wait for the answer to one statement before rejecting (default 5 s): a server
   * that hangs (stopped, or cut off without a reset) keeps its connections open, and without a
   * deadline a statement would wait forever. The connection is then discarded. 0: no deadline.
   */
  queryTimeoutMillis?: number;
  /** Told when an idle pooled connection dies (e.g. to log it); the pool replaces it by itself. */
  onIdleError?: (error: Error) => void;
}

const FROM_POSTGRES = Symbol('cinder.fromPostgres');
/** What pg rejects a statement with when query_timeout passes without an answer. */
const QUERY_TIMEOUT_MESSAGE = 'Query read timeout';

/**
 * Rethrows `error` marked as coming from PostgreSQL: a network error (ECONNREFUSED, ECONNRESET, …)
 * looks the same whichever store's socket it came from, and only the mark tells them apart.
 */
function fromPostgres(error: unknown): never {
  if (typeof error === 'object' && error !== null && Object.isExtensible(error)) {
    Object.defineProperty(error, FROM_POSTGRES, { value: true });
  }
  throw error;
}

/** True when `error` was thrown by a client from openPostgres. */
export function cameFromPostgres(error: unknown): boolean {
  return typeof error === 'object' && error !== null && FROM_POSTGRES in error;
}

function transactionClient(conn: PoolClient): SqlClient {
  const client: SqlClient = {
    query: async (text, params) => ({ rows: (await conn.query<Row>(text, withArrayLiterals(params)).catch(fromPostgres)).rows }),
    exec: async (script) => {
      await conn.query(script).catch(fromPostgres);
    },
    transaction: (fn) => fn(client),
    close: () => Promise.reject(new Error('close the client, not a transaction')),
  };
  return client;
}

/**
 * Opens a pool on the server at url (a postgres:// connection string). Nothing connects until
 * the first statement, so an unreachable server shows up there, not here.
 */
export function openPostgres(url: string, options: PostgresOptions = {}): Promise<SqlClient> {
  const pool = new Pool({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5_000,
    query_timeout: options.queryTimeoutMillis ?? 5_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  });
  // An idle connection that dies (server restart, network cut) is reported here; without a
  // listener the 'error' event would kill the process. The pool has already dropped that
  // connection, and the next statement opens a new one, so there is nothing more to do.
  pool.on('error', (error) => {
    options.onIdleError?.(error);
  });

  return Promise.resolve({
    query: async (text, params) => ({ rows: (await pool.query<Row>(text, withArrayLiterals(params)).catch(fromPostgres)).rows }),
    // Without parameters pg uses the simple query protocol, which accepts several statements.
    exec: async (script) => {
      await pool.query(script).catch(fromPostgres);
    },
    transaction: async (fn) => {
      const conn = await pool.connect().catch(fromPostgres);
      // A checked-out connection has no pool listener: one that dies between two statements
      // would emit 'error' unheard and crash the process. Keep the error to discard the connection.
      let broken: Error | undefined;
      const onError = (error: Error) => {
        broken = error;
      };
      conn.on('error', onError);
      try {
        await conn.query('BEGIN').catch(fromPostgres);
        const result = await fn(transactionClient(conn));
        await conn.query('COMMIT').catch(fromPostgres);
        return result;
      } catch (error) {
        if (isQueryTimeout(error)) {
          // The connection still waits for that answer: a ROLLBACK would only queue behind it.
          broken ??= error;
          throw error;
        }
        try {
          await conn.query('ROLLBACK');
        } catch (rollbackError) {
          // The connection is unusable (it is why the transaction failed): the server rolls the
          // transaction back when the connection goes; the pool must not hand it out again.
          broken ??= rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        }
        throw error;
      } finally {
        conn.off('error', onError);
        conn.release(broken);
      }
    },
    close: () => pool.end(),
  });
}

function isQueryTimeout(error: unknown): error is Error {
  return error instanceof Error && error.message === QUERY_TIMEOUT_MESSAGE;
}

// Node's socket errors that mean the server cannot be reached or the connection was cut.
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH',
  'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED',
]);

// SQLSTATEs of a server that is shutting down, restarting or refusing connections:
// 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 53300 too_many_connections.
// Class 08 (connection exception) is matched by prefix.
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);

// pg reports a lost or unobtainable connection with plain Errors carrying only a message.
const UNAVAILABLE_MESSAGES = [
  /^Connection terminated/, // "Connection terminated", "… unexpectedly", "… due to connection timeout"
  /^timeout exceeded when trying to connect$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^Connection ended unexpectedly$/,
  new RegExp(`^${QUERY_TIMEOUT_MESSAGE}$`), // query_timeout: the server did not answer in time
];

function ownUnavailable(error: object): boolean {
  const code = 'code' in error && typeof error.code === 'string' ? error.code : undefined;
  if (code !== undefined) {
    if (NETWORK_CODES.has(code) || UNAVAILABLE_STATES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return true;
  }
  return error instanceof Error && UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(error.message));
}

/**
 * True when error means the durable store could not be reached or the connection broke (retry
 * later: the sync keeps its dirty sets); false for an error the SQL itself caused (constraint,
 * syntax, …), which retrying would only repeat. Looks through `cause` and AggregateError (Node
 * reports a refused connection to every address of a host that way).
 */
export function isDurableStoreUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>();
  const pending: unknown[] = [error];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next !== 'object' || next === null || seen.has(next)) continue;
    seen.add(next);
    if (ownUnavailable(next)) return true;
    if ('cause' in next) pending.push(next.cause);
    if (next instanceof AggregateError) pending.push(...(next.errors as unknown[]));
  }
  return false;
}
