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
import { iso, randomId, systemClock, type Clock, type IdGenerator } from "./clock.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { StaleClaimError } from "./errors.ts";
import { closeStages, patchStage, pendingStages, releasedStages } from "./runState.ts";
import type { Pipeline, PipelineInput, Run, StagesSpec } from "./schemas.ts";
import type { Claim, DeleteResult, LastStage, ListRunsFilter, Page, StagePatch, Store } from "./store.ts";
import { Fifo, insertSorted, lowerBound } from "./sorted.ts";

interface PipelineRecord {
  seq: number;
  pipeline: Pipeline;
}

interface RunRecord {
  seq: number;
  run: Run;
  spec: StagesSpec;
  /** Fencing token of the current claim; set while running. */
  claimToken: string | undefined;
  onLost: Set<(reason: string) => void> | undefined;
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
  /** Pipelines with nothing running and something queued, by the seq of their oldest queued run. */
  private readonly ready: { seq: number; pipelineId: string }[] = [];
  private readonly listeners = new Set<() => void>();

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
    const cancelledQueued = [...(this.queued.get(id) ?? [])].map((r) => this.finish(r, "cancelled", reason));
    this.queued.delete(id);
    const readyAt = this.ready.findIndex((r) => r.pipelineId === id);
    if (readyAt >= 0) this.ready.splice(readyAt, 1);
    const running = this.running.get(id);
    const cancelledRunning = running ? [this.finish(running, "cancelled", reason)] : [];
    return { cancelledQueued, cancelledRunning };
  }

  async triggerRun(pipelineId: string, gitRef: string): Promise<Run | undefined> {
    const pipeline = this.pipelines.get(pipelineId)?.pipeline;
    if (!pipeline) return undefined;
    const now = iso(this.clock.now());
    const run: Run = {
      id: this.ids(),
      pipeline_id: pipelineId,
      git_ref: gitRef,
      status: "queued",
      stages: pendingStages(pipeline.stages),
      error: null,
      created_at: now,
      started_at: null,
      finished_at: null,
      updated_at: now,
    };
    // Every field from the start, and cleared by assignment rather than `delete`: records keep one
    // shape, which V8 keeps fast (a delete turns an object into a slow dictionary).
    const record: RunRecord = { seq: ++this.seq, run, spec: pipeline.stages, claimToken: undefined, onLost: undefined };
    this.runs.set(run.id, record);
    this.runOrder.push(record);
    let history = this.runsByPipeline.get(pipelineId);
    if (!history) this.runsByPipeline.set(pipelineId, (history = []));
    history.push(record);
    let queue = this.queued.get(pipelineId);
    if (!queue) this.queued.set(pipelineId, (queue = new Fifo()));
    queue.push(record);
    if (queue.size === 1 && !this.running.has(pipelineId)) {
      insertSorted(this.ready, { seq: record.seq, pipelineId }, (r) => r.seq);
      this.notify();
    }
    return snapshot(run);
  }

  async getRun(id: string): Promise<Run | undefined> {
    const record = this.runs.get(id);
    return record && snapshot(record.run);
  }

  async listRuns(filter: ListRunsFilter): Promise<Page<Run>> {
    const source = filter.pipeline_id ? (this.runsByPipeline.get(filter.pipeline_id) ?? []) : this.runOrder;
    const before = filter.cursor === undefined ? Infinity : decodeCursor(filter.cursor);
    const items: Run[] = [];
    let lastSeq = 0;
    for (let i = lowerBound(source, (r) => r.seq >= before) - 1; i >= 0; i--) {
      const record = source[i]!;
      if (filter.status && record.run.status !== filter.status) continue;
      if (items.length === filter.limit) return { items, next: encodeCursor(lastSeq) };
      items.push(snapshot(record.run));
      lastSeq = record.seq;
    }
    return { items };
  }

  async claimRun(workerId: string): Promise<Claim | undefined> {
    const head = this.ready.shift();
    if (!head) return undefined;
    const record = this.queued.get(head.pipelineId)!.shift()!;
    const now = iso(this.clock.now());
    const run = record.run;
    run.status = "running";
    run.started_at = run.updated_at = now;
    const first = run.stages[0];
    if (first) patchStage(first, RUNNING, now);
    record.claimToken = `${++this.claims}`;
    this.running.set(head.pipelineId, record);
    return { run: snapshot(run), spec: record.spec, workerId, token: record.claimToken };
  }

  async updateStage(claim: Claim, index: number, patch: StagePatch): Promise<void> {
    const run = this.owned(claim).run;
    const now = iso(this.clock.now());
    this.patchRunStage(run, index, patch, now);
    run.updated_at = now;
  }

  async finishRun(claim: Claim, status: "success" | "failed" | "cancelled", error: string | null, last?: LastStage): Promise<Run> {
    const record = this.owned(claim);
    if (last) this.patchRunStage(record.run, last.index, last, iso(this.clock.now()));
    record.onLost = undefined; // the owner ends its own run: nobody to tell
    return this.finish(record, status, error);
  }

  async releaseRun(claim: Claim, reason: string): Promise<void> {
    const record = this.owned(claim);
    record.onLost = undefined;
    record.claimToken = undefined;
    const run = record.run;
    const pipelineId = run.pipeline_id;
    run.status = "queued";
    run.started_at = null;
    run.updated_at = iso(this.clock.now());
    run.stages = releasedStages(run.stages, reason);
    this.running.delete(pipelineId);
    // Back at the head of its pipeline's queue: it was the oldest when it was claimed.
    const queue = this.queued.get(pipelineId) ?? new Fifo<RunRecord>();
    const requeued = new Fifo<RunRecord>();
    requeued.push(record);
    for (const r of queue) requeued.push(r);
    this.queued.set(pipelineId, requeued);
    insertSorted(this.ready, { seq: record.seq, pipelineId }, (r) => r.seq);
    this.notify();
  }

  watchClaim(claim: Claim, onLost: (reason: string) => void): () => void {
    const record = this.runs.get(claim.run.id);
    if (!record || record.claimToken !== claim.token) {
      queueMicrotask(() => onLost("the run is no longer claimed by this worker"));
      return () => {};
    }
    (record.onLost ??= new Set()).add(onLost);
    return () => record.onLost?.delete(onLost);
  }

  onClaimable(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async cancelQueued(reason: string): Promise<Run[]> {
    const cancelled: Run[] = [];
    for (const queue of this.queued.values()) for (const record of queue) cancelled.push(this.finish(record, "cancelled", reason));
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
    if (record.claimToken !== claim.token || record.run.status !== "running")
      throw new StaleClaimError(claim.run.id, `run is ${record.run.status}`);
    return record;
  }

  /** Ends a queued or running run; frees its pipeline and tells the claim's watcher. */
  private finish(record: RunRecord, status: "success" | "failed" | "cancelled", error: string | null): Run {
    const now = iso(this.clock.now());
    const run = record.run;
    const wasRunning = run.status === "running";
    run.status = status;
    run.error = error;
    run.stages = closeStages(run.stages, status, now);
    run.finished_at = run.updated_at = now;
    record.claimToken = undefined;
    const watchers = record.onLost;
    record.onLost = undefined;
    if (wasRunning) {
      const pipelineId = record.run.pipeline_id;
      this.running.delete(pipelineId);
      const next = this.queued.get(pipelineId)?.peek();
      if (next) {
        insertSorted(this.ready, { seq: next.seq, pipelineId }, (r) => r.seq);
        this.notify();
      }
      if (status === "cancelled" && watchers) for (const onLost of watchers) onLost(error ?? "run cancelled");
    }
    return snapshot(run);
  }

  /** Applies `patch` to stage `index` (and starts the next, if asked); RangeError, changing nothing, for a stage the run lacks. */
  private patchRunStage(run: Run, index: number, patch: StagePatch, now: string): void {
    const stage = run.stages[index];
    const next = patch.startNext ? run.stages[index + 1] : undefined;
    if (!stage || (patch.startNext && !next)) throw new RangeError(`run ${run.id} has no stage ${stage ? index + 1 : index}`);
    patchStage(stage, patch, now);
    if (next) patchStage(next, RUNNING, now);
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }
}

const RUNNING: StagePatch = Object.freeze({ status: "running" });

/** A copy of a run that later writes to the record do not change. */
function snapshot(run: Run): Run {
  return { ...run, stages: run.stages.map((s) => ({ ...s, logs: s.logs.slice() })) };
}
