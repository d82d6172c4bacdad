/**
 * PgStore's run control over its pool: triggers and reruns under the pipeline's concurrency policy,
 * cancels, and stage patches that set an attempt count (the statements are in controlSql.ts). A cancel
 * asked of a running run is told to this process's watchers at once, and to other processes' by the
 * notice its statement sends.
 */
import type pg from "pg";
import { STAGE_KINDS } from "../../api/order.ts";
import type { Run, RunEnv } from "../../api/schemas.ts";
import type { CancelResult } from "../store.ts";
import { CANCEL_RUN, LOCK_LANE, POLICY_RERUN_RUN, POLICY_TRIGGER_RUN, RERUN_RUN, SET_ATTEMPT } from "./sql/controlSql.ts";
import { query, transaction } from "./database.ts";
import { HOT } from "./sql/queueSql.ts";
import { toRun, type RunRow } from "./rows.ts";
import type { Signals } from "./signals/signals.ts";

/** An enqueue statement's row: a new run, or (id null) none written. */
export type EnqueueRow = RunRow & { locked: number; ready: boolean; cancel_token?: string | null };

type CancelRow = RunRow & { outcome: CancelResult["outcome"]; cancel_token: string | null; ready: boolean };

interface NewRun {
  pipelineId: string;
  id: string;
  gitRef: string;
  env: RunEnv;
  now: string;
  rerunOf: string | null;
}

/**
 * A new queued run `id` of the pipeline (of `rerunOf`'s spec and repository, or the pipeline's), its policy
 * applied; undefined when the pipeline does not exist. A `queue` pipeline's takes one statement. On a
 * pipeline with a policy that statement writes nothing and the policy's statement follows; if that
 * one met a stale snapshot of its lane, it is repeated in a transaction that locks the lane first, so
 * that its snapshot is taken while no one else can change the lane.
 */
export async function enqueueRun(pool: pg.Pool, signals: Signals, run: NewRun): Promise<Run | undefined> {
  let row = await enqueueStatements(pool, signals, run, false);
  if (row?.locked && row.id === null) {
    row = await transaction(pool, (client) => enqueueStatements(client, signals, run, true));
    // Its policy became `queue` meanwhile (an update of the pipeline): as a `queue` pipeline's.
    if (row?.locked && row.id === null) return enqueueRun(pool, signals, run);
  }
  if (!row?.id) return undefined;
  announce(signals, row, run.id);
  return toRun(row);
}

/**
 * enqueueRun's statements, without telling anyone: on `db`, a pool or a transaction's client; with
 * `lock`, in a transaction that locks the lane first (then no snapshot of it is stale). A row whose id
 * is null wrote nothing (a stale snapshot); undefined for no such pipeline.
 */
export async function enqueueStatements(db: pg.Pool | pg.PoolClient, signals: Signals, run: NewRun, lock: boolean): Promise<EnqueueRow | undefined> {
  const { claimableChannel, instance, cancelChannel } = signals;
  const values = [run.pipelineId, run.id, run.gitRef, run.now, STAGE_KINDS, claimableChannel, instance, JSON.stringify(run.env)];
  const original = run.rerunOf === null ? [] : [run.rerunOf];
  if (lock) await query(db, LOCK_LANE, [null, run.pipelineId]);
  const [row] = await query<EnqueueRow>(db, run.rerunOf === null ? HOT.TRIGGER_RUN : RERUN_RUN, [...values, ...original]);
  if (!row || row.locked === 0 || row.id !== null) return row && row.locked !== 0 ? row : undefined;
  const policy = run.rerunOf === null ? POLICY_TRIGGER_RUN : POLICY_RERUN_RUN;
  const [policyRow] = await query<EnqueueRow>(db, policy, [...values, cancelChannel, ...original]);
  return policyRow?.locked ? policyRow : undefined;
}

/** Tells this process of a committed enqueue: the superseded running run's watcher, and idle workers. */
export function announce(signals: Signals, row: EnqueueRow, id: string): void {
  if (row.cancel_token) signals.watches.cancel(row.cancel_token, `superseded by run ${id}`);
  if (row.ready) signals.claimable();
}

/** Cancels run `id` (CANCEL_RUN) with its lane locked first, in one transaction; undefined when there is no such run. */
export async function cancelRun(pool: pg.Pool, signals: Signals, id: string, error: string, now: string): Promise<CancelResult | undefined> {
  const row = await transaction(pool, async (client) => {
    await client.query(LOCK_LANE, [id, null]);
    return (await client.query<CancelRow>(CANCEL_RUN, [id, error, now, signals.cancelChannel, signals.claimableChannel, signals.instance, signals.runChannel])).rows[0];
  });
  if (!row) return undefined;
  if (row.cancel_token) signals.watches.cancel(row.cancel_token, error);
  if (row.ready) signals.claimable();
  return { outcome: row.outcome, run: toRun(row) };
}

/**
 * A stage patch: `update` (UPDATE_STAGE's values, undefined for a patch of the attempt count alone),
 * then `attempt` (SET_ATTEMPT's values, undefined for none), both in one transaction when there are
 * both; false when the run has no such stage or the claim is not current.
 */
export async function patchStage(pool: pg.Pool, update: unknown[] | undefined, attempt: unknown[] | undefined): Promise<boolean> {
  if (!attempt) return (await query(pool, HOT.UPDATE_STAGE, update)).length > 0;
  if (!update) return (await query(pool, SET_ATTEMPT, attempt)).length > 0;
  const changed = (result: pg.QueryResult) => (result.rowCount ?? 0) > 0;
  return transaction(pool, async (client) => changed(await client.query({ ...HOT.UPDATE_STAGE, values: update })) && changed(await client.query(SET_ATTEMPT, attempt)));
}
