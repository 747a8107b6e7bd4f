// A SqlClient that counts and times every statement it sends (cinder_sql_statements_total and
// cinder_sql_statement_duration_seconds, src/metrics.ts), named after its constant in sql.ts, so
// that an operator (and `npm run bench`) can see how many statements play and batch sync cost.
// A transaction counts its BEGIN and its COMMIT or ROLLBACK too: each is one more round trip to
// the server. A transaction joined from inside another adds nothing, as it sends nothing.
import { countSqlStatement, timeSqlStatement } from '../../metrics.ts';
import * as sql from './sql.ts';
import type { SqlClient } from './SqlClient.ts';

const names = new Map<string, string>();
for (const [name, text] of Object.entries(sql)) {
  if (typeof text === 'string') names.set(text, name);
}

function statementName(text: string): string {
  return names.get(text) ?? 'other';
}

function metered(client: SqlClient, inTransaction: boolean): SqlClient {
  return {
    query: (text, params) => timeSqlStatement(statementName(text), () => client.query(text, params)),
    exec: (script) => timeSqlStatement('script', () => client.exec(script)),
    transaction: async (fn) => {
      if (inTransaction) return client.transaction((tx) => fn(metered(tx, true)));
      // BEGIN is counted once it has been sent (fn runs after it), not while waiting for a
      // pooled connection: a transaction that never got one sent nothing.
      const sent = { begin: false };
      try {
        const result = await client.transaction((tx) => {
          sent.begin = true;
          countSqlStatement('BEGIN');
          return fn(metered(tx, true));
        });
        countSqlStatement('COMMIT');
        return result;
      } catch (error) {
        if (sent.begin) countSqlStatement('ROLLBACK');
        throw error;
      }
    },
    close: () => client.close(),
  };
}

/** Wraps `client` so that each statement it sends is counted. */
export function meteredSqlClient(client: SqlClient): SqlClient {
  return metered(client, false);
}
