/**
 * The in-memory Store: the emulator's default. Pipelines and runs are plain objects in Maps; each
 * pipeline has a FIFO of its queued runs. Every method runs to completion without an await between
 * reading and writing, so claims are atomic on Node's single thread.
 *
 * It keeps at most `retainRuns` finished runs, dropping the oldest finished first, so that an emulator
 * left running does not grow without bound; queued and running runs are never dropped.
 */
import { StaleClaimError } from "../../api/errors.ts";
import type { LogsPage, Pipeline, PipelineInput, Run, StageStatus, StagesSpec } from "../../api/schemas.ts";
import { iso, systemClock, type Clock } from "../../clock.ts";
import { randomId, timeOrderedId, type IdGenerator } from "../../ids.ts";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { closedStages, pendingStages, withStatus } from "../stages.ts";
import type { CancelResult, Claim, DeleteResult, LastStage, ListRunsFilter, Page, RerunResult, StagePatch, Store } from "../store.ts";
import { Fifo } from "./fifo.ts";
import { RunList } from "./runList.ts";
import { appendLogs, clearLogs, logsAfter, readRun, type RunRecord } from "./runRecord.ts";

/** Finished runs kept when no `retainRuns` is given. */
export const DEFAULT_RETAIN_RUNS = 10_000;

export interface MemoryStoreOptions {
  clock?: Clock;
  ids?: IdGenerator;
  /** Finished runs kept; the oldest finished go first. Default DEFAULT_RETAIN_RUNS. */
  retainRuns?: number;
}

interface PipelineRecord {
  /** Creation order, for listing. */
  seq: number;
  pipeline: Pipeline;
  queue: Fifo<RunRecord>;
  /** The running run, if any: a pipeline runs one run at a time. */
  running: RunRecord | undefined;
}

type EndStatus = "success" | "failed" | "cancelled";

export class MemoryStore implements Store {
  readonly durable = false;
  private readonly clock: Clock;
  private readonly ids: IdGenerator;
  private readonly retainRuns: number;
  private readonly pipelines = new Map<string, PipelineRecord>();
  private readonly runs = new RunList();
  /** Finished runs' ids in the order they finished: retention drops from the front. */
  private readonly finished = new Fifo<string>();
  private pipelineSeq = 0;
  private listeners = new Set<() => void>();
  /** onRunChange listeners, by run id. */
  private readonly followers = new Map<string, Set<() => void>>();

  constructor(opts: MemoryStoreOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.ids = opts.ids ?? timeOrderedId;
    this.retainRuns = opts.retainRuns ?? DEFAULT_RETAIN_RUNS;
    if (!Number.isInteger(this.retainRuns) || this.retainRuns < 1) throw new RangeError(`retainRuns must be a whole number >= 1, got ${this.retainRuns}`);
  }

  async createPipeline(input: PipelineInput): Promise<Pipeline> {
    const ms = this.clock.now();
    const pipeline: Pipeline = { id: this.ids(ms), ...input, concurrency: input.concurrency ?? "queue", created_at: iso(ms), updated_at: iso(ms) };
    this.pipelines.set(pipeline.id, { seq: ++this.pipelineSeq, pipeline, queue: new Fifo(), running: undefined });
    return pipeline;
  }

  async getPipeline(id: string): Promise<Pipeline | undefined> {
    return this.pipelines.get(id)?.pipeline;
  }

  /** Cursors hold the last listed pipeline's seq; a Map keeps creation order. */
  async listPipelines(opts: { limit: number; cursor?: string | undefined }): Promise<Page<Pipeline>> {
    const after = opts.cursor === undefined ? 0 : decodeCursor(opts.cursor);
    const items: Pipeline[] = [];
    for (const record of this.pipelines.values()) {
      if (record.seq <= after) continue;
      if (items.length === opts.limit) return { items, next: encodeCursor(this.pipelines.get(items.at(-1)!.id)!.seq) };
      items.push(record.pipeline);
    }
    return { items };
  }

