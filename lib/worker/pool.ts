/**
 * The worker pool: N workers that claim runs from the Store and execute their stages through a
 * StageRunner, recording every transition in the store. It knows nothing of which store it uses.
 * Idle workers wait until the store's `onClaimable` notification wakes them (lib/idleWorkers.ts).
 */
import { systemClock, type Clock } from "../clock.ts";
import { coerceError, ShutdownAbort, StaleClaimError } from "../api/errors.ts";
import { IdleWorkers } from "./idleWorkers.ts";
import { stageSpecs, type StageSpec } from "../store/stages.ts";
import type { Run } from "../api/schemas.ts";
import { runInFlight, type RunInFlight } from "./runInFlight.ts";
import { stageContext } from "./stageContext.ts";
import { LogTurn } from "./stageLog.ts";
import type { StageRunner } from "./stageRunner.ts";
import type { Claim, Store } from "../store/store.ts";

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
}

/** What the pool's workers did since it started. */
export interface PoolCounts {
  success: number;
  failed: number;
  cancelled: number;
  released: number;
}

export interface StopReport {
  /** Runs that were still executing when the grace period ran out, now cancelled (non-durable store). */
  interrupted: Run[];
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
  /** The run each worker is executing, by worker; undefined when it executes none. */
  private readonly inFlight: (RunInFlight | undefined)[];
  /** Flushes the logs of the runs in flight at the end of a turn in which they logged. */
  private readonly logTurn = new LogTurn(() => {
    for (const run of this.inFlight) run?.log.flush();
  });
  private executing = 0;
  private readonly interrupted: Run[] = [];
  private readonly released: string[] = [];
  private readonly idle = new IdleWorkers((waiting) => this.stopping || (waiting === this.ids.length && this.executing === 0));
  private unsubscribe: (() => void) | undefined;
  private readonly canStartStage: ((stage: StageSpec) => boolean) | undefined;
  /** Runs ended by this pool's workers, by how they ended. */
  readonly counts: PoolCounts = { success: 0, failed: 0, cancelled: 0, released: 0 };

  constructor(opts: WorkerPoolOptions) {
    if (!Number.isInteger(opts.size) || opts.size < 0) throw new RangeError(`pool size must be a whole number >= 0, got ${opts.size}`);
    this.store = opts.store;
    this.runner = opts.runner;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log;
    this.canStartStage = opts.canStartStage;
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
    this.loops = this.ids.map((id, worker) => this.workerLoop(worker, id));
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
    for (const run of this.inFlight) run?.abort.abort(new ShutdownAbort());
    await all;
    return { interrupted: this.interrupted.splice(0), released: this.released.splice(0) };
  }

  /** Resolves when every worker is waiting for work and none is executing (or the pool has stopped). */
  whenIdle(): Promise<void> {
    return this.idle.whenIdle();
  }

