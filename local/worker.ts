/**
 * A worker process: a pool of workers over a shared (PostgreSQL) store, no HTTP. Run as many as you
 * like, on as many machines: the store hands each run to one of them.
 */
import { hostname } from "node:os";
import { systemClock, type Clock } from "../lib/clock.ts";
import type { WorkerConfig } from "../lib/config/workerSettings.ts";
import { ConfigError } from "../lib/api/errors.ts";
import { openStore } from "../lib/store/openStore.ts";
import type { StageRunner } from "../lib/worker/stageRunner.ts";
import { stageRunnerFor } from "../lib/worker/runners.ts";
import type { Store } from "../lib/store/store.ts";
import { WorkerPool, type StopReport } from "../lib/worker/pool.ts";

export interface RunningWorkers {
  store: Store;
  pool: WorkerPool;
  /** Stops claiming, lets runs finish within the grace period, hands back the rest. */
  close(graceMs?: number): Promise<StopReport>;
}

export async function startWorkers(
  config: WorkerConfig,
  opts: { clock?: Clock; runner?: StageRunner; log?: (line: string) => void } = {},
): Promise<RunningWorkers> {
  if (config.store.kind !== "postgres")
    throw new ConfigError("a worker process needs a store it shares with the API: --store postgres://... (or DATABASE_URL)");
  if (config.workers < 1) throw new ConfigError("--workers: a worker process needs at least 1 worker");
  const clock = opts.clock ?? systemClock;
  const runner = opts.runner ?? stageRunnerFor(config, clock);
  const store = await openStore(config, clock, opts.log);
  // Worker ids name the host and process, so a run's worker can be found from any machine.
  const name = `${hostname()}-${process.pid}`;
  const pool = new WorkerPool({ store, runner, size: config.workers, name, clock, stageTimeoutS: config.stageTimeoutS, ...(opts.log ? { log: opts.log } : {}) });
  pool.start();
  let closing: Promise<StopReport> | undefined;
  const close = (graceMs = config.shutdownGraceMs) =>
    (closing ??= (async () => {
      const report = await pool.stop(graceMs);
      await store.close();
      return report;
    })());
  return { store, pool, close };
}
