/**
 * A worker's writes about a claimed run, made so that a database outage shorter than the run's lease
 * costs the run nothing: the writes that move the run on are tried again while the store is
 * unavailable, and never made twice.
 */
import { ServiceUnavailableError } from "../api/errors.ts";
import { backoffMs, type Clock } from "../clock.ts";
import type { Claim, LastStage, Store } from "../store/store.ts";


export interface RunWriterOptions {
  clock: Clock;
  /** The run's abort: cancelled, its claim lost, or the shutdown grace over. */
  signal: AbortSignal;
  log: ((line: string) => void) | undefined;
  tag: string;
}

export class RunWriter {
  constructor(
    private readonly store: Store,
    private readonly claim: Claim,
    private readonly opts: RunWriterOptions,
  ) {}

  /** Lines written while a stage runs: made once (the StageLog keeps the lines of a failed write). */
  writeLogs(index: number, lines: string[]): Promise<void> {
    return this.store.updateStage(this.claim, index, { logs: lines });
  }

  /** Stage `index` starts its attempt number `attempt` (a retry). */
  startAttempt(index: number, attempt: number): Promise<void> {
    const { store, claim } = this;
    return this.persist(
      () => store.updateStage(claim, index, { attempt }),
      async () => ((await store.getRun(claim.run.id))?.stages[index]?.attempts === attempt ? { value: undefined } : undefined),
    );
  }

  /** Stage `index` succeeded with `logs`; `startNext` starts the next stage in the same write. */
  stageSucceeded(index: number, logs: string[], startNext: boolean): Promise<void> {
    const { store, claim } = this;
    return this.persist(
      () => store.updateStage(claim, index, { status: "success", logs, startNext }),
      async () => ((await store.getRun(claim.run.id))?.stages[index]?.status === "success" ? { value: undefined } : undefined),
    );
  }

  /** Ends the run, its stage `last.index` patched in the same write. */
  finish(status: "success" | "failed" | "cancelled", error: string | null, last?: LastStage): Promise<void> {
    const { store, claim } = this;
    return this.persist(
      () => store.finishRun(claim, status, error, last),
      async () => {
        const run = await store.getRun(claim.run.id);
        return run?.status === status && run.error === error ? { value: undefined } : undefined;
      },
    );
  }

  /**
   * Makes `write`, trying again while the store is unavailable (ServiceUnavailableError), with back-off.
   * A write that failed may have been committed all the same (the connection dropped on the way back),
   * so before each retry `landed` reads the run: when it shows the write, it is not made again. Gives
   * up when the run is aborted, and on any other error.
   */
  private async persist<T>(write: () => Promise<T>, landed: () => Promise<{ value: T } | undefined>): Promise<T> {
    const { signal, clock } = this.opts;
    for (let failures = 0; ; failures++) {
      try {
        return await write();
      } catch (thrown) {
        if (failures > 0) {
          const done = await landed().catch(() => undefined);
          if (done) return done.value;
        }
        if (!(thrown instanceof ServiceUnavailableError) || signal.aborted) throw thrown;
        const delay = backoffMs(failures);
        this.opts.log?.(`${this.opts.tag}: could not record progress (${thrown.message}); retrying in ${delay} ms`);
        await clock.sleep(delay, signal).catch(() => {});
        const done = await landed().catch(() => undefined);
        if (done) return done.value;
        if (signal.aborted) throw signal.reason;
      }
    }
  }
}