  async updatePipeline(id: string, input: PipelineInput): Promise<Pipeline | undefined> {
    const record = this.pipelines.get(id);
    if (!record) return undefined;
    record.pipeline = { ...record.pipeline, ...input, concurrency: input.concurrency ?? "queue", updated_at: iso(this.clock.now()) };
    return record.pipeline;
  }

  async deletePipeline(id: string): Promise<DeleteResult | undefined> {
    const record = this.pipelines.get(id);
    if (!record) return undefined;
    this.pipelines.delete(id);
    const now = this.clock.now();
    const cancelledQueued: Run[] = [];
    for (let queued = record.queue.shift(); queued; queued = record.queue.shift()) cancelledQueued.push(this.end(queued, "cancelled", "pipeline deleted", now));
    const running = record.running;
    const cancelledRunning = running ? [this.end(running, "cancelled", "pipeline deleted", now)] : [];
    return { cancelledQueued, cancelledRunning };
  }

  async triggerRun(pipelineId: string, gitRef: string): Promise<Run | undefined> {
    const pipeline = this.pipelines.get(pipelineId);
    return pipeline && this.enqueue(pipeline, gitRef, pipeline.pipeline.stages, null);
  }

  async rerunRun(id: string): Promise<RerunResult | undefined> {
    const original = this.runs.get(id);
    if (!original) return undefined;
    const pipeline = this.pipelines.get(original.run.pipeline_id);
    if (!pipeline) return { pipelineDeleted: true };
    return { run: this.enqueue(pipeline, original.run.git_ref, original.spec, id) };
  }

  async cancelRun(id: string, reason: string): Promise<CancelResult | undefined> {
    const record = this.runs.get(id);
    if (!record) return undefined;
    const error = `cancelled: ${reason}`;
    if (record.run.status === "queued") {
      this.pipelines.get(record.run.pipeline_id)?.queue.remove(record);
      return { outcome: "cancelled", run: this.end(record, "cancelled", error, this.clock.now()) };
    }
    if (record.run.status === "running") {
      this.requestCancel(record, error);
      return { outcome: "requested", run: this.snapshot(record) };
    }
    return { outcome: "finished", run: this.snapshot(record) };
  }

  /**
   * A queued run of `pipeline` with `spec`; the pipeline's concurrency policy is applied to its other
   * runs before anyone hears of the new one.
   */
  private enqueue(pipeline: PipelineRecord, gitRef: string, spec: StagesSpec, rerunOf: string | null): Run {
    const ms = this.clock.now();
    const now = iso(ms);
    const run: Run = {
      id: this.ids(ms),
      pipeline_id: pipeline.pipeline.id,
      git_ref: gitRef,
      status: "queued",
      stages: pendingStages(spec),
      error: null,
      created_at: now,
      started_at: null,
      finished_at: null,
      updated_at: now,
      rerun_of: rerunOf,
      cancel_requested_at: null,
    };
    const { concurrency } = pipeline.pipeline;
    if (concurrency !== "queue") {
      const superseded = `superseded by run ${run.id}`;
      for (let queued = pipeline.queue.shift(); queued; queued = pipeline.queue.shift()) this.end(queued, "cancelled", superseded, ms);
      if (concurrency === "cancel_in_progress" && pipeline.running) this.requestCancel(pipeline.running, superseded);
    }
    const record = this.runs.add(run, spec);
    pipeline.queue.push(record);
    // Read before anyone is told: a listener may claim it at once.
    const reply = this.snapshot(record);
    if (!pipeline.running && pipeline.queue.size === 1) this.notify();
    return reply;
  }

  /** Records a running run's cancel (the first one asked wins) and tells its worker. */
  private requestCancel(record: RunRecord, error: string): void {
    const claim = record.claim;
    if (!claim || claim.cancelError !== undefined) return;
    claim.cancelError = error;
    record.run.cancel_requested_at = record.run.updated_at = iso(this.clock.now());
    for (const onCancel of claim.cancel) onCancel(error);
    this.changed(record);
  }

  async getRun(id: string): Promise<Run | undefined> {
    const record = this.runs.get(id);
    return record && this.snapshot(record);
  }

