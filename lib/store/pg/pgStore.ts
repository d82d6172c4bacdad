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
import { timeOrderedId, type IdGenerator } from "../../ids.ts";
import { pendingStages } from "../stages.ts";
import { STAGE_KINDS, type LogsPage, type Pipeline, type PipelineInput, type Run } from "../../api/schemas.ts";
import type { CancelResult, Claim, DeleteResult, IdempotencyKey, Idempotent, LastStage, ListRunsFilter, Page, RerunResult, StagePatch, Store } from "../store.ts";
import { assertCurrent, assertLaneAgrees, claimIds, claimNext, hasStage, type ClaimIds } from "./claimChecks.ts";
import { checkConnection, poolConfig, positive } from "./connection.ts";
import { query, transaction } from "./database.ts";
import { once } from "./idempotency.ts";
import { readLogs } from "./logsSql.ts";
import { migrate } from "./migrate.ts";
import { signalsOptions, type PgStoreOptions } from "./options.ts";
import * as sql from "./queueSql.ts";
import * as records from "./recordsSql.ts";
import { isRowId, logTexts, withoutNul, toPipeline, toRun, type PipelineRow, type RunRow } from "./rows.ts";
import { pruneFinished, retainedRuns } from "./retention.ts";
import { Signals } from "./signals.ts";

export type { PgStoreOptions };

type TriggeredRow = RunRow & { ready: boolean };

/** The error of a run failed by lease recovery (the stage that was running ends failed, later ones skipped). */
export const LEASE_EXPIRED = "worker lost: lease expired";

