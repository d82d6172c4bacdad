/**
 * The in-memory Store: the emulator's default. Every method runs to completion without an await
 * between reading and writing, so claims are atomic on Node's single thread.
 *
 * Run records are updated in place and copied when read, because a running run is written about
 * eight times per read (measured: copy-on-write of every transition cost 15% of the engine's time).
 * The queue is indexed for O(log P) claims: one FIFO of queued runs per pipeline (its Lane), and a
 * list of the pipelines that are ready (nothing running, something queued) sorted by the trigger
 * order of their oldest queued run.
 */
import { iso, systemClock, type Clock } from "./clock.ts";
import { randomId, type IdGenerator } from "./randomId.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { StaleClaimError } from "./errors.ts";
import { Lane, MemoryClaim, RunRecord } from "./memoryRecords.ts";
import { closeStages, patchStage, releasedStages } from "./runState.ts";
import type { Pipeline, PipelineInput, Run } from "./schemas.ts";
import type { Claim, DeleteResult, ImmediateWrites, LastStage, ListRunsFilter, Page, StagePatch, Store } from "./store.ts";
import { Fifo, insertSorted, lowerBound } from "./sorted.ts";

interface PipelineRecord {
  seq: number;
  pipeline: Pipeline;
  lane: Lane;
}

export interface MemoryStoreOptions {
  clock?: Clock;
  ids?: IdGenerator;
}

export class MemoryStore implements Store {
  readonly durable = false;
  private readonly clock: Clock;
  private readonly ids: IdGenerator;
  private seq = 0;
  private claims = 0;
  private readonly pipelines = new Map<string, PipelineRecord>();
  /** Ascending seq, for listing. */
  private readonly pipelineOrder: PipelineRecord[] = [];
  private readonly runs = new Map<string, RunRecord>();
  /** Ascending seq, for listing newest first. */
  private readonly runOrder: RunRecord[] = [];
  /** By pipeline id, deleted pipelines' too. */
  private readonly lanes = new Map<string, Lane>();
  /** The oldest queued run of each pipeline with nothing running, by seq. */
  private readonly ready: RunRecord[] = [];
  private readonly listeners = new Set<() => void>();

  /** The worker's writes, made before they return: the worker pool's fast path (see ImmediateWrites). */
  readonly immediate: ImmediateWrites = {
    claimRun: (workerId) => this.claim(workerId),
    updateStage: (claim, index, patch) => this.patch(claim, index, patch),
    finishRun: (claim, status, error, last) => void this.end(claim, status, error, last),
  };

  constructor(opts: MemoryStoreOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.ids = opts.ids ?? randomId;
  }

  async createPipeline(input: PipelineInput): Promise<Pipeline> {
    const now = iso(this.clock.now());
    const pipeline: Pipeline = { id: this.ids(), ...input, created_at: now, updated_at: now };
    const lane = new Lane();
    const record = { seq: ++this.seq, pipeline, lane };
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
    return record.pipeline;
  }

  async deletePipeline(id: string): Promise<DeleteResult | undefined> {
    const record = this.pipelines.get(id);
    if (!record) return undefined;
    this.pipelines.delete(id);
    this.pipelineOrder.splice(lowerBound(this.pipelineOrder, (r) => r.seq >= record.seq), 1);
    const reason = "pipeline deleted";
    const { lane } = record;
    const queued = [...lane.queue];
    lane.queue = new Fifo();
    const readyAt = this.ready.findIndex((r) => r.lane === lane);
    if (readyAt >= 0) this.ready.splice(readyAt, 1);
    const cancelledQueued = queued.map((r) => this.finish(r, "cancelled", reason).toRun());
    const cancelledRunning = lane.running ? [this.finish(lane.running, "cancelled", reason).toRun()] : [];
    return { cancelledQueued, cancelledRunning };
  }

  async triggerRun(pipelineId: string, gitRef: string): Promise<Run | undefined> {
    const pipelineRecord = this.pipelines.get(pipelineId);
    if (!pipelineRecord) return undefined;
    const { pipeline, lane } = pipelineRecord;
    const record = new RunRecord(++this.seq, this.ids(), pipelineId, lane, gitRef, pipeline.stages, iso(this.clock.now()));
    this.runs.set(record.id, record);
    this.runOrder.push(record);
    lane.history.push(record);
    lane.queue.push(record);
    if (lane.queue.size === 1 && !lane.running) {
      insertSorted(this.ready, record, bySeq);
      this.notify();
    }
    return record.toRun();
  }

  async getRun(id: string): Promise<Run | undefined> {
    return this.runs.get(id)?.toRun();
  }

  async listRuns(filter: ListRunsFilter): Promise<Page<Run>> {
    const source = filter.pipeline_id ? (this.lanes.get(filter.pipeline_id)?.history ?? []) : this.runOrder;
    const before = filter.cursor === undefined ? Infinity : decodeCursor(filter.cursor);
    const items: Run[] = [];
    let lastSeq = 0;
    for (let i = lowerBound(source, (r) => r.seq >= before) - 1; i >= 0; i--) {
      const record = source[i]!;
      if (filter.status && record.status !== filter.status) continue;
      if (items.length === filter.limit) return { items, next: encodeCursor(lastSeq) };
      items.push(record.toRun());
      lastSeq = record.seq;
    }
    return { items };
  }

  async claimRun(workerId: string): Promise<Claim | undefined> {
    return this.claim(workerId);
  }

