/**
 * Retention (--retain-runs): the finished runs older than the newest N finished ones are deleted, in
 * batches, by every store that runs workers (lib/store/pg/signals/signals.ts), never a queued or running run.
 *
 * Oldest by seq (trigger order), as GET /runs lists runs: what stays is the top of that list, as
 * GitHub keeps runs by age; a run queued long that ends behind N newer finished runs goes at once.
 *
 * Several processes may prune at once. A pass reads a cutoff, the seq of the newest finished run
 * beyond the newest N, then deletes finished runs at or below it. Finished runs never change status,
 * so the N finished runs above the highest cutoff read so far are above every cutoff and no pass
 * deletes them: each run deleted has N newer finished runs that stay. Batches skip the rows another
 * pass has locked: no waits, no deadlocks.
 */
import type pg from "pg";
import { ConfigError } from "../../api/errors.ts";
import { positive } from "./connection.ts";
import { query } from "./database.ts";
import type { PgStoreOptions } from "./options.ts";
import type { Periodic } from "./signals/signals.ts";

/** Runs deleted per statement: each transaction, and the locks it holds, stays short. */
export const PRUNE_BATCH = 1000;

/**
 * $1 runs to keep. The seq of the newest finished run beyond the newest $1, or no row. Each status's
 * newest runs come from runs_by_status in order and are merged: $1 + 1 index entries read, not every
 * finished run (one scan with `status IN (...)` sorts them all).
 */
export const PRUNE_CUTOFF = `
SELECT seq FROM (
  (SELECT seq FROM runs WHERE status = 'success' ORDER BY seq DESC LIMIT $1 + 1)
  UNION ALL (SELECT seq FROM runs WHERE status = 'failed' ORDER BY seq DESC LIMIT $1 + 1)
  UNION ALL (SELECT seq FROM runs WHERE status = 'cancelled' ORDER BY seq DESC LIMIT $1 + 1)
) AS finished
ORDER BY seq DESC OFFSET $1 LIMIT 1`;

/** $1 the cutoff, $2 batch size. Deletes the oldest finished runs at or below the cutoff; their count. */
export const PRUNE_BATCH_DELETE = `
WITH doomed AS (
  SELECT id FROM runs WHERE status IN ('success', 'failed', 'cancelled') AND seq <= $1
  ORDER BY seq LIMIT $2
  FOR UPDATE SKIP LOCKED
), deleted AS (
  DELETE FROM runs r USING doomed WHERE r.id = doomed.id RETURNING 1
)
SELECT count(*)::int AS deleted FROM deleted`;

/** `keep`, when it is a whole number of runs to keep (at least one). */
export function retainedRuns(keep: number): number {
  if (!Number.isInteger(keep) || keep < 1) throw new ConfigError(`retainRuns must be a whole number above 0, got ${keep}`);
  return keep;
}

/** Deletes the finished runs beyond the newest `keep`, a batch a statement; how many it deleted. */
export async function pruneFinished(pool: pg.Pool, keep: number): Promise<number> {
  const [cutoff] = await query<{ seq: string }>(pool, PRUNE_CUTOFF, [keep]);
  if (!cutoff) return 0;
  let total = 0;
  for (;;) {
    const [row] = await query<{ deleted: number }>(pool, PRUNE_BATCH_DELETE, [cutoff.seq, PRUNE_BATCH]);
    total += row!.deleted;
    // A short batch: nothing left, or the rest locked by another pass, which deletes it.
    if (row!.deleted < PRUNE_BATCH) return total;
  }
}

/** The periodic pass of a store with workers: every pruneIntervalMs (default 60 s), logged when it deleted runs. */
export function pruning(pool: pg.Pool, keep: number, opts: Pick<PgStoreOptions, "pruneIntervalMs" | "log">): Periodic {
  return {
    intervalMs: positive("pruneIntervalMs", opts.pruneIntervalMs ?? 60_000),
    run: async () => {
      const deleted = await pruneFinished(pool, keep);
      if (deleted > 0) opts.log?.(`deleted ${deleted} finished runs beyond the newest ${keep} (--retain-runs)`);
    },
  };
}
