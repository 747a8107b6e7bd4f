// SqlClient over PGlite: PostgreSQL compiled to WASM, in memory or file-backed, for embedded mode
// and tests. PGlite is one connection behind a mutex, so its transactions never interleave.
import { mkdir } from 'node:fs/promises';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { Row, SqlClient } from './SqlClient.ts';

type Queryable = Pick<Transaction, 'query' | 'exec'>;

async function query(db: Queryable, text: string, params: unknown[] | undefined): Promise<{ rows: Row[] }> {
  const result = await db.query<Row>(text, params);
  return { rows: result.rows };
}

function transactionClient(tx: Transaction): SqlClient {
  const client: SqlClient = {
    query: (text, params) => query(tx, text, params),
    exec: async (script) => {
      await tx.exec(script);
    },
    transaction: (fn) => fn(client),
    close: () => Promise.reject(new Error('close the client, not a transaction')),
  };
  return client;
}

/** Opens PGlite: in memory when dataDir is undefined, else file-backed in dataDir (created if missing). */
export async function openPglite(dataDir: string | undefined): Promise<SqlClient> {
  if (dataDir !== undefined) await mkdir(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir);
  return {
    query: (text, params) => query(db, text, params),
    exec: async (script) => {
      await db.exec(script);
    },
    transaction: (fn) => db.transaction((tx) => fn(transactionClient(tx))),
    close: () => db.close(),
  };
}
