/**
 * The PostgreSQL Store: pipelines, runs and the run queue in one database, shared by any number of
 * API and worker processes. The invariants (one running run per pipeline, FIFO per pipeline, a dead
 * worker's run recovered) are kept by the statements of lib/store/pg/sql/queueSql.ts and the indexes of
 * lib/store/pg/schema/migrations.ts, not by this process. Wake-ups, cancel notices and leases: lib/store/pg/signals/signals.ts.
 *
 * Timestamps and lease expiry come from the injected Clock, sent as parameters (tests with a manual
 * clock see exact times): processes sharing a database need synchronised clocks (NTP).
 */
import pg from "pg";
import { iso, systemClock, type Clock } from "../../clock.ts";
import { timeOrderedId, type IdGenerator } from "../../ids.ts";
import { pendingStages } from "../stages.ts";
import type { LogsPage, Pipeline, PipelineInput, Run, RunEnv } from "../../api/schemas.ts";
import type { CancelResult, Claim, DeleteResult, IdempotencyKey, Idempotent, LastStage, ListRunsFilter, Page, RerunResult, StagePatch, Store } from "../store.ts";
import { assertCurrent, assertLaneAgrees, claimIds, claimNext, hasStage, type ClaimIds } from "./claimChecks.ts";
import { checkConnection, poolConfig, positive } from "./connection.ts";
import { query, transaction } from "./database.ts";
import { RERUN_SOURCE } from "./sql/controlSql.ts";
import { once } from "./idempotency.ts";
import { readLogs } from "./sql/logsSql.ts";
import { signalsOptions, type PgStoreOptions } from "./options.ts";
import * as sql from "./sql/queueSql.ts";
import * as records from "./sql/recordsSql.ts";
import { isRowId, logTexts, withoutNul, toPipeline, toRun, type PipelineRow, type RunRow } from "./rows.ts";
import { LEASE_EXPIRED, recoverExpired } from "./recovery.ts";
import { pruneFinished, retainedRuns } from "./retention.ts";
import { announce, cancelRun, enqueueRun, enqueueStatements, patchStage, type EnqueueRow } from "./runControl.ts";
import { Signals } from "./signals/signals.ts";

export { LEASE_EXPIRED, type PgStoreOptions };

export class PgStore implements Store {
  readonly durable = true;
  private readonly pool: pg.Pool;
  private readonly clock: Clock;
  private readonly ids: IdGenerator;
  private readonly leaseMs: number;
  private readonly retainRuns: number | undefined;
  private readonly signals: Signals;
  private closing: Promise<void> | undefined;

  /**
   * A store over an already migrated schema; no connection is made until the first call. A process
   * that owns its database migrates first: connectPgStore (lib/store/pg/schema/migrate.ts).
   */
  constructor(url: string, opts: PgStoreOptions = {}) {
    checkConnection(url, opts);
    this.clock = opts.clock ?? systemClock;
    this.ids = opts.ids ?? timeOrderedId;
    this.leaseMs = positive("leaseMs", opts.leaseMs ?? 30_000);
    this.retainRuns = opts.retainRuns === undefined ? undefined : retainedRuns(opts.retainRuns);
    this.pool = new pg.Pool(poolConfig(url, opts, positive("poolSize", opts.poolSize ?? 10)));
    // An idle connection's error (the server restarted): the pool drops it, the next query reports.
    this.pool.on("error", () => {});
    const recover = () => this.recoverExpired();
    this.signals = new Signals(signalsOptions(url, opts, { pool: this.pool, clock: this.clock, leaseMs: this.leaseMs, retainRuns: this.retainRuns, recover }));
  }

  async createPipeline(input: PipelineInput): Promise<Pipeline> {
    const ms = this.clock.now();
    const values = [this.ids(ms), input.name, input.repository, JSON.stringify(input.stages), iso(ms), input.concurrency ?? "queue"];
    const [row] = await this.query<PipelineRow>(records.INSERT_PIPELINE, values);
    return toPipeline(row!);
  }

  async createPipelineOnce(input: PipelineInput, key: IdempotencyKey): Promise<Idempotent<Pipeline>> {
    const ms = this.clock.now();
    const id = this.ids(ms);
    const values = [id, input.name, input.repository, JSON.stringify(input.stages), iso(ms), input.concurrency ?? "queue"];
    const make = async (client: pg.PoolClient) => toPipeline((await client.query<PipelineRow>(records.INSERT_PIPELINE, values)).rows[0]!);
    return (await once(this.pool, "create", key, ms, id, make, (made) => this.getPipeline(made)))!;
  }

  getPipeline(id: string): Promise<Pipeline | undefined> {
    return records.readPipeline(this.pool, id);
  }

