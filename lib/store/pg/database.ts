/**
 * Statements and transactions on a pool, with the one translation every caller needs: a connection
 * failure becomes ServiceUnavailableError (lib/store/pg/connection.ts), anything else passes unchanged.
 */
import type pg from "pg";
import { asUnavailable, isConnectionError } from "./connection.ts";

/** One statement's rows, on the pool or a transaction's connection. `text` may be a named statement ({ name, text }), prepared once per connection. */
export async function query<R extends pg.QueryResultRow>(pool: pg.Pool | pg.PoolClient, text: string | pg.QueryConfig, values: unknown[] = []): Promise<R[]> {
  try {
    const config = typeof text === "string" ? { text, values } : { ...text, values };
    return (await pool.query<R>(config)).rows;
  } catch (thrown) {
    throw asUnavailable(thrown);
  }
}

/** Runs `body` in a transaction on one connection: committed when it returns, rolled back when it throws. */
export async function transaction<T>(pool: pg.Pool, body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (thrown) {
    throw asUnavailable(thrown);
  }
  let failure: unknown;
  try {
    await client.query("BEGIN");
    const result = await body(client);
    await client.query("COMMIT");
    return result;
  } catch (thrown) {
    failure = thrown;
    await client.query("ROLLBACK").catch(() => {});
    throw asUnavailable(thrown);
  } finally {
    // A connection that failed is closed rather than handed to the next caller.
    client.release(isConnectionError(failure) ? (failure as Error) : undefined);
  }
}
