/**
 * The worker as a function, for a schedule (or any invocation): claims and runs queued runs until
 * none is left or the remaining time falls below a safety margin, and never starts a stage it could
 * not finish in the time left (the run is handed back for the next invocation instead). Returns a
 * summary of what it did.
 */
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { systemClock, type Clock } from "../lib/clock.ts";
import { storeFromEnvironment } from "../lib/config/environment.ts";
import { loadConfig } from "../lib/config/settings.ts";
import { workerSettings, type WorkerConfig } from "../lib/config/workerSettings.ts";
import type { StageSpec } from "../lib/store/stages.ts";
import type { Store } from "../lib/store/store.ts";
import { stageRunnerFor } from "../lib/worker/runners.ts";
import { worstCaseMs } from "../lib/worker/runExecution.ts";
import type { StageRunner } from "../lib/worker/stageRunner.ts";
import { WorkerPool, type PoolCounts } from "../lib/worker/pool.ts";

/** Time kept free at the end of an invocation for the last writes and the reply. */
export const SAFETY_MARGIN_MS = 5_000;

export interface WorkerSummary extends PoolCounts {
  /** Why it stopped: nothing left to claim, or not enough time for another stage. */
  stopped: "idle" | "deadline";
  remainingMs: number;
}

export interface WorkerDeps {
  store: Store;
  clock: Clock;
  workers: number;
  runner: StageRunner;
  /** The longest `stage` can take: it is started only with that much time left, and the margin. */
  stageBudgetMs: (stage: StageSpec) => number;
  /** A stage's time limit when its spec sets none. */
  stageTimeoutS?: number;
}

/** The invocation with its dependencies given: what the deployed handler runs, and what tests call. */
export async function runWorker(context: Pick<Context, "getRemainingTimeInMillis" | "awsRequestId">, deps: WorkerDeps): Promise<WorkerSummary> {
  const enoughTime = (stage?: StageSpec) => context.getRemainingTimeInMillis() > (stage ? deps.stageBudgetMs(stage) : 0) + SAFETY_MARGIN_MS;
  let refused = false;
  const pool = new WorkerPool({
    store: deps.store,
    runner: deps.runner,
    size: deps.workers,
    clock: deps.clock,
    name: `fn-${context.awsRequestId}`,
    canStartStage: (stage) => {
      if (enoughTime(stage)) return true;
      refused = true;
      return false;
    },
    ...(deps.stageTimeoutS ? { stageTimeoutS: deps.stageTimeoutS } : {}),
  });
  if (!enoughTime()) return { ...pool.counts, stopped: "deadline", remainingMs: context.getRemainingTimeInMillis() };
  // Before claiming, so that a pipeline a dead worker held runs in this invocation; a database that
  // cannot be reached fails the claims too, which back off as ever.
  await deps.store.recoverExpired?.().catch(() => {});
  pool.start();
  await pool.whenIdle();
  const stopped = refused || !enoughTime() ? "deadline" : "idle";
  // Stages under way were started with time to finish: let them, within the margin; a run's next
  // stage is refused by canStartStage and the run handed back.
  await pool.stop(Math.max(0, context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS / 2));
  return { ...pool.counts, stopped, remainingMs: context.getRemainingTimeInMillis() };
}

/**
 * A simulated attempt takes its set duration; a real one up to its time limit and the kill grace, so
 * with the shell executor STAGERUNNER_STAGE_TIMEOUT_S (or timeout_seconds) must fit in the function's,
 * every retry included.
 */
export const stageBudget =
  (config: WorkerConfig) =>
  (stage: StageSpec): number =>
    worstCaseMs(stage, config.executor === "simulate" ? config.stageDurationMs : (stage.timeout_seconds ?? config.stageTimeoutS) * 1000 + config.killGraceMs);

let runner: StageRunner | undefined;

export const handler = middy<unknown, WorkerSummary>({ timeoutEarlyInMillis: 0 }).handler(async (_event, context) => {
  // Stage runner settings and the like (STAGERUNNER_STAGE_DURATION_MS, ...), as `stagerunner worker` reads them.
  const config = loadConfig(workerSettings, {}, process.env);
  runner ??= stageRunnerFor(config, systemClock);
  const longest = stageBudget(config)({ kind: "run", command: "" });
  if (longest + SAFETY_MARGIN_MS > context.getRemainingTimeInMillis())
    console.error(`a stage without timeout_seconds may take ${longest} ms, more than this invocation has: lower STAGERUNNER_STAGE_TIMEOUT_S`);
  const deps = { store: await storeFromEnvironment(), clock: systemClock, workers: config.workers, runner, stageBudgetMs: stageBudget(config) };
  return runWorker(context, { ...deps, stageTimeoutS: config.stageTimeoutS });
});