  private async workerLoop(worker: number, workerId: string): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      const generation = this.idle.generation;
      let claim: Claim | undefined;
      try {
        const immediate = this.store.immediate;
        claim = immediate ? immediate.claimRun(workerId) : await this.store.claimRun(workerId);
        failures = 0;
      } catch (thrown) {
        // The store is unreachable: back off (50 ms doubling to 5 s) and try again.
        const delay = Math.min(5000, 50 * 2 ** failures++);
        this.log?.(`${workerId}: claim failed (${coerceError(thrown).message}); retrying in ${delay} ms`);
        await this.clock.sleep(delay, this.stopped.signal).catch(() => {});
        continue;
      }
      if (claim) await this.execute(worker, workerId, claim);
      else if (generation === this.idle.generation && !this.stopping) await this.idle.wait();
    }
  }

  /**
   * Runs a claimed run's stages in order and ends it (success, or failed at the first failed stage);
   * never throws. A run of n stages is n + 1 writes: the claim starts the first stage, each stage's end
   * starts the next, the last one's goes with the run's. On a store with immediate writes only the
   * stages are waited for, and runs it can claim at once follow in the same call.
   */
  private async execute(worker: number, workerId: string, first: Claim): Promise<void> {
    for (let claim: Claim | undefined = first; claim; ) {
      const run = runInFlight(claim, this.store, this.clock, this.log, this.graceOver ? new ShutdownAbort() : undefined, this.logTurn);
      this.inFlight[worker] = run;
      this.executing++;
      run.print?.(`${run.tag} started on ${workerId} (pipeline ${claim.run.pipeline_id}, ref ${claim.run.git_ref})`);
      try {
        run.specs = stageSpecs(claim.spec);
        this.checkTimeFor(run.specs[0]!);
        for (let index = 0; ; index++) {
          let failure: Error | undefined;
          try {
            await this.startStage(run, index);
          } catch (thrown) {
            failure = coerceError(thrown);
          }
          // Only `run` and `index` are live across the awaits here: this frame lives as long as the
          // worker, and each value stored into it at an await goes through a write barrier.
          const ended = this.endStage(run, index, failure);
          if (ended === true || (ended !== false && (await ended))) break;
        }
      } catch (thrown) {
        await this.endAborted(run.claim, run.tag, coerceError(run.abort.aborted ? run.abort.reason : thrown));
      } finally {
        run.unwatch();
        this.inFlight[worker] = undefined;
        this.executing--;
      }
      claim = run.writer.claimed ?? this.nextImmediate(workerId);
    }
  }

  /** Runs stage `index` of `run`: what its runner returns. */
  private startStage(run: RunInFlight, index: number): Promise<void> {
    const spec = run.specs[index]!;
    run.log.open(index);
    return this.runner.run(spec, stageContext(run, index, spec));
  }

  /**
   * Records stage `index`'s end (failed with `failure`, if given) and the next stage's start or the
   * run's end: true when the run has ended, else false, or a promise of either to wait for. Throws (or
   * rejects) when the run was aborted, or a shutdown leaves no time for the next stage.
   */
  private endStage(run: RunInFlight, index: number, failure: Error | undefined): boolean | Promise<boolean> {
    if (run.abort.aborted) return this.keepLogsAndStop(run, index);
    const closing = run.log.close();
    return closing ? closing.then(() => this.writeStageEnd(run, index, failure)) : this.writeStageEnd(run, index, failure);
  }

  /** Keeps what an aborted run's stage logged while it was being stopped (the claim may still be ours), then throws why it stopped. */
  private async keepLogsAndStop(run: RunInFlight, index: number): Promise<never> {
    await run.log.close();
    if (run.log.count) await run.writer.writeLogs(index, run.log.take()).catch(() => {});
    throw run.abort.reason;
  }

  /** endStage's write, once the stage's log is closed: it reads the stage's lines from the log's buffer. */
  private writeStageEnd(run: RunInFlight, index: number, failure: Error | undefined): boolean | Promise<boolean> {
    const logs = run.log;
    // Never read past the end: a load out of bounds is a slow one.
    const next = failure || index + 1 === run.specs.length ? undefined : run.specs[index + 1];
    if (!next) {
      const error = failure ? failure.message : null;
      if (failure) logs.closingLine(`error: ${failure.message}`);
      // The run's end also claims the worker's next run, on a store with immediate writes.
      const written = run.writer.finish(failure ? "failed" : "success", error, index, logs, this.stopping ? undefined : run.claim.workerId);
      return written ? written.then(() => this.ended(run, error)) : this.ended(run, error);
    }
    try {
      this.checkTimeFor(next);
    } catch (shutdown) {
      return Promise.resolve(run.writer.stageSucceeded(index, logs, false)).then(() => Promise.reject(shutdown));
    }
    const written = run.writer.stageSucceeded(index, logs, true);
    return written ? written.then(() => false) : false;
  }

  /** Counts and prints a run that ended after its last stage or a failed one. */
  private ended(run: RunInFlight, error: string | null): true {
    if (error === null) this.counts.success++;
    else this.counts.failed++;
    run.print?.(`${run.tag} ${error === null ? "success" : `failed: ${error}`}`);
    return true;
  }

  /** The next run, claimed at once, on a store with immediate writes; else (or if it throws) the worker loop claims. */
  private nextImmediate(workerId: string): Claim | undefined {
    if (this.stopping || !this.store.immediate) return undefined;
    try {
      return this.store.immediate.claimRun(workerId);
    } catch {
      return undefined;
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

  /** A run that did not end normally: cancelled at shutdown, lost to a cancel, or broken by the store. */
  private async endAborted(claim: Claim, tag: string, error: Error): Promise<void> {
    if (error instanceof StaleClaimError) {
      this.log?.(`${tag} stopped: ${error.message}`);
      return;
    }
    const status = error instanceof ShutdownAbort ? "cancelled" : "failed";
    try {
      if (error instanceof ShutdownAbort && this.store.durable) {
        // Another worker process can take it: hand it back rather than cancel it.
        await this.store.releaseRun(claim, error.message);
        this.released.push(claim.run.id);
        this.counts.released++;
        this.log?.(`${tag} handed back to the queue: ${error.message}`);
        return;
      }
      const run = await this.store.finishRun(claim, status, error.message);
      this.counts[status]++;
      if (error instanceof ShutdownAbort) this.interrupted.push(run);
      this.log?.(`${tag} ${status}: ${error.message}`);
    } catch (thrown) {
      this.log?.(`${tag} could not be ended (${coerceError(thrown).message}); the store will recover it`);
    }
  }
}
