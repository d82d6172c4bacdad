/**
 * A worker's writes about a claimed run. On a store that makes them synchronously (in memory) they are
 * made at once; on any other they are made so that a database outage shorter than the run's lease
 * costs the run nothing: tried again while the store is unavailable, and never made twice.
 */
import type { Clock } from "./clock.ts";
import { ServiceUnavailableError } from "./errors.ts";
import type { LazyAbort } from "./lazyAbort.ts";
import type { Run } from "./schemas.ts";
import type { Claim, ImmediateWrites, LastStage, Store } from "./store.ts";

/** The writes that carry a run from its first stage to its end. Undefined when made already, else a promise of it. */
export interface RunWriter {
  /** Stage `index` succeeded with `logs`; `startNext` starts the next stage in the same write. */
  stageSucceeded(index: number, logs: string[], startNext: boolean): Promise<unknown> | undefined;
  /** Ends the run, together with `last`, the final patch of the stage that was running. */
  finish(status: "success" | "failed", error: string | null, last: LastStage): Promise<unknown> | undefined;
}

/** The writer for `claim`: immediate when the store offers it, else retried through outages (persist). */
export function runWriter(store: Store, claim: Claim, persistOptions: () => PersistOptions): RunWriter {
  return store.immediate ? new ImmediateWriter(store.immediate, claim) : new PersistedWriter(store, claim, persistOptions());
}

class ImmediateWriter implements RunWriter {
  constructor(
    private readonly writes: ImmediateWrites,
    private readonly claim: Claim,
  ) {}

  stageSucceeded(index: number, logs: string[], startNext: boolean): undefined {
    this.writes.updateStage(this.claim, index, { status: "success", logs, startNext });
  }

  finish(status: "success" | "failed", error: string | null, last: LastStage): undefined {
    this.writes.finishRun(this.claim, status, error, last);
  }
}

class PersistedWriter implements RunWriter {
  constructor(
    private readonly store: Store,
    private readonly claim: Claim,
    private readonly opts: PersistOptions,
  ) {}

  stageSucceeded(index: number, logs: string[], startNext: boolean): Promise<void> {
    const { store, claim } = this;
    return persist(() => store.updateStage(claim, index, { status: "success", logs, startNext }), stageSucceeded(store, claim, index), this.opts);
  }

  finish(status: "success" | "failed", error: string | null, last: LastStage): Promise<Run> {
    const { store, claim } = this;
    return persist(() => store.finishRun(claim, status, error, last), runEnded(store, claim, status, error), this.opts);
  }
}

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
