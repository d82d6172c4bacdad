/**
 * The Store interface: pipelines, runs, and the run queue in one place, so that the rule "one running
 * run per pipeline, FIFO per pipeline" is enforced where the data lives. Every method is async, so the
 * in-memory store and a PostgreSQL store are interchangeable under the handlers and the worker pool.
 */
import type { LogsPage, Pipeline, PipelineInput, Run, RunEnv, RunStatus, StagesSpec, StageStatus } from "../api/schemas.ts";

export interface Page<T> {
  items: T[];
  /** Opaque; pass back as `cursor` to get the next page. Absent on the last page. */
  next?: string;
}

export interface ListRunsFilter {
  pipeline_id?: string | undefined;
  status?: RunStatus | undefined;
  limit: number;
  cursor?: string | undefined;
}

export type ClaimedRun = Pick<Run, "id" | "pipeline_id" | "git_ref" | "env">;

/**
 * A worker's hold on a running run. Every write for the run carries it; a write whose claim is no
 * longer current (the run was cancelled, or another worker took it over) is refused with
 * StaleClaimError.
 */
export interface Claim {
  /** What the worker needs of the run; its stages come from `spec`. */
  run: ClaimedRun;
  /** The pipeline's stages as they were when the run was triggered (a later PUT does not change them). */
  spec: StagesSpec;
  /**
   * The pipeline's name as it is at the claim, and its repository as it was when the run was
   * triggered (as `spec`: a later PUT does not change what a queued run checks out).
   */
  pipeline: { name: string; repository: string };
  workerId: string;
  /** Unique per claim: fencing token compared on every write. */
  token: string;
}

export interface StagePatch {
  status?: StageStatus;
  /** A retry of the stage starts: its attempt number (2, 3, ...). */
  attempt?: number;
  /** Lines appended to the stage's log. The store may keep the array: it must not change afterwards. */
  logs?: string[];
  /**
   * Also marks the next stage running, at the same instant, in the same write: a stage that succeeded
   * and the one after it starting are one transition, not two writes (RangeError on the last stage).
   */
  startNext?: boolean;
}

/** A stage's final patch, written by finishRun together with the run's end. */
export interface LastStage {
  index: number;
  status?: StageStatus;
  /** As StagePatch's. */
  logs?: string[];
}

/** What a cancel did: `cancelled` a queued run, `requested` a running run's cancel, or nothing to a `finished` one. */
export interface CancelResult {
  outcome: "cancelled" | "requested" | "finished";
  run: Run;
}

/** A request's Idempotency-Key, and a fingerprint of the request it came with. */
export interface IdempotencyKey {
  key: string;
  fingerprint: string;
}

/**
 * What a request with an Idempotency-Key did: made `value`; answered an earlier request's `value`
 * again (`replayed`); found the key used by a request with another fingerprint (`mismatch`); or found
 * that what the earlier request made no longer exists (`gone`).
 */
export type Idempotent<T> = { value: T; replayed: boolean } | { mismatch: true } | { gone: true };

/** How long an Idempotency-Key is remembered. */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 60 * 60 * 1000;

/** A rerun's new run, or why there is none: the original's pipeline was deleted. */
export type RerunResult = { run: Run } | { pipelineDeleted: true };

export interface DeleteResult {
  /** Runs that were queued and are now cancelled. */
  cancelledQueued: Run[];
  /** The run that was running, now cancelled; its worker is told through `watchClaim`. */
  cancelledRunning: Run[];
}

/**
 * Runs and pipelines returned by a store are snapshots for reading: later writes do not change them, and
 * they must not be changed.
 */
export interface Store {
  /** True when state outlives the process (queued runs can be left for other workers at shutdown). */
  readonly durable: boolean;

  createPipeline(input: PipelineInput): Promise<Pipeline>;
  /** createPipeline at most once per key within IDEMPOTENCY_KEY_TTL_MS, also across processes. */
  createPipelineOnce(input: PipelineInput, key: IdempotencyKey): Promise<Idempotent<Pipeline>>;
  getPipeline(id: string): Promise<Pipeline | undefined>;
  listPipelines(opts: { limit: number; cursor?: string | undefined }): Promise<Page<Pipeline>>;
  /** Full replacement; undefined when there is no such pipeline. */
  updatePipeline(id: string, input: PipelineInput): Promise<Pipeline | undefined>;
  /** Deletes the pipeline and cancels its queued and running runs; undefined when there is none. */
  deletePipeline(id: string): Promise<DeleteResult | undefined>;

