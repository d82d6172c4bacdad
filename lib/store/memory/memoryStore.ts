/**
 * The in-memory Store: the emulator's default. Every method runs to completion without an await
 * between reading and writing, so claims are atomic on Node's single thread.
 *
 * Runs are rows of a RunTable (lib/runTable.ts), updated in place and read out as copies. The queue
 * is indexed for O(log P) claims: one FIFO of queued rows per pipeline (its Lane), and a list of the
 * pipelines that are ready (nothing running, something queued), as the row of their oldest queued
 * run, in trigger order.
 */
import { iso, systemClock, type Clock } from "../../clock.ts";
import { timeOrderedId, type IdGenerator } from "../../ids.ts";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { StaleClaimError } from "../../api/errors.ts";
import { Lane, MemoryClaim, PipelineVersion, type PipelineRecord } from "./memoryRecords.ts";
import { RunIds } from "./runIds.ts";
import { RunTable } from "./runTable.ts";
import type { Pipeline, PipelineInput, Run, StageStatus } from "../../api/schemas.ts";
import type { Claim, DeleteResult, ImmediateWrites, LastStage, LineBuffer, ListRunsFilter, Page, StagePatch, Store } from "../store.ts";
import { insertSorted, lowerBound } from "./sorted.ts";

export interface MemoryStoreOptions {
  clock?: Clock;
  ids?: IdGenerator;
}

export class MemoryStore implements Store {
  readonly durable = false;
  private readonly clock: Clock;
  private readonly ids: IdGenerator;
  /** Whether `ids` makes the runs' ids too; else the run table makes timeOrderedIds in place. */
  private readonly runIdsGiven: boolean;
  /** Pipelines' creation order. */
  private seq = 0;
  private claims = 0;
  private readonly pipelines = new Map<string, PipelineRecord>();
  /** Ascending seq, for listing. */
  private readonly pipelineOrder: PipelineRecord[] = [];
  private readonly table = new RunTable();
  private readonly runIds = new RunIds(this.table);
  /** By pipeline id, deleted pipelines' too. */
  private readonly lanes = new Map<string, Lane>();
  /** The row of the oldest queued run of each pipeline with nothing running, ascending. */
  private readonly ready: number[] = [];
  /** An array: a Set's iteration, on every trigger, was a call of its own. */
  private listeners: (() => void)[] = [];

  /** The worker's writes, made before they return: the worker pool's fast path (see ImmediateWrites). */
  readonly immediate: ImmediateWrites = {
    claimRun: (workerId) => this.claim(workerId),
    stageSucceeded: (claim, index, logs, startNext) => this.patch(claim, index, "success", logs.lines, logs.count, startNext),
    finishRun: (claim, status, error, index, logs, next) => this.handOn(claim, status, error, index, logs, next),
  };

  constructor(opts: MemoryStoreOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.ids = opts.ids ?? timeOrderedId;
    this.runIdsGiven = opts.ids !== undefined;
  }

  async createPipeline(input: PipelineInput): Promise<Pipeline> {
    const ms = this.clock.now();
    const now = iso(ms);
    const pipeline: Pipeline = { id: this.ids(ms), ...input, created_at: now, updated_at: now };
    const lane = new Lane();
    const record = { seq: ++this.seq, pipeline, version: new PipelineVersion(pipeline.id, lane, pipeline.stages) };
    this.pipelines.set(pipeline.id, record);
    this.lanes.set(pipeline.id, lane);
    this.pipelineOrder.push(record);
    return pipeline;
  }

  async getPipeline(id: string): Promise<Pipeline | undefined> {
    return this.pipelines.get(id)?.pipeline;
  }

  async listPipelines(opts: { limit: number; cursor?: string | undefined }): Promise<Page<Pipeline>> {
    const after = opts.cursor === undefined ? 0 : decodeCursor(opts.cursor);
    const start = lowerBound(this.pipelineOrder, (r) => r.seq > after);
    const slice = this.pipelineOrder.slice(start, start + opts.limit + 1);
    const items = slice.slice(0, opts.limit);
    const last = items.at(-1);
    return slice.length > opts.limit && last
      ? { items: items.map((r) => r.pipeline), next: encodeCursor(last.seq) }
      : { items: items.map((r) => r.pipeline) };
  }

  async updatePipeline(id: string, input: PipelineInput): Promise<Pipeline | undefined> {
    const record = this.pipelines.get(id);
    if (!record) return undefined;
    record.pipeline = { ...record.pipeline, ...input, updated_at: iso(this.clock.now()) };
    record.version = new PipelineVersion(id, record.version.lane, record.pipeline.stages);
    return record.pipeline;
  }

