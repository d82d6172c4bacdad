/**
 * The PostgreSQL Store: pipelines, runs and the run queue in one database, shared by any number of
 * API and worker processes. The invariants (one running run per pipeline, FIFO per pipeline, a dead
 * worker's run recovered) are kept by the statements of lib/pg/queueSql.ts and the indexes of
 * lib/pg/migrations.ts, not by this process. Wake-ups, cancel notices and leases: lib/pg/signals.ts.
 *
 * Timestamps and lease expiry come from the injected Clock, sent as parameters (tests with a manual
 * clock see exact times): processes sharing a database need synchronised clocks (NTP).
 */
import pg from "pg";
import { iso, systemClock, type Clock } from "../../clock.ts";
import { randomId, timeOrderedId, type IdGenerator } from "../../ids.ts";
import { decodeCursor } from "../cursor.ts";
import { pendingStages, releasedStages } from "../stages.ts";
import type { Pipeline, PipelineInput, Run } from "../../api/schemas.ts";
import type { CancelResult, Claim, DeleteResult, LastStage, ListRunsFilter, Page, RerunResult, StagePatch, Store } from "../store.ts";
import { assertCurrent, claimIds, hasStage, renewLeases, watchState, type ClaimIds } from "./claimChecks.ts";
import { RERUN_SOURCE } from "./controlSql.ts";
import { channelName, checkConnection, clientConfig, poolConfig, positive } from "./connection.ts";
import { query, transaction } from "./database.ts";
import { migrate } from "./migrate.ts";
import type { PgStoreOptions } from "./options.ts";
import * as sql from "./queueSql.ts";
import * as records from "./recordsSql.ts";
import { isRowId, logsJson, page, toPipeline, toRun, type ClaimedRow, type PipelineRow, type RunRow } from "./rows.ts";
import { LEASE_EXPIRED, recoverExpired, sweeping } from "./recovery.ts";
import { pruneFinished, pruning, retainedRuns } from "./retention.ts";
import { cancelRun, enqueueRun, patchStage } from "./runControl.ts";
import { Signals } from "./signals.ts";

export { LEASE_EXPIRED, type PgStoreOptions };

/** Claim attempts per claimRun when a lane changed under the statement or a unique violation hit. */
const CLAIM_ATTEMPTS = 5;