  listPipelines(opts: { limit: number; cursor?: string | undefined }): Promise<Page<Pipeline>> {
    return records.readPipelines(this.pool, opts);
  }

  async updatePipeline(id: string, input: PipelineInput): Promise<Pipeline | undefined> {
    if (!isRowId(id)) return undefined;
    const now = iso(this.clock.now());
    const { claimableChannel, instance } = this.signals;
    const values = [id, input.name, input.repository, JSON.stringify(input.stages), now, claimableChannel, instance, input.concurrency ?? "queue"];
    const [row] = await this.query<PipelineRow & { ready: boolean }>(records.REPLACE_PIPELINE, values);
    if (row?.ready) this.signals.claimable();
    return row && toPipeline(row);
  }

  async deletePipeline(id: string): Promise<DeleteResult | undefined> {
    if (!isRowId(id)) return undefined;
    const now = iso(this.clock.now());
    const reason = "pipeline deleted";
    const rows = await transaction(this.pool, async (client) => {
      if ((await client.query(sql.DELETE_PIPELINE, [id])).rowCount === 0) return undefined;
      return (await client.query<RunRow & { was: string; lost_token: string | null }>(sql.CANCEL_PIPELINE_RUNS, [id, reason, now, this.signals.cancelChannel])).rows;
    });
    if (!rows) return undefined;
    const result: DeleteResult = { cancelledQueued: [], cancelledRunning: [] };
    for (const row of rows) {
      if (row.was === "running") {
        result.cancelledRunning.push(toRun(row));
        // This process's watcher hears now; other processes' through the cancel notification.
        if (row.lost_token) this.signals.watches.lose(row.lost_token, reason);
      } else result.cancelledQueued.push(toRun(row));
    }
    return result;
  }

  triggerRun(pipelineId: string, gitRef: string, env: RunEnv = {}): Promise<Run | undefined> {
    return this.enqueue(pipelineId, gitRef, env, null);
  }

  async rerunRun(id: string): Promise<RerunResult | undefined> {
    const [original] = isRowId(id) ? await this.query<{ pipeline_id: string; git_ref: string; env: RunEnv }>(RERUN_SOURCE, [id]) : [];
    if (!original) return undefined;
    const run = await this.enqueue(original.pipeline_id, original.git_ref, original.env, id);
    return run ? { run } : { pipelineDeleted: true };
  }

  private async enqueue(pipelineId: string, gitRef: string, env: RunEnv, rerunOf: string | null): Promise<Run | undefined> {
    if (!isRowId(pipelineId)) return undefined;
    const ms = this.clock.now();
    return enqueueRun(this.pool, this.signals, { pipelineId, id: this.ids(ms), gitRef, env, now: iso(ms), rerunOf });
  }

  /** A trigger and its key in one transaction, the lane locked first (lib/store/pg/runControl.ts). */
  async triggerRunOnce(pipelineId: string, gitRef: string, key: IdempotencyKey, env: RunEnv = {}): Promise<Idempotent<Run> | undefined> {
    if (!isRowId(pipelineId)) return undefined;
    const ms = this.clock.now();
    const id = this.ids(ms);
    let row: EnqueueRow | undefined;
    const run = { pipelineId, id, gitRef, env, now: iso(ms), rerunOf: null };
    const make = async (client: pg.PoolClient) => (row = await enqueueStatements(client, this.signals, run, true)) && toRun(row);
    const result = await once(this.pool, `trigger ${pipelineId}`, key, ms, id, make, (made) => this.getRun(made));
    if (row && result && "value" in result && !result.replayed) announce(this.signals, row, id); // committed: tell this process
    return result;
  }

  async cancelRun(id: string, reason: string): Promise<CancelResult | undefined> {
    return isRowId(id) ? cancelRun(this.pool, this.signals, id, `cancelled: ${reason}`, iso(this.clock.now())) : undefined;
  }

  getRun(id: string): Promise<Run | undefined> {
    return records.readRun(this.pool, id);
  }

  listRuns(filter: ListRunsFilter): Promise<Page<Run>> {
    return records.readRuns(this.pool, filter);
  }

  getLogs(runId: string, after: number, limit: number): Promise<LogsPage | undefined> {
    return isRowId(runId) ? readLogs(this.pool, runId, after, limit) : Promise.resolve(undefined);
  }

  onRunChange(runId: string, listener: () => void): () => void {
    return this.signals.onRunChange(runId, listener);
  }

  claimRun(workerId: string): Promise<Claim | undefined> {
    return claimNext(this.pool, this.signals, workerId, this.clock, this.leaseMs);
  }

