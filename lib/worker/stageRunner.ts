/**
 * Stage runners execute one stage of a run. The worker pool only knows this interface: `simulate` is
 * the default (the seed's executor, which only logs and waits), `shell` runs the commands (shell/).
 */
import type { Clock } from "../clock.ts";
import { describeStage, type StageSpec } from "../store/stages.ts";

/** What a runner knows of the run whose stage it executes: one object per execution of the run. */
export interface RunContext {
  id: string;
  pipelineId: string;
  pipelineName: string;
  /** As it was when the run was triggered. */
  repository: string;
  gitRef: string;
  /** The trigger's parameters. */
  env: Record<string, string>;
}

export interface StageContext {
  run: RunContext;
  /** Appends a line to the stage's log (kept on the run and printed by the server). */
  log(line: string): void;
  /** Aborted when the run is cancelled or the server stops; the runner must stop promptly. */
  signal: AbortSignal;
}

export interface StageRunner {
  /** Resolves when the stage succeeded; rejects (with a message fit for the run's `error`) when it failed. */
  run(stage: StageSpec, ctx: StageContext): Promise<void>;
  /** Called once when the run is over, however it ended: the runner lets go of what it kept for it. */
  endRun?(run: RunContext): Promise<void>;
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
  return {
    async run(stage, ctx) {
      ctx.log(describeStage(stage));
      if (opts.durationMs > 0) await opts.clock.sleep(opts.durationMs, ctx.signal);
      if (opts.failureProbability > 0 && random() < opts.failureProbability) {
        ctx.log("simulated failure: exit status 1");
        throw new StageFailedError(`${stage.kind} stage failed (simulated, exit status 1)`);
      }
      ctx.log(`simulated: done in ${opts.durationMs} ms`);
    },
  };
}
