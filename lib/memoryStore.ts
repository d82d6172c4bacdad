/**
 * The in-memory Store: the emulator's default. Every method runs to completion without an await
 * between reading and writing, so claims are atomic on Node's single thread.
 *
 * Run records are updated in place and copied when read, because a running run is written about
 * eight times per read (measured: copy-on-write of every transition cost 15% of the engine's time).
 * The queue is indexed for O(log P) claims: one FIFO of queued runs per pipeline, and a list of the
 * pipelines that are ready (nothing running, something queued) sorted by the trigger order of their
 * oldest queued run.
 */
import { iso, systemClock, type Clock } from "./clock.ts";
import { randomId, type IdGenerator } from "./randomId.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { StaleClaimError } from "./errors.ts";
import { RunRecord } from "./runRecord.ts";
import { closeStages, patchStage, releasedStages } from "./runState.ts";
import type { Pipeline, PipelineInput, Run } from "./schemas.ts";
import type { Claim, DeleteResult, ImmediateWrites, LastStage, ListRunsFilter, Page, StagePatch, Store } from "./store.ts";
import { Fifo, insertSorted, lowerBound } from "./sorted.ts";

interface PipelineRecord {
  seq: number;
  pipeline: Pipeline;
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
  private readonly runsByPipeline = new Map<string, RunRecord[]>();
  private readonly queued = new Map<string, Fifo<RunRecord>>();
  private readonly running = new Map<string, RunRecord>();
  /** The oldest queued run of each pipeline with nothing running, by seq. */
  private readonly ready: RunRecord[] = [];
  private readonly listeners = new Set<() => void>();

  /** The worker's writes, made before they return: the worker pool's fast path (see ImmediateWrites). */
  readonly immediate: ImmediateWrites = {
    claimRun: (workerId) => this.claim(workerId),
    updateStage: (claim, index, patch) => this.patch(claim, index, patch),
    finishRun: (claim, status, error, last) => this.end(claim, status, error, last),
  };

  constructor(opts: MemoryStoreOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.ids = opts.ids ?? randomId;
  }

  async createPipeline(input: PipelineInput): Promise<Pipeline> {
    const now = iso(this.clock.now());
    const pipeline: Pipeline = { id: this.ids(), ...input, created_at: now, updated_at: now };
    const record = { seq: ++this.seq, pipeline };
    this.pipelines.set(pipeline.id, record);
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
    const cancelledQueued = [...(this.queued.get(id) ?? [])].map((r) => this.finish(r, "cancelled", reason).toRun());
    this.queued.delete(id);
    const readyAt = this.ready.findIndex((r) => r.pipelineId === id);
    if (readyAt >= 0) this.ready.splice(readyAt, 1);
    const running = this.running.get(id);
    const cancelledRunning = running ? [this.finish(running, "cancelled", reason).toRun()] : [];
    return { cancelledQueued, cancelledRunning };
  }

  async triggerRun(pipelineId: string, gitRef: string): Promise<Run | undefined> {
    const pipeline = this.pipelines.get(pipelineId)?.pipeline;
    if (!pipeline) return undefined;
    const record = new RunRecord(++this.seq, this.ids(), pipelineId, gitRef, pipeline.stages, iso(this.clock.now()));
    this.runs.set(record.id, record);
    this.runOrder.push(record);
    let history = this.runsByPipeline.get(pipelineId);
    if (!history) this.runsByPipeline.set(pipelineId, (history = []));
    history.push(record);
    let queue = this.queued.get(pipelineId);
    if (!queue) this.queued.set(pipelineId, (queue = new Fifo()));
    queue.push(record);
    if (queue.size === 1 && !this.running.has(pipelineId)) {
      insertSorted(this.ready, record, bySeq);
      this.notify();
    }
    return record.toRun();
  }

  async getRun(id: string): Promise<Run | undefined> {
    return this.runs.get(id)?.toRun();
  }