  async updateStage(claim: Claim, index: number, patch: StagePatch): Promise<void> {
    const at = Number.isInteger(index) ? index : -1;
    const now = iso(this.clock.now());
    const ids = claimIds(claim);
    const attemptOnly = patch.attempt !== undefined && patch.status === undefined && !patch.logs?.length && !patch.startNext;
    const update = ids && !attemptOnly ? [ids.id, ids.token, at, patch.status ?? null, logTexts(patch), now, patch.startNext === true, this.signals.runChannel] : undefined;
    const attempt = ids && patch.attempt !== undefined ? [ids.id, ids.token, at, patch.attempt, now] : undefined;
    if (!ids || !(await patchStage(this.pool, update, attempt))) {
      await assertCurrent(this.pool, claim);
      throw new RangeError(`run ${claim.run.id} has no stage ${hasStage(claim, index) ? index + 1 : index}`);
    }
  }

  async finishRun(claim: Claim, status: "success" | "failed" | "cancelled", error: string | null, last?: LastStage): Promise<void> {
    if (last && !hasStage(claim, last.index)) throw new RangeError(`run ${claim.run.id} has no stage ${last.index}`);
    const now = iso(this.clock.now());
    const { claimableChannel, instance } = this.signals;
    const lastValues = last ? [last.index, last.status ?? null, logTexts(last)] : [null, null, []];
    // The watch (the lease's renewal) stays until the run has ended, through a failed finish's retries.
    const [row] = await this.ownedQuery<{ became_ready: boolean }>(claim, sql.HOT.FINISH_RUN, (ids) => [ids.id, ids.token, status, error, now, claimableChannel, instance, ids.pipelineId, ...lastValues, this.signals.runChannel]);
    if (!row) return assertLaneAgrees(this.pool, claim);
    this.signals.watches.drop(claim.token); // the owner ended its own run: nobody to tell
    if (row.became_ready) this.signals.claimable();
  }

  async releaseRun(claim: Claim, reason: string): Promise<void> {
    const stages = JSON.stringify(pendingStages(claim.spec));
    const now = iso(this.clock.now());
    const { claimableChannel, instance, runChannel } = this.signals;
    const line = withoutNul(`previous attempt handed back to the queue: ${reason}`);
    const values = (ids: ClaimIds) => [ids.id, ids.token, now, stages, claimableChannel, instance, ids.pipelineId, line, runChannel];
    const [row] = await this.ownedQuery<{ released: number }>(claim, sql.RELEASE_RUN, values);
    if (!row?.released) await assertLaneAgrees(this.pool, claim);
    this.signals.watches.drop(claim.token);
    this.signals.claimable();
  }

  watchClaim(claim: Claim, onLost: (reason: string) => void, onCancel?: (error: string) => void): () => void {
    return this.signals.watch(claim, onLost, onCancel);
  }

  onClaimable(listener: () => void): () => void {
    return this.signals.onClaimable(listener);
  }

  /**
   * Ends every running run whose lease expired by the injected clock (lib/store/pg/recovery.ts). Runs
   * periodically in every store with onClaimable listeners.
   */
  recoverExpired(): Promise<Run[]> {
    return recoverExpired(this.pool, this.signals, () => iso(this.clock.now()));
  }

  /**
   * Deletes the finished runs beyond the newest retainRuns, in batches (lib/store/pg/retention.ts);
   * resolves to how many. Without retainRuns it deletes nothing. Runs periodically in every store
   * with onClaimable listeners; safe to run in several processes at once.
   */
  pruneFinished(): Promise<number> {
    return this.retainRuns === undefined ? Promise.resolve(0) : pruneFinished(this.pool, this.retainRuns);
  }

  async cancelQueued(reason: string): Promise<Run[]> {
    const now = iso(this.clock.now());
    const rows = await transaction(this.pool, async (client) => {
      const lanes = (await client.query<{ id: string }>(sql.EMPTY_LANES)).rows.map((r) => r.id);
      if (lanes.length === 0) return [];
      return (await client.query<RunRow>(sql.CANCEL_QUEUED, [lanes, reason, now])).rows;
    });
    return rows.map(toRun);
  }

  /** Resolves once this store receives notifications (wake-ups and cancel notices from any process). */
  listen(): Promise<void> {
    return this.signals.listen();
  }

  /** Ends the LISTEN connection, the timers and the pool. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.signals.close();
      await this.pool.end();
    })();
    return this.closing;
  }

  /** A statement about a claimed run; a claim whose ids cannot be current matches no row. */
  private ownedQuery<R extends pg.QueryResultRow>(claim: Claim, text: string | pg.QueryConfig, values: (ids: ClaimIds) => unknown[]): Promise<R[]> {
    const ids = claimIds(claim);
    return ids ? this.query<R>(text, values(ids)) : Promise.resolve([]);
  }

  private query<R extends pg.QueryResultRow>(text: string | pg.QueryConfig, values: unknown[] = []): Promise<R[]> {
    return query<R>(this.pool, text, values);
  }
}