  async deletePipeline(id: string): Promise<DeleteResult | undefined> {
    const record = this.pipelines.get(id);
    if (!record) return undefined;
    this.pipelines.delete(id);
    this.pipelineOrder.splice(lowerBound(this.pipelineOrder, (r) => r.seq >= record.seq), 1);
    const reason = "pipeline deleted";
    const { lane } = record.version;
    const queued = lane.drain();
    const readyAt = this.ready.findIndex((row) => this.table.laneOf(row) === lane);
    if (readyAt >= 0) this.ready.splice(readyAt, 1);
    const cancelledQueued = queued.map((row) => this.finishedRun(row, "cancelled", reason));
    const cancelledRunning = lane.running >= 0 ? [this.finishedRun(lane.running, "cancelled", reason)] : [];
    return { cancelledQueued, cancelledRunning };
  }

  async triggerRun(pipelineId: string, gitRef: string): Promise<Run | undefined> {
    const pipelineRecord = this.pipelines.get(pipelineId);
    if (!pipelineRecord) return undefined;
    const { version } = pipelineRecord;
    const { lane } = version;
    const now = this.clock.now();
    const row = this.table.add(this.runIdsGiven ? this.ids(now) : undefined, version, gitRef, now);
    this.runIds.add(row, !this.runIdsGiven);
    lane.history.push(row);
    // Read before anyone is told: a listener may claim it at once.
    const run = this.table.added(row);
    lane.enqueue(row, run.id);
    if (lane.queued === 1 && lane.running < 0) {
      insertSorted(this.ready, row, byRow);
      this.notify();
    }
    return run;
  }

  async getRun(id: string): Promise<Run | undefined> {
    const row = this.runIds.rowOf(id);
    return row === undefined ? undefined : this.table.toRun(row);
  }

  /** Cursors hold a run's position: its row + 1. */
  async listRuns(filter: ListRunsFilter): Promise<Page<Run>> {
    const history = filter.pipeline_id ? (this.lanes.get(filter.pipeline_id)?.history ?? []) : undefined;
    const before = filter.cursor === undefined ? Infinity : decodeCursor(filter.cursor) - 1;
    const end = history ? lowerBound(history, (row) => row >= before) : Math.min(this.table.size, before);
    const items: Run[] = [];
    let last = 0;
    for (let i = end - 1; i >= 0; i--) {
      const row = history ? history[i]! : i;
      if (filter.status && this.table.runStatus(row) !== filter.status) continue;
      if (items.length === filter.limit) return { items, next: encodeCursor(last + 1) };
      items.push(this.table.toRun(row));
      last = row;
    }
    return { items };
  }

  async claimRun(workerId: string): Promise<Claim | undefined> {
    return this.claim(workerId);
  }

  async updateStage(claim: Claim, index: number, patch: StagePatch): Promise<void> {
    const logs = patch.logs ?? NO_LINES;
    this.patch(claim, index, patch.status, logs, logs.length, patch.startNext === true);
  }

  async finishRun(claim: Claim, status: "success" | "failed" | "cancelled", error: string | null, last?: LastStage): Promise<Run> {
    const logs = last?.logs ?? NO_LINES;
    const row = this.end(claim, status, error, last?.index, last?.status, logs, logs.length);
    this.announceNext(this.table.laneOf(row));
    return this.table.toRun(row);
  }

  /** Claims the oldest claimable run for `workerId`, started at `now` (read from the clock if not given). */
  private claim(workerId: string, now?: number): Claim | undefined {
    const row = this.ready.shift();
    if (row === undefined) return undefined;
    const version = this.table.versionOf(row);
    const { lane } = version;
    const id = lane.dequeue();
    this.table.start(row, now ?? this.clock.now());
    const token = `${++this.claims}`;
    lane.running = row;
    lane.token = token;
    return new MemoryClaim(this.table.claimed(row, id), version.stages, workerId, token, row, this);
  }

  /** A StagePatch, its lines the first `count` of `lines`. */
  private patch(claim: Claim, index: number, status: StageStatus | undefined, lines: readonly string[], count: number, startNext: boolean): void {
    const row = this.owned(claim);
    const now = this.clock.now();
    this.table.patchStage(row, index, status, lines, count, startNext, now);
    this.table.touch(row, now);
  }

