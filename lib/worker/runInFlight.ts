/**
 * What a worker keeps of the run it is executing, in one object: the claim, the run's abort, the
 * watch on its claim, its writer and its stage log. The worker's loop holds this one object across
 * each stage's await rather than five: the loop's suspended frame lives as long as the worker, in the
 * old generation, and every young object stored into it at an await goes through a write barrier
 * (with five, a run of 0-ms stages took 1,000 more machine instructions at 8 workers and 64 pipelines,
 * 600 more at one of each, counted with valgrind).
 */
import type { Clock } from "../clock.ts";
import { StaleClaimError } from "../api/errors.ts";
import { LazyAbort } from "./lazyAbort.ts";
import type { StageSpec } from "../store/stages.ts";
import { runWriter, type RunWriter } from "./runWriter.ts";
import { StageLog, type LogTurn } from "./stageLog.ts";
import type { Claim, Store } from "../store/store.ts";

export interface RunInFlight {
  readonly claim: Claim;
  /**
   * Its stages, in execution order: set by the worker once it may fail the run (stageSpecs throws on a
   * spec that is not one: a corrupt row), empty until then.
   */
  specs: readonly StageSpec[];
  /** One abort per run: a runner's abort listeners must not outlive its run. */
  readonly abort: LazyAbort;
  readonly print: ((line: string) => void) | undefined;
  /** Prefix of the run's progress lines; empty for a silent pool, so that no string is made. */
  readonly tag: string;
  readonly writer: RunWriter;
  /** One log per run, whatever its number of stages; each stage's context writes to its own stage. */
  readonly log: StageLog;
  /** Ends the watch on the claim. */
  readonly unwatch: () => void;
}

/**
 * Starts keeping `claim`'s run: its abort (aborted at once with `abortedBy`, when given: the shutdown's
 * grace is over), the watch on its claim, its writer and its log (flushed by `turn`). (An object
 * literal: as a class with fields, a run took 1,900 more machine instructions at 8 workers and 64
 * pipelines.)
 */
export function runInFlight(claim: Claim, store: Store, clock: Clock, print: ((line: string) => void) | undefined, abortedBy: Error | undefined, turn: LogTurn): RunInFlight {
  const abort = new LazyAbort();
  if (abortedBy) abort.abort(abortedBy);
  const unwatch = store.watchClaim(claim, (reason) => abort.abort(new StaleClaimError(claim.run.id, reason)));
  // Whole ids: they are time-ordered, so a prefix would be the same for every run of a minute.
  const tag = print ? `run ${claim.run.id}` : "";
  const writer = runWriter(store, claim, clock, abort, print, tag);
  return { claim, specs: NO_STAGES, abort, print, tag, writer, log: new StageLog(writer, turn), unwatch };
}

const NO_STAGES: readonly StageSpec[] = [];