  async updateStage(claim: Claim, index: number, patch: StagePatch): Promise<void> {
    this.patch(claim, index, patch);
  }

  async finishRun(claim: Claim, status: "success" | "failed" | "cancelled", error: string | null, last?: LastStage): Promise<Run> {
    return this.end(claim, status, error, last).toRun();
  }

  private claim(workerId: string): Claim | undefined {
    const record = this.ready.shift();
    if (!record) return undefined;
    record.lane.queue.shift();
    const now = iso(this.clock.now());
    record.status = "running";
    record.startedAt = record.updatedAt = now;
    const first = record.ownStages()[0];
    if (first) patchStage(first, RUNNING, now);
    record.claimToken = `${++this.claims}`;
    record.lane.running = record;
    const run = { id: record.id, pipeline_id: record.pipelineId, git_ref: record.gitRef };
    return new MemoryClaim(run, record.spec, workerId, record.claimToken, record, this);
  }

  private patch(claim: Claim, index: number, patch: StagePatch): void {
    const record = this.owned(claim);
    const now = iso(this.clock.now());
    this.patchRunStage(record, index, patch, now);
    record.updatedAt = now;
  }

  private end(claim: Claim, status: "success" | "failed" | "cancelled", error: string | null, last: LastStage | undefined): RunRecord {
    const record = this.owned(claim);
    const now = iso(this.clock.now());
    if (last) this.patchRunStage(record, last.index, last, now);
    record.onLost = undefined; // the owner ends its own run: nobody to tell
    return this.finish(record, status, error, now);
  }

  async releaseRun(claim: Claim, reason: string): Promise<void> {
    const record = this.owned(claim);
    record.onLost = undefined;
    record.claimToken = undefined;
    record.status = "queued";
    record.startedAt = null;
    record.updatedAt = iso(this.clock.now());
    record.stages = releasedStages(record.ownStages(), reason);
    const { lane } = record;
    lane.running = undefined;
    // Back at the head of its pipeline's queue: it was the oldest when it was claimed.
    const requeued = new Fifo<RunRecord>();
    requeued.push(record);
    for (const r of lane.queue) requeued.push(r);
    lane.queue = requeued;
    insertSorted(this.ready, record, bySeq);
    this.notify();
  }

  watchClaim(claim: Claim, onLost: (reason: string) => void): () => void {
    const record = this.recordOf(claim);
    if (!record || record.claimToken !== claim.token) {
      queueMicrotask(() => onLost("the run is no longer claimed by this worker"));
      return () => {};
    }
    // Arrays of exactly their watchers (a push onto an empty one reserves 17 slots), one per claim mostly.
    record.onLost = record.onLost ? [...record.onLost, onLost] : [onLost];
    return () => {
      if (record.onLost) record.onLost = record.onLost.filter((f) => f !== onLost);
    };
  }

  onClaimable(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async cancelQueued(reason: string): Promise<Run[]> {
    const cancelled: Run[] = [];
    this.ready.length = 0;
    for (const lane of this.lanes.values()) {
      const queued = [...lane.queue];
      lane.queue = new Fifo();
      for (const record of queued) cancelled.push(this.finish(record, "cancelled", reason).toRun());
    }
    return cancelled;
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

  /** The record behind a claim: carried by this store's own, else looked up by id. */
  private recordOf(claim: Claim): RunRecord | undefined {
    return MemoryClaim.recordOf(claim, this) ?? this.runs.get(claim.run.id);
  }

  /** The record of a claimed run, if the claim is still current. */
  private owned(claim: Claim): RunRecord {
    const record = this.recordOf(claim);
    if (!record) throw new StaleClaimError(claim.run.id, "no such run");
    if (record.claimToken !== claim.token || record.status !== "running") throw new StaleClaimError(claim.run.id, `run is ${record.status}`);
    return record;
  }

  /** Ends a queued or running run; frees its pipeline and tells the claim's watcher. */
  private finish(record: RunRecord, status: "success" | "failed" | "cancelled", error: string | null, now = iso(this.clock.now())): RunRecord {
    const wasRunning = record.status === "running";
    record.status = status;
    record.error = error;
    closeStages(record.ownStages(), status, now);
    record.finishedAt = record.updatedAt = now;
    record.claimToken = undefined;
    const watchers = record.onLost;
    record.onLost = undefined;
    if (wasRunning) {
      record.lane.running = undefined;
      const next = record.lane.queue.peek();
      if (next) {
        insertSorted(this.ready, next, bySeq);
        this.notify();
      }
      if (status === "cancelled" && watchers) for (const onLost of watchers) onLost(error ?? "run cancelled");
    }
    return record;
  }

  /** Applies `patch` to stage `index` (and starts the next, if asked); RangeError, changing nothing, for a stage the run lacks. */
  private patchRunStage(record: RunRecord, index: number, patch: StagePatch, now: string): void {
    const stages = record.ownStages();
    const stage = stages[index];
    const next = patch.startNext ? stages[index + 1] : undefined;
    if (!stage || (patch.startNext && !next)) throw new RangeError(`run ${record.id} has no stage ${stage ? index + 1 : index}`);
    patchStage(stage, patch, now);
    if (next) patchStage(next, RUNNING, now);
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }
}

const RUNNING: StagePatch = Object.freeze({ status: "running" });
const bySeq = (r: RunRecord): number => r.seq;