/** Runs recovered per statement: keeps each sweep transaction short. */
const RECOVER_BATCH = 100;

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
    const recover = async () => {
      for (const run of await this.recoverExpired()) opts.log?.(`run ${run.id} failed: ${LEASE_EXPIRED} (pipeline ${run.pipeline_id})`);
    };
    this.signals = new Signals(signalsOptions(url, opts, { pool: this.pool, clock: this.clock, leaseMs: this.leaseMs, retainRuns: this.retainRuns, recover }));
  }

  async createPipeline(input: PipelineInput): Promise<Pipeline> {
    const ms = this.clock.now();
    const [row] = await this.query<PipelineRow>(records.INSERT_PIPELINE, [this.ids(ms), input.name, input.repository, JSON.stringify(input.stages), iso(ms)]);
    return toPipeline(row!);
  }

  async createPipelineOnce(input: PipelineInput, key: IdempotencyKey): Promise<Idempotent<Pipeline>> {
    const ms = this.clock.now();
    const id = this.ids(ms);
    const values = [id, input.name, input.repository, JSON.stringify(input.stages), iso(ms)];
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
    const values = [id, input.name, input.repository, JSON.stringify(input.stages), now, this.signals.claimableChannel, this.signals.instance];
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

  async triggerRun(pipelineId: string, gitRef: string): Promise<Run | undefined> {
    if (!isRowId(pipelineId)) return undefined;
    const ms = this.clock.now();
    const row = await this.insertRun(this.pool, pipelineId, this.ids(ms), gitRef, ms);
    return row && this.triggered(row);
  }

  async triggerRunOnce(pipelineId: string, gitRef: string, key: IdempotencyKey): Promise<Idempotent<Run> | undefined> {
    if (!isRowId(pipelineId)) return undefined;
    const ms = this.clock.now();
    const id = this.ids(ms);
    let row: TriggeredRow | undefined;
    const make = async (client: pg.PoolClient) => (row = await this.insertRun(client, pipelineId, id, gitRef, ms)) && toRun(row);
    const result = await once(this.pool, `trigger ${pipelineId}`, key, ms, id, make, (made) => this.getRun(made));
    if (row && result && "value" in result && !result.replayed) this.triggered(row); // committed: tell this process
    return result;
  }

  /** TRIGGER_RUN, on the pool or in a transaction. */
  private async insertRun(db: pg.Pool | pg.PoolClient, pipelineId: string, id: string, gitRef: string, ms: number): Promise<TriggeredRow | undefined> {
    const values = [pipelineId, id, gitRef, iso(ms), STAGE_KINDS, this.signals.claimableChannel, this.signals.instance];
    return (await query<TriggeredRow>(db, sql.HOT.TRIGGER_RUN, values))[0];
  }

  /** A committed trigger's run, this process's workers told when its lane is ready. */
  private triggered(row: TriggeredRow): Run {
    if (row.ready) this.signals.claimable();
    return toRun(row);
  }

  /** Stand-in until the run-control half of the PostgreSQL spec (branch wip-pg17a) lands. */
  async rerunRun(_id: string): Promise<RerunResult | undefined> {
    throw new Error("not implemented on PostgreSQL yet");
  }

  /** Stand-in until the run-control half of the PostgreSQL spec (branch wip-pg17a) lands. */
  async cancelRun(_id: string, _reason: string): Promise<CancelResult | undefined> {
    throw new Error("not implemented on PostgreSQL yet");
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
    return claimNext(this.pool, workerId, this.clock, this.leaseMs);
  }

  async updateStage(claim: Claim, index: number, patch: StagePatch): Promise<void> {
    const at = Number.isInteger(index) ? index : -1;
    const now = iso(this.clock.now());
    const rows = await this.ownedQuery(claim, sql.HOT.UPDATE_STAGE, (ids) => [ids.id, ids.token, at, patch.status ?? null, logTexts(patch), now, patch.startNext === true, this.signals.runChannel]);
    if (rows.length === 0) {
      await assertCurrent(this.pool, claim);
      throw new RangeError(`run ${claim.run.id} has no stage ${hasStage(claim, index) ? index + 1 : index}`);
    }
  }

  async finishRun(claim: Claim, status: "success" | "failed" | "cancelled", error: string | null, last?: LastStage): Promise<Run> {
    if (last && !hasStage(claim, last.index)) throw new RangeError(`run ${claim.run.id} has no stage ${last.index}`);
    const now = iso(this.clock.now());
    const { claimableChannel, instance } = this.signals;
    const lastValues = last ? [last.index, last.status ?? null, logTexts(last)] : [null, null, []];
    // The watch (the lease's renewal) stays until the run has ended, through a failed finish's retries.
    const [row] = await this.ownedQuery<RunRow & { became_ready: boolean }>(claim, sql.HOT.FINISH_RUN, (ids) => [ids.id, ids.token, status, error, now, claimableChannel, instance, ids.pipelineId, ...lastValues, this.signals.runChannel]);
    if (!row) return assertLaneAgrees(this.pool, claim);
    this.signals.watches.drop(claim.token); // the owner ended its own run: nobody to tell
    if (row.became_ready) this.signals.claimable();
    return toRun(row);
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

  /** Calls only onLost: onCancel is the run-control half of the spec (branch wip-pg17a). */
  watchClaim(claim: Claim, onLost: (reason: string) => void): () => void {
    return this.signals.watch(claim, onLost);
  }

  onClaimable(listener: () => void): () => void {
    return this.signals.onClaimable(listener);
  }

  /**
   * Fails every running run whose lease expired by the injected clock, as "worker lost: lease expired"
   * (the policy of Buildkite and GitLab: a run's stages may have had effects, so it is not silently run
   * again as graphile-worker would retry a job); the stage that was running ends failed and later ones
   * skipped. Frees each pipeline so its next queued run becomes claimable, and tells the lost claims'
   * watchers in every process. Runs periodically in every store with onClaimable listeners.
   */
  async recoverExpired(): Promise<Run[]> {
    const recovered: Run[] = [];
    for (;;) {
      const { claimableChannel, instance, cancelChannel } = this.signals;
      const values = [iso(this.clock.now()), RECOVER_BATCH, LEASE_EXPIRED, claimableChannel, instance, cancelChannel];
      const rows = await this.query<RunRow & { lost_token: string; became_ready: boolean }>(sql.RECOVER_EXPIRED, values);
      for (const row of rows) {
        recovered.push(toRun(row));
        this.signals.watches.lose(row.lost_token, LEASE_EXPIRED);
      }
      if (rows.some((r) => r.became_ready)) this.signals.claimable();
      if (rows.length < RECOVER_BATCH) return recovered;
    }
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