  /**
   * Writes a queued run; undefined when the pipeline does not exist. The pipeline's concurrency policy
   * applies in the same write: `supersede` cancels its other queued runs, `cancel_in_progress` also
   * asks its running run to cancel, each with the error "superseded by run <id>". `env` is the
   * trigger's parameters, already validated (TriggerInput); none by default.
   */
  triggerRun(pipelineId: string, gitRef: string, env?: RunEnv): Promise<Run | undefined>;
  /** triggerRun at most once per pipeline and key within IDEMPOTENCY_KEY_TTL_MS, also across processes. */
  triggerRunOnce(pipelineId: string, gitRef: string, key: IdempotencyKey, env?: RunEnv): Promise<Idempotent<Run> | undefined>;
  /**
   * A new queued run of `id`'s pipeline with its git_ref, env, stages and repository, `rerun_of` it;
   * undefined for no such run.
   */
  rerunRun(id: string): Promise<RerunResult | undefined>;
  /**
   * Cancels a run: a queued one at once (error "cancelled: <reason>"); for a running one, records
   * `cancel_requested_at` and tells its worker (ClaimWatcher.cancel), which ends it. Asking again
   * changes nothing. Undefined for no such run.
   */
  cancelRun(id: string, reason: string): Promise<CancelResult | undefined>;
  getRun(id: string): Promise<Run | undefined>;
  /** Newest first. */
  listRuns(filter: ListRunsFilter): Promise<Page<Run>>;
  /** Up to `limit` of the run's log lines numbered after `after`, in order; undefined for no such run. */
  getLogs(runId: string, after: number, limit: number): Promise<LogsPage | undefined>;
  /**
   * Calls `listener` when the run may have new log lines or a new state (a follower then reads again).
   * Returns a function that stops listening.
   */
  onRunChange(runId: string, listener: () => void): () => void;

  /**
   * Atomically takes the oldest queued run whose pipeline has no running run and marks it running,
   * and its first stage with it. Undefined when nothing is claimable.
   */
  claimRun(workerId: string): Promise<Claim | undefined>;
  /** Updates one stage of a claimed run (by index in `run.stages`; RangeError for none). */
  updateStage(claim: Claim, index: number, patch: StagePatch): Promise<void>;
  /**
   * Ends a claimed run: terminal status, error, and every stage not yet finished marked
   * `skipped` (or `cancelled` if it was running). `last`, the final patch of the stage that was
   * running, is applied first, in the same write. Resolves to nothing: no caller needs the ended run
   * (getRun reads it), and building it is a sixth of a PostgreSQL finish.
   */
  finishRun(claim: Claim, status: "success" | "failed" | "cancelled", error: string | null, last?: LastStage): Promise<void>;
  /**
   * Hands a claimed run back to the queue (a durable store's worker shutting down): the run is
   * `queued` again in its original place, its stages pending, a log line saying why.
   */
  releaseRun(claim: Claim, reason: string): Promise<void>;
  /**
   * Calls `onLost` once if the claim stops being current (its run was ended by someone else, or taken
   * over), and `onCancel` once with the error to end the run with if a cancel of it is asked for (also
   * when that was asked before the watch began). Returns a function that stops watching.
   */
  watchClaim(claim: Claim, onLost: (reason: string) => void, onCancel?: (error: string) => void): () => void;

  /** Calls `listener` whenever a run may have become claimable. Returns an unsubscribe function. */
  onClaimable(listener: () => void): () => void;

  /**
   * A durable store's: ends the runs of workers whose leases expired, so that their pipelines move on.
   * Such a store runs it on its own while workers listen; the worker function also calls it before it
   * claims, since an invocation may end before the store's own pass has.
   */
  recoverExpired?(): Promise<Run[]>;

  /** Cancels every queued run (used when a non-durable store shuts down). */
  cancelQueued(reason: string): Promise<Run[]>;
  close(): Promise<void>;
}
