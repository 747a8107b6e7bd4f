// The narrow seam between the durable store and a PostgreSQL driver (PGlite today, a `pg` Pool
// later). Drivers only move text and parameters; every statement lives in the store's sql.ts.

/**
 * A result row by column name. Values are whatever the driver decoded (a bigint may come back
 * as number or string), so readers check them instead of trusting a declared row type.
 */
export type Row = Readonly<Record<string, unknown>>;

export interface SqlClient {
  /** One statement with $n parameters; JS arrays are sent as PostgreSQL arrays. */
  query(text: string, params?: unknown[]): Promise<{ rows: Row[] }>;
  /** Several statements without parameters, as a migration file holds them. */
  exec(script: string): Promise<void>;
  /**
   * Runs fn inside BEGIN … COMMIT, rolling back when it throws. Calling transaction on the
   * client handed to fn joins the same transaction instead of nesting.
   */
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** SQLSTATE 23505, optionally on one named constraint; PGlite and pg both set code and constraint. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  if (!('code' in error) || error.code !== '23505') return false;
  return constraint === undefined || ('constraint' in error && error.constraint === constraint);
}
