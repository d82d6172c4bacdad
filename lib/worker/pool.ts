/**
 * The worker pool: N workers that claim runs from the Store and execute their stages through a
 * StageRunner, recording every transition in the store. It knows nothing of which store it uses.
 * Idle workers wait until the store's `onClaimable` notification wakes them (idleWorkers.ts).
 */
import { CancelRequested, coerceError, ShutdownAbort, StaleClaimError } from "../api/errors.ts";
import { backoffMs, systemClock, type Clock } from "../clock.ts";
import type { StageSpec } from "../store/stages.ts";
import type { Claim, Store } from "../store/store.ts";
import { IdleWorkers } from "./idleWorkers.ts";
import { executeRun, runContext } from "./runExecution.ts";
import type { StageRunner } from "./stageRunner.ts";

export interface WorkerPoolOptions {
  store: Store;
  runner: StageRunner;
  size: number;
  clock?: Clock;
  /** Prefix of worker ids (`<prefix>-1` ...), so that several processes tell theirs apart. */
  name?: string;
  /** Where progress lines go (the server prints them); silent by default. */
  log?: (line: string) => void;
  /**
   * Asked before each stage; false hands the run back (or, on a non-durable store, cancels it) and
   * stops the pool claiming. A Lambda-hosted worker uses it never to start a stage it cannot finish.
   */
  canStartStage?: (stage: StageSpec) => boolean;
  /** A stage's time limit when its spec sets none. Default 3600. */
  stageTimeoutS?: number;
}

/** What the pool's workers did since it started. */
export interface PoolCounts {
  success: number;
  failed: number;
  cancelled: number;
  released: number;
}

export interface StopReport {
  /** Ids of runs still executing when the grace period ran out, now cancelled (non-durable store). */
  interrupted: string[];
  /** Ids of runs still executing when the grace period ran out, handed back to the queue (durable store). */
  released: string[];
}

export class WorkerPool {
  private readonly store: Store;
  private readonly runner: StageRunner;
  private readonly clock: Clock;
  /** Undefined when silent, so that no progress line is even formatted on the hot path. */
  private readonly log: ((line: string) => void) | undefined;
  private readonly ids: string[];
  private stopping = false;
  /** Aborted by stop(): cuts short a back-off sleep. */
  private readonly stopped = new AbortController();
  /** Set when the shutdown grace period has run out: every run still executing is aborted. */
  private graceOver = false;
  private loops: Promise<void>[] = [];
  /**
   * The abort of the run each worker executes, by worker; undefined while it executes none. Not a Set:
   * a Set that takes an object in and out every run keeps each one reachable from its retired hash
   * tables (V8 links each to the next, for iterators) until a full collection, so that every run's
   * controller and signal went to the old generation (bench/README.md, retention).
   */
  private readonly inFlight: (AbortController | undefined)[];
  private executing = 0;
  private readonly interrupted: string[] = [];
  private readonly released: string[] = [];
  private readonly idle = new IdleWorkers((waiting) => this.stopping || (waiting === this.ids.length && this.executing === 0));
  private unsubscribe: (() => void) | undefined;
  private readonly canStartStage: ((stage: StageSpec) => boolean) | undefined;
  private readonly stageTimeoutS: number;
  /** Runs ended by this pool's workers, by how they ended. */
  readonly counts: PoolCounts = { success: 0, failed: 0, cancelled: 0, released: 0 };

  constructor(opts: WorkerPoolOptions) {
    if (!Number.isInteger(opts.size) || opts.size < 0) throw new RangeError(`pool size must be a whole number >= 0, got ${opts.size}`);
    this.store = opts.store;
    this.runner = opts.runner;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log;
    this.canStartStage = opts.canStartStage;
    this.stageTimeoutS = opts.stageTimeoutS ?? 3600;
    const name = opts.name ?? "worker";
    this.ids = Array.from({ length: opts.size }, (_, i) => `${name}-${i + 1}`);
    this.inFlight = this.ids.map(() => undefined);
  }

  get size(): number {
    return this.ids.length;
  }

  /** Number of runs being executed right now. */
  get busy(): number {
    return this.executing;
  }

  start(): void {
    if (this.loops.length || this.stopping) return;
    this.unsubscribe = this.store.onClaimable(() => this.idle.wake(1));
    this.loops = this.ids.map((id, slot) => this.workerLoop(id, slot));
  }

