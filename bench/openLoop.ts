/**
 * Latency under open-loop load: triggers arrive at a fixed rate whatever the engine does, so waiting
 * shows up in trigger-to-start instead of being hidden by a closed loop. Pipelines are triggered
 * round-robin, so a run waits only for a worker, never for its own pipeline.
 */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { latencies, startEngine, type Latencies } from "./engine.ts";

export interface LoadPoint extends Latencies {
  /** Fraction of the measured capacity. */
  load: number;
  ratePerSecond: number;
  runs: number;
  maxConcurrentPerPipeline: number;
  outOfOrder: number;
}

/** Triggers at `ratePerSecond` for `seconds`, then waits for every run to finish. */
export async function measureLoad(
  workers: number,
  pipelines: number,
  stageMs: number,
  load: number,
  capacity: number,
  seconds: number,
): Promise<LoadPoint> {
  const engine = await startEngine(workers, pipelines, stageMs);
  const ratePerSecond = load * capacity;
  const interval = 1000 / ratePerSecond;
  const runs = Math.max(1, Math.round(ratePerSecond * seconds));
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) {
    // Arrival i is due at t0 + i * interval; a late timer triggers the overdue ones back to back.
    const due = t0 + i * interval - performance.now();
    if (due >= 1) await sleep(Math.floor(due));
    await engine.trigger(i);
  }
  await engine.recording.whenFinished(runs);
  await engine.stop();
  return {
    load,
    ratePerSecond,
    runs,
    maxConcurrentPerPipeline: engine.recording.maxConcurrentPerPipeline,
    outOfOrder: engine.recording.outOfOrder,
    ...latencies(engine.recording),
  };
}
