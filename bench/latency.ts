/**
 * Trigger-to-start latency of the in-memory engine, taken by the recording decorator:
 * - with idle workers: one trigger at a time, each once every worker is back waiting (the target);
 * - under open-loop load: triggers arrive at a fixed rate whatever the engine does, so waiting shows
 *   up in trigger-to-start instead of being hidden by a closed loop. Pipelines are triggered
 *   round-robin, so a run waits only for a worker, never for its own pipeline.
 */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { latencies, startEngine, type Latencies } from "./engine.ts";

export interface IdlePoint extends Latencies {
  workers: number;
  pipelines: number;
  runs: number;
  /** Pause after each run has finished before the next trigger, ms. */
  gapMs: number;
  maxConcurrentPerPipeline: number;
  outOfOrder: number;
}

/**
 * `runs` triggers, each made `gapMs` after the previous run finished, when every worker is waiting
 * for work, as a request reaching an idle emulator finds them. 0-ms stages.
 */
export async function measureIdle(workers: number, pipelines: number, runs: number, gapMs = 1): Promise<IdlePoint> {
  const engine = await startEngine(workers, pipelines, 0);
  for (let i = 0; i < runs; i++) {
    await sleep(gapMs);
    await engine.trigger(i);
    await engine.recording.whenFinished(i + 1);
  }
  await engine.stop();
  const { maxConcurrentPerPipeline, outOfOrder } = engine.recording;
  return { workers, pipelines, runs, gapMs, maxConcurrentPerPipeline, outOfOrder, ...latencies(engine.recording) };
}

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
