/**
 * The worker as a function, for a schedule (or any invocation): claims and runs queued runs until
 * none is left or the remaining time falls below a safety margin, and never starts a stage it could
 * not finish in the time left (the run is handed back for the next invocation instead). Returns a
 * summary of what it did.
 */
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { systemClock, type Clock } from "../lib/clock.ts";
import { storeFromEnvironment, workerConfigFromEnvironment } from "../lib/config/environment.ts";
import { simulateRunner } from "../lib/worker/stageRunner.ts";
import type { Store } from "../lib/store/store.ts";
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
  stageDurationMs: number;
  failureProbability: number;
  /** A stage's time limit when its spec sets none. */
  stageTimeoutS?: number;
}

/** The invocation with its dependencies given: what the deployed handler runs, and what tests call. */
export async function runWorker(context: Pick<Context, "getRemainingTimeInMillis" | "awsRequestId">, deps: WorkerDeps): Promise<WorkerSummary> {
  const enoughTime = () => context.getRemainingTimeInMillis() > deps.stageDurationMs + SAFETY_MARGIN_MS;
  const pool = new WorkerPool({
    store: deps.store,
    runner: simulateRunner({ clock: deps.clock, durationMs: deps.stageDurationMs, failureProbability: deps.failureProbability }),
    size: deps.workers,
    clock: deps.clock,
    name: `fn-${context.awsRequestId}`,
    canStartStage: enoughTime,
    ...(deps.stageTimeoutS ? { stageTimeoutS: deps.stageTimeoutS } : {}),
  });
  if (!enoughTime()) return { ...pool.counts, stopped: "deadline", remainingMs: context.getRemainingTimeInMillis() };
  pool.start();
  await pool.whenIdle();
  const stopped = enoughTime() ? "idle" : "deadline";
  // Stages under way were started with time to finish: let them, within the margin; a run's next
  // stage is refused by canStartStage and the run handed back.
  await pool.stop(Math.max(0, context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS / 2));
  return { ...pool.counts, stopped, remainingMs: context.getRemainingTimeInMillis() };
}

export const handler = middy<unknown, WorkerSummary>({ timeoutEarlyInMillis: 0 }).handler(async (_event, context) => {
  const { workers, stageDurationMs, failureProbability, stageTimeoutS } = workerConfigFromEnvironment();
  return runWorker(context, { store: await storeFromEnvironment(), clock: systemClock, workers, stageDurationMs, failureProbability, stageTimeoutS });
});