  /** Ends a run its claim owns, after its stage `index` is patched (if given), at `now`; returns its row. */
  private end(claim: Claim, status: "success" | "failed" | "cancelled", error: string | null, index: number | undefined, stageStatus: StageStatus | undefined, lines: readonly string[], count: number, now = this.clock.now()): number {
    const row = this.owned(claim);
    if (index !== undefined) this.table.patchStage(row, index, stageStatus, lines, count, false, now);
    this.table.laneOf(row).onLost = undefined; // the owner ends its own run: nobody to tell
    this.finish(row, status, error, now);
    return row;
  }

  /**
   * The immediate finishRun: ends the run and, given `next`, claims that worker's next run at the same
   * moment, before anyone is told of a run the end made claimable: with a worker that ends a run and
   * takes its pipeline's next itself, telling an idle one woke it for nothing (a promise, a turn and a
   * claim that found nothing, once a run with one pipeline and two workers or more).
   */
  private handOn(claim: Claim, status: "success" | "failed", error: string | null, index: number, logs: LineBuffer, next: string | undefined): Claim | undefined {
    const now = this.clock.now();
    const row = this.end(claim, status, error, index, status, logs.lines, logs.count, now);
    const claimed = next === undefined ? undefined : this.claim(next, now);
    this.announceNext(this.table.laneOf(row));
    return claimed;
  }

  async releaseRun(claim: Claim, reason: string): Promise<void> {
    const row = this.owned(claim);
    const lane = this.table.laneOf(row);
    lane.free();
    this.table.release(row, reason, this.clock.now());
    // Back at the head of its pipeline's queue: it was the oldest when it was claimed.
    lane.requeueFirst(row, this.table.idOf(row));
    insertSorted(this.ready, row, byRow);
    this.notify();
  }

  watchClaim(claim: Claim, onLost: (reason: string) => void): () => void {
    const row = this.rowOf(claim);
    const lane = row === undefined ? undefined : this.table.laneOf(row);
    if (row === undefined || !lane?.holds(row, claim.token)) {
      queueMicrotask(() => onLost("the run is no longer claimed by this worker"));
      return () => {};
    }
    // Arrays of exactly their watchers (a push onto an empty one reserves 17 slots), one per claim mostly.
    lane.onLost = lane.onLost ? [...lane.onLost, onLost] : [onLost];
    return () => {
      if (lane.onLost && lane.token === claim.token) lane.onLost = lane.onLost.filter((f) => f !== onLost);
    };
  }

  onClaimable(listener: () => void): () => void {
    if (!this.listeners.includes(listener)) this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  async cancelQueued(reason: string): Promise<Run[]> {
    const cancelled: Run[] = [];
    this.ready.length = 0;
    for (const lane of this.lanes.values()) {
      for (const row of lane.drain()) cancelled.push(this.finishedRun(row, "cancelled", reason));
    }
    return cancelled;
  }

  async close(): Promise<void> {
    this.listeners = [];
  }

  /** The row behind a claim: carried by this store's own, else looked up by id. */
  private rowOf(claim: Claim): number | undefined {
    return MemoryClaim.rowOf(claim, this) ?? this.runIds.rowOf(claim.run.id);
  }

  /** The row of a claimed run, if the claim is still current. */
  private owned(claim: Claim): number {
    const row = this.rowOf(claim);
    if (row === undefined) throw new StaleClaimError(claim.run.id, "no such run");
    const lane = this.table.laneOf(row);
    if (!lane.holds(row, claim.token)) throw new StaleClaimError(claim.run.id, `run is ${this.table.runStatus(row)}`);
    return row;
  }

  private finishedRun(row: number, status: "cancelled", reason: string): Run {
    this.finish(row, status, reason, this.clock.now());
    this.announceNext(this.table.laneOf(row));
    return this.table.toRun(row);
  }

  /** Ends a queued or running run; frees its pipeline (its next run is the caller's to announce) and tells the claim's watcher. */
  private finish(row: number, status: "success" | "failed" | "cancelled", error: string | null, now: number): void {
    const lane = this.table.laneOf(row);
    const wasRunning = lane.running === row;
    this.table.end(row, status, error, now);
    if (!wasRunning) return;
    const watchers = lane.free();
    const next = lane.next();
    if (next !== undefined) insertSorted(this.ready, next, byRow);
    if (status === "cancelled" && watchers) for (const onLost of watchers) onLost(error ?? "run cancelled");
  }

  /** Tells the listeners of `lane`'s next run if it is claimable: queued, with nothing running. */
  private announceNext(lane: Lane): void {
    if (lane.running < 0 && lane.next() !== undefined) this.notify();
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }
}

const byRow = (row: number): number => row;
const NO_LINES: readonly string[] = [];