/** What the stand-ins below answer. */
const notOnPostgresYet = (): never => {
  throw new Error("not implemented on PostgreSQL yet");
};

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
   * Connects, brings the schema up to date (lib/pg/migrate.ts) and returns the store. Fails with
   * ConfigError for a bad URL or a schema newer than this code, ServiceUnavailableError when the
   * database cannot be reached.
   */
  static async connect(url: string, opts: PgStoreOptions = {}): Promise<PgStore> {
    const store = new PgStore(url, opts);
    try {
      await migrate(store.pool, opts);
    } catch (thrown) {
      await store.close();
      throw thrown;
    }
    return store;
  }

  /** A store over an already migrated schema; no connection is made until the first call. */
  constructor(url: string, opts: PgStoreOptions = {}) {
    checkConnection(url, opts);
    this.clock = opts.clock ?? systemClock;
    this.ids = opts.ids ?? timeOrderedId;
    this.leaseMs = positive("leaseMs", opts.leaseMs ?? 30_000);
    this.retainRuns = opts.retainRuns === undefined ? undefined : retainedRuns(opts.retainRuns);
    this.pool = new pg.Pool(poolConfig(url, opts, positive("poolSize", opts.poolSize ?? 10)));
    // An idle connection's error (the server restarted): the pool drops it, the next query reports.
    this.pool.on("error", () => {});
    this.signals = new Signals({
      listen: clientConfig(url, opts, "stagerunner-listen"),
      claimableChannel: channelName("stagerunner_claimable", opts.schema),
      cancelChannel: channelName("stagerunner_cancel", opts.schema),
      leaseMs: this.leaseMs,
      pollIntervalMs: positive("pollIntervalMs", opts.pollIntervalMs ?? 2000),
      renew: (held) => renewLeases(this.pool, held, iso(this.clock.now() + this.leaseMs)),
      check: (claim) => watchState(this.pool, claim),
      periodic: [sweeping(this.leaseMs, opts, () => this.recoverExpired()), ...(this.retainRuns === undefined ? [] : [pruning(this.pool, this.retainRuns, opts)])],
    });
  }

  async createPipeline(input: PipelineInput): Promise<Pipeline> {
    const ms = this.clock.now();
    const now = iso(ms);
    const values = [this.ids(ms), input.name, input.repository, JSON.stringify(input.stages), now, input.concurrency ?? "queue"];
    const [row] = await this.query<PipelineRow>(records.INSERT_PIPELINE, values);
    return toPipeline(row!);
  }

  async getPipeline(id: string): Promise<Pipeline | undefined> {
    if (!isRowId(id)) return undefined;
    const [row] = await this.query<PipelineRow>(records.SELECT_PIPELINE, [id]);
    return row && toPipeline(row);
  }

  async listPipelines(opts: { limit: number; cursor?: string | undefined }): Promise<Page<Pipeline>> {
    const after = opts.cursor === undefined ? 0 : decodeCursor(opts.cursor);
    const rows = await this.query<PipelineRow>(records.LIST_PIPELINES, [after, opts.limit + 1]);
    return page(rows, opts.limit, toPipeline);
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

  triggerRun(pipelineId: string, gitRef: string): Promise<Run | undefined> {
    return this.enqueue(pipelineId, gitRef, null);
  }

  async rerunRun(id: string): Promise<RerunResult | undefined> {
    const [original] = isRowId(id) ? await this.query<{ pipeline_id: string; git_ref: string }>(RERUN_SOURCE, [id]) : [];
    if (!original) return undefined;
    const run = await this.enqueue(original.pipeline_id, original.git_ref, id);
    return run ? { run } : { pipelineDeleted: true };
  }

  private async enqueue(pipelineId: string, gitRef: string, rerunOf: string | null): Promise<Run | undefined> {
    if (!isRowId(pipelineId)) return undefined;
    const ms = this.clock.now();
    return enqueueRun(this.pool, this.signals, { pipelineId, id: this.ids(ms), gitRef, now: iso(ms), rerunOf });
  }

  async cancelRun(id: string, reason: string): Promise<CancelResult | undefined> {
    return isRowId(id) ? cancelRun(this.pool, this.signals, id, `cancelled: ${reason}`, iso(this.clock.now())) : undefined;
  }

  async getRun(id: string): Promise<Run | undefined> {
    if (!isRowId(id)) return undefined;
    const [row] = await this.query<RunRow>(records.SELECT_RUN, [id]);
    return row && toRun(row);
  }

  async listRuns(filter: ListRunsFilter): Promise<Page<Run>> {
    if (filter.pipeline_id !== undefined && !isRowId(filter.pipeline_id)) return { items: [] };
    const beforeSeq = filter.cursor === undefined ? undefined : decodeCursor(filter.cursor);
    const { text, values } = records.selectRuns({ pipelineId: filter.pipeline_id, status: filter.status, beforeSeq, limit: filter.limit + 1 });
    return page(await this.query<RunRow>(text, values), filter.limit, toRun);
  }

  async claimRun(workerId: string): Promise<Claim | undefined> {
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const now = this.clock.now();
      const token = randomId();
      let row: (ClaimedRow & { locked: number }) | undefined;
      try {
        [row] = await this.query<ClaimedRow & { locked: number }>(sql.HOT.CLAIM_RUN, [iso(now), workerId, token, iso(now + this.leaseMs)]);
      } catch (thrown) {
        // The unique index refused a second running run: the lanes disagree with the runs. Not the
        // caller's problem; nothing was claimed this time.
        if ((thrown as { code?: string }).code === "23505") continue;
        throw thrown;
      }
      if (!row || row.locked === 0) return undefined;
      // A lane was locked but it changed after this statement's snapshot: try again with a fresh one.
      if (row.id === null) continue;
      return { run: { id: row.id, pipeline_id: row.pipeline_id, git_ref: row.git_ref }, spec: row.spec, workerId, token };
    }
    return undefined;
  }

  async updateStage(claim: Claim, index: number, patch: StagePatch): Promise<void> {
    const at = Number.isInteger(index) ? index : -1;
    const now = iso(this.clock.now());
    const ids = claimIds(claim);
    const attemptOnly = patch.attempt !== undefined && patch.status === undefined && !patch.logs?.length && !patch.startNext;
    const update = ids && !attemptOnly ? [ids.id, ids.token, at, patch.status ?? null, logsJson(patch), now, patch.startNext === true] : undefined;
    const attempt = ids && patch.attempt !== undefined ? [ids.id, ids.token, at, patch.attempt, now] : undefined;
    if (!ids || !(await patchStage(this.pool, update, attempt))) {
      await assertCurrent(this.pool, claim);
      throw new RangeError(`run ${claim.run.id} has no stage ${hasStage(claim, index) ? index + 1 : index}`);
    }
  }

  async finishRun(claim: Claim, status: "success" | "failed" | "cancelled", error: string | null, last?: LastStage): Promise<Run> {
    if (last && !hasStage(claim, last.index)) throw new RangeError(`run ${claim.run.id} has no stage ${last.index}`);
    const now = iso(this.clock.now());
    const { claimableChannel, instance } = this.signals;
    const lastValues = last ? [last.index, last.status ?? null, logsJson(last)] : [null, null, "[]"];
    // The watch (the lease's renewal) stays until the run has ended, through a failed finish's retries.
    const [row] = await this.ownedQuery<RunRow & { became_ready: boolean }>(claim, sql.HOT.FINISH_RUN, (ids) => [ids.id, ids.token, status, error, now, claimableChannel, instance, ids.pipelineId, ...lastValues]);
    if (!row) return this.laneDisagrees(claim);
    this.signals.watches.drop(claim.token); // the owner ended its own run: nobody to tell
    if (row.became_ready) this.signals.claimable();
    return toRun(row);
  }

  async releaseRun(claim: Claim, reason: string): Promise<void> {
    const stages = JSON.stringify(releasedStages(pendingStages(claim.spec), reason));
    const now = iso(this.clock.now());
    const { claimableChannel, instance } = this.signals;
    const [row] = await this.ownedQuery<{ released: number }>(claim, sql.RELEASE_RUN, (ids) => [ids.id, ids.token, now, stages, claimableChannel, instance, ids.pipelineId]);
    if (!row?.released) await this.laneDisagrees(claim);
    this.signals.watches.drop(claim.token);
    this.signals.claimable();
  }

  watchClaim(claim: Claim, onLost: (reason: string) => void, onCancel?: (error: string) => void): () => void {
    return this.signals.watch(claim, onLost, onCancel);
  }

  // STAND-INS: log lines and idempotency keys are not on PostgreSQL yet; these keep PgStore a Store.
  readonly getLogs: Store["getLogs"] = notOnPostgresYet;
  readonly onRunChange: Store["onRunChange"] = notOnPostgresYet;
  readonly createPipelineOnce: Store["createPipelineOnce"] = notOnPostgresYet;
  readonly triggerRunOnce: Store["triggerRunOnce"] = notOnPostgresYet;

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

  /** After a finish or release matched no row: StaleClaimError, or (a bug) a lane that lost track of its run. */
  private async laneDisagrees(claim: Claim): Promise<never> {
    await assertCurrent(this.pool, claim);
    throw new Error(`run ${claim.run.id} is running under this claim but its pipeline's lane does not name it`);
  }

  private query<R extends pg.QueryResultRow>(text: string | pg.QueryConfig, values: unknown[] = []): Promise<R[]> {
    return query<R>(this.pool, text, values);
  }
}
