/**
 * Lease recovery: the runs of workers that stopped renewing their leases (killed, or cut off from the
 * database) are ended, so that their pipelines' next runs can start.
 */
import type pg from "pg";
import type { Run } from "../../api/schemas.ts";
import { positive } from "./connection.ts";
import { query } from "./database.ts";
import type { PgStoreOptions } from "./options.ts";
import { RECOVER_EXPIRED } from "./sql/queueSql.ts";
import { toRun, type RunRow } from "./rows.ts";
import type { Periodic, Signals } from "./signals/signals.ts";

/** The error of a run failed by lease recovery (the stage that was running ends failed, later ones skipped). */
export const LEASE_EXPIRED = "worker lost: lease expired";

/** Runs recovered per statement: keeps each sweep transaction short. */
const RECOVER_BATCH = 100;

/**
 * Fails every running run whose lease expired before `now`, as LEASE_EXPIRED (the policy of Buildkite
 * and GitLab: a run's stages may have had effects, so it is not silently run again as graphile-worker
 * would retry a job); a run whose cancel was asked for ends cancelled, with the cancel's error. Frees
 * each pipeline so its next queued run becomes claimable, and tells the lost claims' watchers in
 * every process.
 */
export async function recoverExpired(pool: pg.Pool, signals: Signals, now: () => string): Promise<Run[]> {
  const recovered: Run[] = [];
  for (;;) {
    const { claimableChannel, instance, cancelChannel } = signals;
    const values = [now(), RECOVER_BATCH, LEASE_EXPIRED, claimableChannel, instance, cancelChannel];
    const rows = await query<RunRow & { lost_token: string; became_ready: boolean }>(pool, RECOVER_EXPIRED, values);
    for (const row of rows) {
      recovered.push(toRun(row));
      signals.watches.lose(row.lost_token, row.error ?? LEASE_EXPIRED);
    }
    if (rows.some((r) => r.became_ready)) signals.claimable();
    if (rows.length < RECOVER_BATCH) return recovered;
  }
}

/** The sweep of a store with workers: every sweepIntervalMs (default leaseMs / 2, at most 5 s), a line logged for each run it ended. */
export function sweeping(leaseMs: number, opts: Pick<PgStoreOptions, "sweepIntervalMs" | "log">, recover: () => Promise<Run[]>): Periodic {
  return {
    intervalMs: positive("sweepIntervalMs", opts.sweepIntervalMs ?? Math.min(leaseMs / 2, 5000)),
    run: async () => {
      for (const run of await recover()) opts.log?.(`run ${run.id} ${run.status}: ${run.error} (pipeline ${run.pipeline_id})`);
    },
  };
}