  async listRuns(filter: ListRunsFilter): Promise<Page<Run>> {
    const before = filter.cursor === undefined ? Infinity : decodeCursor(filter.cursor);
    const items: Run[] = [];
    let last = 0;
    for (const record of this.runs.newestFirst(before)) {
      const { run } = record;
      if ((filter.pipeline_id && run.pipeline_id !== filter.pipeline_id) || (filter.status && run.status !== filter.status)) continue;
      if (items.length === filter.limit) return { items, next: encodeCursor(last) };
      items.push(this.snapshot(record));
      last = record.seq;
    }
    return { items };
  }

  /** The oldest queued run whose pipeline runs nothing: a scan of the pipelines, a few dozen at most in practice. */
  async claimRun(workerId: string): Promise<Claim | undefined> {
    let next: PipelineRecord | undefined;
    for (const pipeline of this.pipelines.values()) {
      const head = pipeline.queue.peek();
      if (head && !pipeline.running && (!next || head.seq < next.queue.peek()!.seq)) next = pipeline;
    }
    if (!next) return undefined;
    const record = next.queue.shift()!;
    next.running = record;
    const now = iso(this.clock.now());
    const { run } = record;
    run.status = "running";
    run.started_at = run.updated_at = now;
    run.stages[0] = withStatus(run.stages[0]!, "running", now);
    const claim: Claim = { run: { id: run.id, pipeline_id: run.pipeline_id, git_ref: run.git_ref }, spec: record.spec, workerId, token: randomId() };
    record.claim = { token: claim.token, lost: [], cancel: [], cancelError: undefined };
    this.changed(record);
    return claim;
  }

  async updateStage(claim: Claim, index: number, patch: StagePatch): Promise<void> {
    const record = this.owned(claim);
    const { run } = record;
    const now = iso(this.clock.now());
    const stage = run.stages[index];
    if (!Number.isInteger(index) || !stage) throw new RangeError(`run ${run.id} has no stage ${index}`);
    if (patch.startNext && !run.stages[index + 1]) throw new RangeError(`run ${run.id} has no stage ${index + 1}`);
    this.patch(record, index, patch.status, patch.logs, now);
    if (patch.attempt !== undefined) run.stages[index] = { ...run.stages[index]!, attempts: patch.attempt };
    if (patch.startNext) run.stages[index + 1] = withStatus(run.stages[index + 1]!, "running", now);
    run.updated_at = now;
    this.changed(record);
  }

  async finishRun(claim: Claim, status: EndStatus, error: string | null, last?: LastStage): Promise<Run> {
    const record = this.owned(claim);
    const { run } = record;
    const stage = last && run.stages[last.index];
    if (last && (!Number.isInteger(last.index) || !stage)) throw new RangeError(`run ${run.id} has no stage ${last.index}`);
    const now = this.clock.now();
    if (last) this.patch(record, last.index, last.status, last.logs, iso(now));
    record.claim!.lost = []; // the owner ends its own run: nobody to tell
    return this.end(record, status, error, now);
  }

  async releaseRun(claim: Claim, reason: string): Promise<void> {
    const record = this.owned(claim);
    const pipeline = this.pipelines.get(record.run.pipeline_id)!;
    const { run } = record;
    run.status = "queued";
    run.started_at = null;
    run.updated_at = iso(this.clock.now());
    run.stages = pendingStages(record.spec);
    clearLogs(record);
    appendLogs(record, 0, [`previous attempt handed back to the queue: ${reason}`], run.updated_at);
    record.claim = undefined;
    pipeline.running = undefined;
    // Back at the head of its pipeline's queue: it was the oldest when it was claimed.
    pipeline.queue.unshift(record);
    this.notify();
  }

