/**
 * Stage runners execute one stage of a run. The worker pool only knows this interface; `simulate`
 * is the default (the seed's executor, which only printed logs), a real command runner comes later.
 */
import type { Clock } from "../clock.ts";
import { describeStage, type StageSpec } from "../store/stages.ts";

export interface StageContext {
  /** Appends a line to the stage's log (kept on the run and printed by the server). */
  log(line: string): void;
  /** Aborted when the run is cancelled or the server stops; the runner must stop promptly. */
  signal: AbortSignal;
}

export interface StageRunner {
  /** Resolves when the stage succeeded; rejects (with a message fit for the run's `error`) when it failed. */
  run(stage: StageSpec, ctx: StageContext): Promise<void>;
}

/** A stage that ran and failed (as opposed to one that was aborted). */
export class StageFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StageFailedError";
  }
}

export interface SimulateOptions {
  clock: Clock;
  /** How long each stage takes. */
  durationMs: number;
  /** Chance in [0, 1] that a stage fails. */
  failureProbability: number;
  /** Source of randomness in [0, 1); injected so tests choose which stages fail. */
  random?: () => number;
}

/** Logs what the stage would do, waits `durationMs`, and fails with `failureProbability`. */
export function simulateRunner(opts: SimulateOptions): StageRunner {
  const random = opts.random ?? Math.random;
  const done = `simulated: done in ${opts.durationMs} ms`;
  const end = (stage: StageSpec, ctx: StageContext): Promise<void> => {
    if (opts.failureProbability > 0 && random() < opts.failureProbability) {
      ctx.log("simulated failure: exit status 1");
      return Promise.reject(new StageFailedError(`${stage.kind} stage failed (simulated, exit status 1)`));
    }
    ctx.log(done);
    return RESOLVED;
  };
  // Not an async function: a 0-ms stage has nothing to wait for or interrupt, so it allocates nothing
  // (no promise of its own, no signal: see LazyAbort) and ends at once, its caller's await being its
  // one turn of the microtask queue, as an awaited no-op would.
  return {
    run(stage, ctx) {
      ctx.log(describeStage(stage));
      if (opts.durationMs > 0) return opts.clock.sleep(opts.durationMs, ctx.signal).then(() => end(stage, ctx));
      return end(stage, ctx);
    },
  };
}

const RESOLVED = Promise.resolve();