  /**
   * Stops claiming, lets runs in flight finish for up to `graceMs`, then aborts the rest (their
   * current stage ends cancelled and the run with it). Resolves when every worker has exited.
   */
  async stop(graceMs: number): Promise<StopReport> {
    this.stopping = true;
    this.unsubscribe?.();
    this.stopped.abort();
    this.idle.wake(Infinity);
    const all = Promise.all(this.loops);
    // The grace period starts now even if nothing is executing yet: a claim still on its way back
    // from the store becomes a run that must end within it too.
    const grace = new AbortController();
    await Promise.race([all, this.clock.sleep(graceMs, grace.signal).catch(() => {})]);
    grace.abort();
    this.graceOver = true;
    for (const abort of this.inFlight) abort?.abort(new ShutdownAbort());
    await all;
    return { interrupted: this.interrupted.splice(0), released: this.released.splice(0) };
  }

  /** Resolves when every worker is waiting for work and none is executing (or the pool has stopped). */
  whenIdle(): Promise<void> {
    return this.idle.whenIdle();
  }

  private async workerLoop(workerId: string, slot: number): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      const generation = this.idle.generation;
      let claim: Claim | undefined;
      try {
        claim = await this.store.claimRun(workerId);
        failures = 0;
      } catch (thrown) {
        // The store is unreachable: back off and try again.
        const delay = backoffMs(failures++);
        this.log?.(`${workerId}: claim failed (${coerceError(thrown).message}); retrying in ${delay} ms`);
        await this.clock.sleep(delay, this.stopped.signal).catch(() => {});
        continue;
      }
      if (claim) await this.execute(workerId, slot, claim);
      else if (generation === this.idle.generation && !this.stopping) await this.idle.wait();
    }
  }

  /** Executes a claimed run to its end; never throws. */
  private async execute(workerId: string, slot: number, claim: Claim): Promise<void> {
    const abort = new AbortController();
    if (this.graceOver) abort.abort(new ShutdownAbort());
    this.inFlight[slot] = abort;
    this.executing++;
    const unwatch = this.store.watchClaim(
      claim,
      (reason) => abort.abort(new StaleClaimError(claim.run.id, reason)),
      (error) => abort.abort(new CancelRequested(error)),
    );
    const tag = `run ${claim.run.id}`;
    const run = runContext(claim);
    this.log?.(`${tag} started on ${workerId} (pipeline ${claim.run.pipeline_id}, ref ${claim.run.git_ref})`);
    try {
      const error = await executeRun(claim, run, {
        store: this.store,
        runner: this.runner,
        clock: this.clock,
        signal: abort.signal,
        print: this.log,
        beforeStage: (stage) => this.checkTimeFor(stage),
        stageTimeoutS: this.stageTimeoutS,
      });
      this.counts[error === null ? "success" : "failed"]++;
      this.log?.(`${tag} ${error === null ? "success" : `failed: ${error}`}`);
    } catch (thrown) {
      await this.endAborted(claim, tag, coerceError(abort.signal.aborted ? abort.signal.reason : thrown));
    } finally {
      unwatch();
      // After the run's end is recorded: a cancel does not wait for a workspace to be removed.
      await this.runner.endRun?.(run).catch((error: unknown) => this.log?.(`${tag}: cleaning up failed: ${coerceError(error).message}`));
      this.inFlight[slot] = undefined;
      this.executing--;
    }
  }

  /**
   * Throws ShutdownAbort when canStartStage says `stage` cannot finish in time, and stops the pool
   * claiming (whoever waits for it to go idle may go on).
   */
  private checkTimeFor(stage: StageSpec): void {
    if (!this.canStartStage || this.canStartStage(stage)) return;
    this.stopping = true;
    this.idle.wake(Infinity);
    this.idle.tellIdle();
    throw new ShutdownAbort(`not enough time left to run the ${stage.kind} stage`);
  }

  /** A run that did not end normally: cancelled (asked for, or at shutdown), lost, or broken by the store. */
  private async endAborted(claim: Claim, tag: string, error: Error): Promise<void> {
    if (error instanceof StaleClaimError) {
      this.log?.(`${tag} stopped: ${error.message}`);
      return;
    }
    const status = error instanceof ShutdownAbort || error instanceof CancelRequested ? "cancelled" : "failed";
    try {
      if (error instanceof ShutdownAbort && this.store.durable) {
        // Another worker process can take it: hand it back rather than cancel it.
        await this.store.releaseRun(claim, error.message);
        this.released.push(claim.run.id);
        this.counts.released++;
        this.log?.(`${tag} handed back to the queue: ${error.message}`);
        return;
      }
      await this.store.finishRun(claim, status, error.message);
      this.counts[status]++;
      if (error instanceof ShutdownAbort) this.interrupted.push(claim.run.id);
      this.log?.(`${tag} ${status}: ${error.message}`);
    } catch (thrown) {
      // A stale claim: the run was ended or taken elsewhere meanwhile (deleted with its pipeline, recovered).
      if (thrown instanceof StaleClaimError) this.log?.(`${tag} stopped: ${thrown.message}`);
      else this.log?.(`${tag} could not be ended (${coerceError(thrown).message}); the store will recover it`);
    }
  }
}