  watchClaim(claim: Claim, onLost: (reason: string) => void, onCancel?: (error: string) => void): () => void {
    const current = this.runs.get(claim.run.id)?.claim;
    if (current?.token !== claim.token) {
      queueMicrotask(() => onLost("the run is no longer claimed by this worker"));
      return () => {};
    }
    current.lost.push(onLost);
    if (onCancel) {
      const error = current.cancelError;
      if (error === undefined) current.cancel.push(onCancel);
      else queueMicrotask(() => onCancel(error));
    }
    return () => {
      current.lost = current.lost.filter((w) => w !== onLost);
      current.cancel = current.cancel.filter((w) => w !== onCancel);
    };
  }

  async getLogs(runId: string, after: number, limit: number): Promise<LogsPage | undefined> {
    const record = this.runs.get(runId);
    return record && logsAfter(record, after, limit);
  }

  onRunChange(runId: string, listener: () => void): () => void {
    let followers = this.followers.get(runId);
    if (!followers) this.followers.set(runId, (followers = new Set()));
    followers.add(listener);
    return () => {
      followers.delete(listener);
      if (followers.size === 0) this.followers.delete(runId);
    };
  }

  onClaimable(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async cancelQueued(reason: string): Promise<Run[]> {
    const now = this.clock.now();
    const queued: RunRecord[] = [];
    for (const pipeline of this.pipelines.values()) for (let next = pipeline.queue.shift(); next; next = pipeline.queue.shift()) queued.push(next);
    return queued.sort((a, b) => a.seq - b.seq).map((record) => this.end(record, "cancelled", reason, now));
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

  /** The run behind a claim that is still current; StaleClaimError otherwise. */
  private owned(claim: Claim): RunRecord {
    const record = this.runs.get(claim.run.id);
    if (!record) throw new StaleClaimError(claim.run.id, "no such run");
    if (record.claim?.token !== claim.token) throw new StaleClaimError(claim.run.id, `run is ${record.run.status}`);
    return record;
  }

  /**
   * Ends a queued or running run (already out of its pipeline's queue): frees its pipeline, tells its
   * claim's watchers, announces the pipeline's next run, and drops the oldest finished runs past the
   * retention limit.
   */
  private end(record: RunRecord, status: EndStatus, error: string | null, ms: number): Run {
    const now = iso(ms);
    const { run } = record;
    run.status = status;
    run.error = error;
    run.finished_at = run.updated_at = now;
    run.stages = closedStages(run.stages, status, now);
    const watchers = record.claim?.lost ?? [];
    record.claim = undefined;
    const pipeline = this.pipelines.get(run.pipeline_id);
    if (pipeline?.running === record) {
      pipeline.running = undefined;
      if (pipeline.queue.size) this.notify();
    }
    for (const onLost of watchers) onLost(error ?? `run ${status}`);
    this.changed(record);
    this.finished.push(run.id);
    const reply = this.snapshot(record);
    while (this.finished.size > this.retainRuns) this.runs.delete(this.finished.shift()!);
    return reply;
  }

  /** A copy for a reader; a queued run says where it stands in its pipeline's queue (trigger order) and what it waits for. */
  private snapshot(record: RunRecord): Run {
    const pipeline = record.run.status === "queued" ? this.pipelines.get(record.run.pipeline_id) : undefined;
    if (!pipeline) return readRun(record);
    let lo = 0;
    let hi = pipeline.queue.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pipeline.queue.at(mid)!.seq < record.seq) lo = mid + 1;
      else hi = mid;
    }
    const ahead = lo === 0 ? pipeline.running : pipeline.queue.at(lo - 1);
    return readRun(record, { queue_position: lo + 1, waiting_for: ahead ? `run ${ahead.run.id}` : "a free worker" });
  }

  /** Stage `index` of `record` given a status and lines at `now`. */
  private patch(record: RunRecord, index: number, status: StageStatus | undefined, logs: readonly string[] | undefined, now: string): void {
    if (logs?.length) appendLogs(record, index, logs, now);
    if (status) record.run.stages[index] = withStatus(record.run.stages[index]!, status, now);
  }

  /** Tells who follows the run that it has new lines or a new state. */
  private changed(record: RunRecord): void {
    const followers = this.followers.get(record.run.id);
    if (followers) for (const listener of followers) listener();
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }
}

