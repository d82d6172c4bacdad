/**
 * The in-memory Store, the emulator's default: pipelines and runs as plain objects in Maps, a FIFO of
 * queued runs per pipeline, at most `retainRuns` finished runs (never a queued or running run). No method
 * awaits between reading and writing, so claims are atomic on Node's single thread.
 */
import { EventEmitter } from "node:events";
import { StaleClaimError } from "../../api/errors.ts";
import type { LogsPage, Pipeline, PipelineInput, Run, RunEnv } from "../../api/schemas.ts";
import { iso, systemClock, type Clock } from "../../clock.ts";
import { randomId, timeOrderedId, type IdGenerator } from "../../ids.ts";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { withStatus } from "../stages.ts";
import type { CancelResult, Claim, DeleteResult, IdempotencyKey, Idempotent, LastStage, ListRunsFilter, Page, RerunResult, StagePatch, Store } from "../store.ts";
import { IdempotencyKeys } from "./idempotencyKeys.ts";
import { newPipelineRecord, queuePlace, triggerSource, type PipelineRecord } from "./pipelineRecord.ts";
import { RunList } from "./runList.ts";
import { claimedRun, endRun, watchClaim, logsAfter, patchStage, queuedRun, readRun, requestCancel, requeueRun, rerunSource, startRun, type RunRecord, type RunSource } from "./runRecord.ts";

/** Finished runs kept when no `retainRuns` is given. */
export const DEFAULT_RETAIN_RUNS = 10_000;

export interface MemoryStoreOptions {
  clock?: Clock;
  ids?: IdGenerator;
  /** Finished runs kept; the oldest finished go first. Default DEFAULT_RETAIN_RUNS. */
  retainRuns?: number;
}

type EndStatus = "success" | "failed" | "cancelled";

export class MemoryStore implements Store {
  readonly durable = false;
  private readonly clock: Clock;
  private readonly ids: IdGenerator;
  private readonly pipelines = new Map<string, PipelineRecord>();
  /** Pipelines that may have queued runs (those found with none leave it as a claim looks). */
  private readonly waiting = new Set<PipelineRecord>();
  private readonly runs: RunList;
  private pipelineSeq = 0;
  private readonly keys = new IdempotencyKeys();
  /** "claimable", and each run's id when it changes. */
  private readonly events = new EventEmitter().setMaxListeners(0);

  constructor(opts: MemoryStoreOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.ids = opts.ids ?? timeOrderedId;
    this.runs = new RunList(opts.retainRuns ?? DEFAULT_RETAIN_RUNS);
  }

  async createPipeline(input: PipelineInput): Promise<Pipeline> {
    return this.makePipeline(input);
  }

  async createPipelineOnce(input: PipelineInput, key: IdempotencyKey): Promise<Idempotent<Pipeline>> {
    return this.keys.once("create", key, this.clock.now(), () => this.makePipeline(input).id, (id) => this.pipelines.get(id)?.pipeline);
  }

  private makePipeline(input: PipelineInput): Pipeline {
    const ms = this.clock.now();
    const pipeline: Pipeline = { id: this.ids(ms), ...input, concurrency: input.concurrency ?? "queue", created_at: iso(ms), updated_at: iso(ms) };
    this.pipelines.set(pipeline.id, newPipelineRecord(++this.pipelineSeq, pipeline));
    return pipeline;
  }

  async getPipeline(id: string): Promise<Pipeline | undefined> {
    return this.pipelines.get(id)?.pipeline;
  }

