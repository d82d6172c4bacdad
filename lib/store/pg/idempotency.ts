/**
 * Idempotency-Keys on PostgreSQL (table idempotency_keys, migration 4). A request's key row is inserted
 * in the transaction that makes the resource: a concurrent request with the same key, in any process,
 * waits on the primary key until that transaction ends, then finds the row and answers with what it
 * made. A row older than IDEMPOTENCY_KEY_TTL_MS by the injected clock counts as absent: it is replaced,
 * and deleted in batches by the periodic sweep.
 */
import type pg from "pg";
import { iso } from "../../clock.ts";
import { IDEMPOTENCY_KEY_TTL_MS, type IdempotencyKey, type Idempotent } from "../store.ts";
import { query, transaction } from "./database.ts";
import type { Periodic } from "./signals/signals.ts";

/** $1 scope, $2 key, $3 fingerprint, $4 resource id, $5 now, $6 expired at or before. A row when the key is this request's. */
export const TAKE_KEY = `
INSERT INTO idempotency_keys AS k (scope, key, fingerprint, resource_id, created_at)
VALUES ($1, $2, $3, $4, $5::text::timestamptz)
ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, resource_id = excluded.resource_id, created_at = excluded.created_at
WHERE k.created_at <= $6::text::timestamptz
RETURNING 1`;

/** $1 scope, $2 key. What the earlier request made. */
export const SELECT_KEY = "SELECT fingerprint, resource_id FROM idempotency_keys WHERE scope = $1 AND key = $2";

/** $1 expired at or before, $2 batch size. Deletes a batch of expired keys; their count. */
export const DELETE_EXPIRED_KEYS = `
WITH doomed AS (
  SELECT scope, key FROM idempotency_keys WHERE created_at <= $1::text::timestamptz
  ORDER BY created_at LIMIT $2
  FOR UPDATE SKIP LOCKED
), deleted AS (
  DELETE FROM idempotency_keys k USING doomed WHERE k.scope = doomed.scope AND k.key = doomed.key RETURNING 1
)
SELECT count(*)::int AS deleted FROM deleted`;

/** Keys deleted per statement. */
const DELETE_BATCH = 1000;

/** Thrown in the transaction to roll the key back when nothing was made (an unknown pipeline). */
class NothingMade extends Error {}

/**
 * Makes a resource at most once per `scope` and key: `make` makes it with `id` on the transaction's
 * connection (undefined: nothing to make, the key is not kept); `read` reads what an earlier request made.
 */
export async function once<T>(
  pool: pg.Pool,
  scope: string,
  key: IdempotencyKey,
  now: number,
  id: string,
  make: (client: pg.PoolClient) => Promise<T | undefined>,
  read: (id: string) => Promise<T | undefined>,
): Promise<Idempotent<T> | undefined> {
  const values = [scope, key.key, key.fingerprint, id, iso(now), iso(now - IDEMPOTENCY_KEY_TTL_MS)];
  let earlier: { fingerprint: string; resource_id: string } | undefined;
  let made: T | undefined;
  // A key row can vanish between the two statements (a sweep in a process whose clock is ahead): again.
  for (let attempt = 0; attempt < 3 && !earlier; attempt++) {
    try {
      await transaction(pool, async (client) => {
        if ((await client.query(TAKE_KEY, values)).rowCount === 0) {
          earlier = (await client.query<{ fingerprint: string; resource_id: string }>(SELECT_KEY, [scope, key.key])).rows[0];
          return;
        }
        made = await make(client);
        if (made === undefined) throw new NothingMade();
      });
    } catch (thrown) {
      if (thrown instanceof NothingMade) return undefined;
      throw thrown;
    }
    if (made !== undefined) return { value: made, replayed: false };
  }
  if (!earlier) throw new Error(`Idempotency-Key ${JSON.stringify(key.key)} neither taken nor found`);
  if (earlier.fingerprint !== key.fingerprint) return { mismatch: true };
  const value = await read(earlier.resource_id);
  return value === undefined ? { gone: true } : { value, replayed: true };
}

/** Deletes the keys expired at `now`, a batch a statement; how many. */
export async function deleteExpiredKeys(pool: pg.Pool, now: number): Promise<number> {
  const cutoff = iso(now - IDEMPOTENCY_KEY_TTL_MS);
  let total = 0;
  for (;;) {
    const [row] = await query<{ deleted: number }>(pool, DELETE_EXPIRED_KEYS, [cutoff, DELETE_BATCH]);
    total += row!.deleted;
    if (row!.deleted < DELETE_BATCH) return total;
  }
}

/** The periodic sweep of expired keys, in a store with workers. */
export const keySweep = (pool: pg.Pool, now: () => number, intervalMs: number): Periodic => ({ intervalMs, run: () => deleteExpiredKeys(pool, now()) });