  async listRuns(filter: ListRunsFilter): Promise<Page<Run>> {
    const source = filter.pipeline_id ? (this.runsByPipeline.get(filter.pipeline_id) ?? []) : this.runOrder;
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
    this.end(claim, status, error, last);
    return this.runs.get(claim.run.id)!.toRun();
  }

  private claim(workerId: string): Claim | undefined {
    const record = this.ready.shift();
    if (!record) return undefined;
    this.queued.get(record.pipelineId)!.shift();
    const now = iso(this.clock.now());
    record.status = "running";
    record.startedAt = record.updatedAt = now;
    const first = record.ownStages()[0];
    if (first) patchStage(first, RUNNING, now);
    record.claimToken = `${++this.claims}`;
    this.running.set(record.pipelineId, record);
    const run = { id: record.id, pipeline_id: record.pipelineId, git_ref: record.gitRef };
    return { run, spec: record.spec, workerId, token: record.claimToken };
  }

  private patch(claim: Claim, index: number, patch: StagePatch): void {
    const record = this.owned(claim);
    const now = iso(this.clock.now());
    this.patchRunStage(record, index, patch, now);
    record.updatedAt = now;
  }

  private end(claim: Claim, status: "success" | "failed" | "cancelled", error: string | null, last: LastStage | undefined): void {
    const record = this.owned(claim);
    if (last) this.patchRunStage(record, last.index, last, iso(this.clock.now()));
    record.onLost = undefined; // the owner ends its own run: nobody to tell
    this.finish(record, status, error);
  }

  async releaseRun(claim: Claim, reason: string): Promise<void> {
    const record = this.owned(claim);
    record.onLost = undefined;
    record.claimToken = undefined;
    const pipelineId = record.pipelineId;
    record.status = "queued";
    record.startedAt = null;
    record.updatedAt = iso(this.clock.now());
    record.stages = releasedStages(record.ownStages(), reason);
    this.running.delete(pipelineId);
    // Back at the head of its pipeline's queue: it was the oldest when it was claimed.
    const queue = this.queued.get(pipelineId) ?? new Fifo<RunRecord>();
    const requeued = new Fifo<RunRecord>();
    requeued.push(record);
    for (const r of queue) requeued.push(r);
    this.queued.set(pipelineId, requeued);
    insertSorted(this.ready, record, bySeq);
    this.notify();
  }

  watchClaim(claim: Claim, onLost: (reason: string) => void): () => void {
    const record = this.runs.get(claim.run.id);
    if (!record || record.claimToken !== claim.token) {
      queueMicrotask(() => onLost("the run is no longer claimed by this worker"));
      return () => {};
    }
    (record.onLost ??= []).push(onLost);
    return () => {
      const at = record.onLost?.indexOf(onLost) ?? -1;
      if (at >= 0) record.onLost!.splice(at, 1);
    };
  }

  onClaimable(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async cancelQueued(reason: string): Promise<Run[]> {
    const cancelled: Run[] = [];
    for (const queue of this.queued.values()) for (const record of queue) cancelled.push(this.finish(record, "cancelled", reason).toRun());
    this.queued.clear();
    this.ready.length = 0;
    return cancelled;
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

  /** The record of a claimed run, if the claim is still current. */
  private owned(claim: Claim): RunRecord {
    const record = this.runs.get(claim.run.id);
    if (!record) throw new StaleClaimError(claim.run.id, "no such run");
    if (record.claimToken !== claim.token || record.status !== "running") throw new StaleClaimError(claim.run.id, `run is ${record.status}`);
    return record;
  }

  /** Ends a queued or running run; frees its pipeline and tells the claim's watcher. */
  private finish(record: RunRecord, status: "success" | "failed" | "cancelled", error: string | null): RunRecord {
    const now = iso(this.clock.now());
    const wasRunning = record.status === "running";
    record.status = status;
    record.error = error;
    closeStages(record.ownStages(), status, now);
    record.finishedAt = record.updatedAt = now;
    record.claimToken = undefined;
    const watchers = record.onLost;
    record.onLost = undefined;
    if (wasRunning) {
      this.running.delete(record.pipelineId);
      const next = this.queued.get(record.pipelineId)?.peek();
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