  /** Cursors hold the last listed pipeline's seq; a Map keeps creation order. */
  async listPipelines(opts: { limit: number; cursor?: string | undefined }): Promise<Page<Pipeline>> {
    const after = opts.cursor === undefined ? 0 : decodeCursor(opts.cursor);
    const items: Pipeline[] = [];
    let last = 0;
    for (const record of this.pipelines.values()) {
      if (record.seq <= after) continue;
      if (items.length === opts.limit) return { items, next: encodeCursor(last) };
      items.push(record.pipeline);
      last = record.seq;
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
    const cancelledQueued = [...record.queue].map((queued) => this.snapshot(this.end(queued, "cancelled", "pipeline deleted", now)));
    const cancelledRunning = record.running ? [this.snapshot(this.end(record.running, "cancelled", "pipeline deleted", now))] : [];
    return { cancelledQueued, cancelledRunning };
  }

  async triggerRun(pipelineId: string, gitRef: string, env: RunEnv = {}): Promise<Run | undefined> {
    const pipeline = this.pipelines.get(pipelineId);
    return pipeline && this.enqueue(pipeline, triggerSource(pipeline, gitRef, env), null);
  }

  async triggerRunOnce(pipelineId: string, gitRef: string, key: IdempotencyKey, env: RunEnv = {}): Promise<Idempotent<Run> | undefined> {
    const pipeline = this.pipelines.get(pipelineId);
    if (!pipeline) return undefined;
    const make = () => this.enqueue(pipeline, triggerSource(pipeline, gitRef, env), null).id;
    return this.keys.once(`trigger ${pipelineId}`, key, this.clock.now(), make, (id) => this.getRunNow(id));
  }

  async rerunRun(id: string): Promise<RerunResult | undefined> {
    const original = this.runs.get(id);
    if (!original) return undefined;
    const pipeline = this.pipelines.get(original.run.pipeline_id);
    if (!pipeline) return { pipelineDeleted: true };
    return { run: this.enqueue(pipeline, rerunSource(original), id) };
  }

  async cancelRun(id: string, reason: string): Promise<CancelResult | undefined> {
    const record = this.runs.get(id);
    if (!record) return undefined;
    const error = `cancelled: ${reason}`;
    if (record.run.status === "queued") {
      this.pipelines.get(record.run.pipeline_id)?.queue.remove(record);
      return { outcome: "cancelled", run: this.snapshot(this.end(record, "cancelled", error, this.clock.now())) };
    }
    if (record.run.status === "running") {
      this.cancelRunning(record, error);
      return { outcome: "requested", run: this.snapshot(record) };
    }
    return { outcome: "finished", run: this.snapshot(record) };
  }

  /** A queued run of `pipeline` made of `source`, the pipeline's policy applied before anyone hears of it. */
  private enqueue(pipeline: PipelineRecord, source: RunSource, rerunOf: string | null): Run {
    const ms = this.clock.now();
    const run = queuedRun(this.ids(ms), pipeline.pipeline.id, source, rerunOf, iso(ms));
    const { concurrency } = pipeline.pipeline;
    if (concurrency !== "queue") {
      const superseded = `superseded by run ${run.id}`;
      for (const queued of pipeline.queue.drain()) this.end(queued, "cancelled", superseded, ms);
      if (concurrency === "cancel_in_progress" && pipeline.running) this.cancelRunning(pipeline.running, superseded);
    }
    const record = this.runs.add(run, source);
    pipeline.queue.push(record);
    this.waiting.add(pipeline);
    // Read before anyone is told: a listener may claim it at once.
    const reply = this.snapshot(record);
    if (!pipeline.running && pipeline.queue.size === 1) this.notify();
    return reply;
  }

  private cancelRunning(record: RunRecord, error: string): void {
    if (requestCancel(record, error, iso(this.clock.now()))) this.changed(record);
  }

  async getRun(id: string): Promise<Run | undefined> {
    return this.getRunNow(id);
  }

  private getRunNow(id: string): Run | undefined {
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

  /** The oldest queued run whose pipeline runs nothing: a scan of the pipelines with queued runs. */
  async claimRun(workerId: string): Promise<Claim | undefined> {
    let next: PipelineRecord | undefined;
    for (const pipeline of this.waiting) {
      const head = pipeline.queue.peek();
      if (!head || !this.pipelines.has(pipeline.pipeline.id)) this.waiting.delete(pipeline);
      else if (!pipeline.running && (!next || head.seq < next.queue.peek()!.seq)) next = pipeline;
    }
    if (!next) return undefined;
    const record = next.queue.shift()!;
    next.running = record;
    const pipeline = { name: next.pipeline.name, repository: record.repository };
    const claim: Claim = { run: claimedRun(record), spec: record.spec, pipeline, workerId, token: randomId() };
    startRun(record, claim.token, iso(this.clock.now()));
    this.changed(record);
    return claim;
  }

  async updateStage(claim: Claim, index: number, patch: StagePatch): Promise<void> {
    const record = this.owned(claim);
    const { run } = record;
    const now = iso(this.clock.now());
    for (const i of patch.startNext ? [index, index + 1] : [index]) if (!Number.isInteger(i) || !run.stages[i]) throw new RangeError(`run ${run.id} has no stage ${i}`);
    patchStage(record, index, patch.status, patch.logs, now);
    if (patch.attempt !== undefined) run.stages[index] = { ...run.stages[index]!, attempts: patch.attempt };
    if (patch.startNext) run.stages[index + 1] = withStatus(run.stages[index + 1]!, "running", now);
    run.updated_at = now;
    this.changed(record);
  }

  async finishRun(claim: Claim, status: EndStatus, error: string | null, last?: LastStage): Promise<void> {
    const record = this.owned(claim);
    const { run } = record;
    if (last && (!Number.isInteger(last.index) || !run.stages[last.index])) throw new RangeError(`run ${run.id} has no stage ${last.index}`);
    const now = this.clock.now();
    if (last) patchStage(record, last.index, last.status, last.logs, iso(now));
    record.claim!.lost = []; // the owner ends its own run: nobody to tell
    this.end(record, status, error, now);
  }

  async releaseRun(claim: Claim, reason: string): Promise<void> {
    const record = this.owned(claim);
    const pipeline = this.pipelines.get(record.run.pipeline_id)!;
    requeueRun(record, reason, iso(this.clock.now()));
    pipeline.running = undefined;
    // Back at the head of its pipeline's queue: it was the oldest when it was claimed.
    pipeline.queue.unshift(record);
    this.waiting.add(pipeline);
    this.notify();
  }

  watchClaim(claim: Claim, onLost: (reason: string) => void, onCancel?: (error: string) => void): () => void {
    return watchClaim(this.runs.get(claim.run.id), claim.token, onLost, onCancel);
  }

  async getLogs(runId: string, after: number, limit: number): Promise<LogsPage | undefined> {
    const record = this.runs.get(runId);
    return record && logsAfter(record, after, limit);
  }

  onRunChange(runId: string, listener: () => void): () => void {
    this.events.on(runId, listener);
    return () => void this.events.off(runId, listener);
  }

  onClaimable(listener: () => void): () => void {
    this.events.on(CLAIMABLE, listener);
    return () => void this.events.off(CLAIMABLE, listener);
  }

  async cancelQueued(reason: string): Promise<Run[]> {
    const now = this.clock.now();
    const queued = [...this.pipelines.values()].flatMap((pipeline) => pipeline.queue.drain());
    return queued.sort((a, b) => a.seq - b.seq).map((record) => this.snapshot(this.end(record, "cancelled", reason, now)));
  }

  async close(): Promise<void> {
    this.events.removeAllListeners();
  }

  /** The run behind a claim that is still current; StaleClaimError otherwise. */
  private owned(claim: Claim): RunRecord {
    const record = this.runs.get(claim.run.id);
    if (!record) throw new StaleClaimError(claim.run.id, "no such run");
    if (record.claim?.token !== claim.token) throw new StaleClaimError(claim.run.id, `run is ${record.run.status}`);
    return record;
  }

  /** Ends a queued (already dequeued) or running run: frees its pipeline, tells who waits, applies retention. */
  private end(record: RunRecord, status: EndStatus, error: string | null, ms: number): RunRecord {
    endRun(record, status, error, iso(ms));
    const pipeline = this.pipelines.get(record.run.pipeline_id);
    if (pipeline?.running === record) {
      pipeline.running = undefined;
      if (pipeline.queue.size) this.notify();
    }
    this.changed(record);
    this.runs.finished(record);
    return record;
  }

  /** A copy for a reader; a queued run says where it stands in its pipeline's queue and what it waits for. */
  private snapshot(record: RunRecord): Run {
    const pipeline = record.run.status === "queued" ? this.pipelines.get(record.run.pipeline_id) : undefined;
    return pipeline ? readRun(record, queuePlace(pipeline, record)) : readRun(record);
  }

  /** Tells who follows the run that it has new lines or a new state. */
  private changed(record: RunRecord): void {
    this.events.emit(record.run.id);
  }

  private notify(): void {
    this.events.emit(CLAIMABLE);
  }
}

const CLAIMABLE = Symbol("claimable");
