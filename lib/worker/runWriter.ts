/**
 * A worker's writes about a claimed run. On a store that makes them synchronously (in memory) they are
 * made at once; on any other they are made so that a database outage shorter than the run's lease
 * costs the run nothing: tried again while the store is unavailable, and never made twice.
 */
import type { Clock } from "../clock.ts";
import { ServiceUnavailableError } from "../api/errors.ts";
import type { LazyAbort } from "./lazyAbort.ts";
import type { Run } from "../api/schemas.ts";
import type { LogWriter } from "./stageLog.ts";
import type { Claim, ImmediateWrites, LineBuffer, Store } from "../store/store.ts";

/**
 * The writes that carry a run from its first stage to its end. Undefined when made already, else a
 * promise of it. Their lines are read from `logs` before they return. Log lines written while a stage
 * runs are not retried: a StageLog keeps the lines of a failed write for the next one.
 */
export interface RunWriter extends LogWriter {
  /** Stage `index` succeeded with `logs`; `startNext` starts the next stage in the same write. */
  stageSucceeded(index: number, logs: LineBuffer, startNext: boolean): Promise<unknown> | undefined;
  /**
   * Ends the run, and its stage `index` with the same status and `logs`. With `next` (the worker's id),
   * an immediate writer also claims the worker's next run in the same write (ImmediateWrites.finishRun).
   */
  finish(status: "success" | "failed", error: string | null, index: number, logs: LineBuffer, next?: string): Promise<unknown> | undefined;
  /** The run that finish(..., next) claimed, if any. */
  readonly claimed: Claim | undefined;
}

/**
 * The writer for `claim`: immediate when the store offers it, else retried through outages (persist).
 * The options are taken apart so that the immediate writer, the engine's fast path, makes no object of them.
 */
export function runWriter(store: Store, claim: Claim, clock: Clock, abort: LazyAbort, log: PersistOptions["log"], tag: string): RunWriter {
  return store.immediate ? new ImmediateWriter(store, store.immediate, claim) : new PersistedWriter(store, claim, { clock, abort, log, tag });
}

/** Both writers' log writes: made once, as the StageLog keeps the lines of a failed one. */
const writeLogs = (store: Store, claim: Claim, index: number, lines: string[]): Promise<void> => store.updateStage(claim, index, { logs: lines });

/** (Neither writer extends a common class: a derived class's construction was a generic call once a run.) */
class ImmediateWriter implements RunWriter {
  claimed: Claim | undefined = undefined;

  constructor(
    private readonly store: Store,
    private readonly writes: ImmediateWrites,
    private readonly claim: Claim,
  ) {}

  writeLogs(index: number, lines: string[]): Promise<void> {
    return writeLogs(this.store, this.claim, index, lines);
  }

  stageSucceeded(index: number, logs: LineBuffer, startNext: boolean): undefined {
    this.writes.stageSucceeded(this.claim, index, logs, startNext);
  }

  finish(status: "success" | "failed", error: string | null, index: number, logs: LineBuffer, next?: string): undefined {
    this.claimed = this.writes.finishRun(this.claim, status, error, index, logs, next);
  }
}

class PersistedWriter implements RunWriter {
  readonly claimed = undefined;

  constructor(
    private readonly store: Store,
    private readonly claim: Claim,
    private readonly opts: PersistOptions,
  ) {}

  writeLogs(index: number, lines: string[]): Promise<void> {
    return writeLogs(this.store, this.claim, index, lines);
  }

  stageSucceeded(index: number, logs: LineBuffer, startNext: boolean): Promise<void> {
    const { store, claim } = this;
    const patch = { status: "success" as const, logs: linesOf(logs), startNext };
    return persist(() => store.updateStage(claim, index, patch), stageSucceeded(store, claim, index), this.opts);
  }

  finish(status: "success" | "failed", error: string | null, index: number, logs: LineBuffer): Promise<Run> {
    const { store, claim } = this;
    const last = { index, status, logs: linesOf(logs) };
    return persist(() => store.finishRun(claim, status, error, last), runEnded(store, claim, status, error), this.opts);
  }
}

/** A buffer's lines as an array of their own, for a write that may be made again later. */
const linesOf = (logs: LineBuffer): string[] => logs.lines.slice(0, logs.count);

/** A write found already made: its result. */
export type Landed<T> = { value: T } | undefined;

export interface PersistOptions {
  clock: Clock;
  /** The run's abort: cancelled, its claim lost, or the shutdown grace over. */
  abort: LazyAbort;
  log: ((line: string) => void) | undefined;
  tag: string;
}

/**
 * Makes `write`, trying again while the store is unavailable (the database away, or its pool busy:
 * ServiceUnavailableError), backing off 50 ms doubling to 5 s. A write that failed may have been
 * committed all the same (the connection dropped on the way back), so before each retry `landed` reads
 * the run: when it shows the write, it is not made again (a log appended twice, a finish refused as
 * stale). Gives up when the run is aborted, and on any other error.
 */
export async function persist<T>(write: () => Promise<T>, landed: () => Promise<Landed<T>>, opts: PersistOptions): Promise<T> {
  const { abort } = opts;
  for (let failures = 0; ; failures++) {
    try {
      return await write();
    } catch (thrown) {
      if (failures > 0) {
        const done = await hasLanded(landed);
        if (done) return done.value;
      }
      if (!(thrown instanceof ServiceUnavailableError) || abort.aborted) throw thrown;
      const delay = Math.min(5000, 50 * 2 ** failures);
      opts.log?.(`${opts.tag}: could not record progress (${thrown.message}); retrying in ${delay} ms`);
      await opts.clock.sleep(delay, abort.signal).catch(() => {});
      const done = await hasLanded(landed);
      if (done) return done.value;
      if (abort.aborted) throw abort.reason;
    }
  }
}

/** What `landed` found; undefined also when it could not look (the store still unavailable). */
const hasLanded = <T>(landed: () => Promise<Landed<T>>): Promise<Landed<T>> => landed().catch(() => undefined);

/** Whether stage `index` of the claimed run is recorded as succeeded. */
export const stageSucceeded =
  (store: Store, claim: Claim, index: number) =>
  async (): Promise<Landed<void>> =>
    (await store.getRun(claim.run.id))?.stages[index]?.status === "success" ? { value: undefined } : undefined;

/** The claimed run, if it is recorded as ended with `status` and `error`. */
export const runEnded =
  (store: Store, claim: Claim, status: Run["status"], error: string | null) =>
  async (): Promise<Landed<Run>> => {
    const run = await store.getRun(claim.run.id);
    return run?.status === status && run.error === error ? { value: run } : undefined;
  };
