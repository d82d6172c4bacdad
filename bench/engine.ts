/**
 * Drives the real engine (MemoryStore + WorkerPool + simulate runner) with no HTTP, and measures
 * throughput, trigger-to-start and trigger-to-finish latency, and the one-run-per-pipeline rule.
 */
import { performance } from "node:perf_hooks";
import { systemClock } from "../lib/clock.ts";
import { MemoryStore } from "../lib/store/memory/memoryStore.ts";
import type { PipelineInput } from "../lib/api/schemas.ts";
import type { Store } from "../lib/store/store.ts";
import { simulateRunner } from "../lib/worker/stageRunner.ts";
import { WorkerPool } from "../lib/worker/pool.ts";
import { seedPipeline } from "../test/support/fixtures.ts";
import { recordingStore, type Recording } from "./recordingStore.ts";
import { percentiles, type Percentiles } from "./stats.ts";

/** Three stages per run, as the sweep's limit min(W, P) / (3 D) assumes: the seed's pipeline. */
export const benchPipeline: PipelineInput = { ...seedPipeline, name: "bench" };

export interface Engine {
  trigger(index: number): Promise<unknown>;
  recording: Recording;
  stop(): Promise<void>;
}

/** A started engine with `pipelines` pipelines; `trigger(i)` queues a run on pipeline i mod P. */
export async function startEngine(workers: number, pipelines: number, stageMs: number): Promise<Engine> {
  const { store, recording } = recordingStore(new MemoryStore());
  const { pool, trigger } = await startPool(store, workers, pipelines, stageMs);
  return { recording, trigger, stop: async () => void (await pool.stop(0)) };
}

/** `pipelines` pipelines on `store` and a started pool of simulated stages; `trigger(i)` as startEngine's. */
export async function startPool(store: Store, workers: number, pipelines: number, stageMs: number) {
  const ids: string[] = [];
  for (let i = 0; i < pipelines; i++) ids.push((await store.createPipeline(benchPipeline)).id);
  const runner = simulateRunner({ clock: systemClock, durationMs: stageMs, failureProbability: 0 });
  const pool = new WorkerPool({ store, runner, size: workers });
  pool.start();
  return { pool, trigger: (index: number) => store.triggerRun(ids[index % pipelines]!, "main") };
}

/**
 * The engine's runs/s with 0-ms stages and nothing measuring it but the clock, as the baseline loop is
 * measured: the emulator's MemoryStore and WorkerPool, no recording decorator.
 */
export async function measureEngineRate(workers: number, pipelines: number, runs: number): Promise<number> {
  const { pool, trigger } = await startPool(new MemoryStore(), workers, pipelines, 0);
  const began = performance.now();
  // Triggered as the baseline queues its runs: one after another, each awaited.
  for (let i = 0; i < runs; i++) await trigger(i);
  await pool.whenIdle();
  const seconds = (performance.now() - began) / 1000;
  await pool.stop(0);
  // One turn of the event loop, untimed, so that what the round left to it does not land in the next.
  await new Promise<void>((resolve) => setImmediate(resolve));
  if (pool.counts.success !== runs) throw new Error(`engine: ${pool.counts.success} of ${runs} runs succeeded`);
  return runs / seconds;
}

export interface Latencies {
  /** Trigger to start, ms. */
  wait: Percentiles;
  /** Trigger to finish, ms. */
  total: Percentiles;
}

export function latencies(recording: Recording): Latencies {
  const wait: number[] = [];
  const total: number[] = [];
  const { triggered, started, finished } = recording;
  for (let i = 0; i < triggered.length; i++) {
    if (!Number.isNaN(started[i]!)) wait.push(started[i]! - triggered[i]!);
    if (!Number.isNaN(finished[i]!)) total.push(finished[i]! - triggered[i]!);
  }
  return { wait: percentiles(wait), total: percentiles(total) };
}

export interface SweepPoint extends Latencies {
  workers: number;
  pipelines: number;
  stageMs: number;
  runs: number;
  seconds: number;
  runsPerSecond: number;
  /** min(W, P) / (3 D) runs/s, for D > 0. */
  limit: number | null;
  efficiency: number | null;
  maxConcurrentPerPipeline: number;
  /** Runs started before an older run of their pipeline; must be 0. */
  outOfOrder: number;
}

/** Triggers sent per turn of the event loop, as a server would take them from its sockets. */
const TRIGGERS_PER_TURN = 64;

/**
 * Triggers `runs` runs at once (round-robin over the pipelines) and waits for all to finish. The
 * triggers go in turns of TRIGGERS_PER_TURN, as requests arriving over HTTP would: 2560 triggers in
 * one synchronous burst would hold every stage's timer up for ~20 ms, a stall no server sees.
 */
export async function measurePoint(workers: number, pipelines: number, stageMs: number, runs: number): Promise<SweepPoint> {
  const engine = await startEngine(workers, pipelines, stageMs);
  const began = performance.now();
  await triggerAll(engine.trigger, runs);
  await engine.recording.whenFinished(runs);
  const seconds = (performance.now() - began) / 1000;
  await engine.stop();
  const runsPerSecond = runs / seconds;
  const limit = stageMs > 0 ? Math.min(workers, pipelines) / ((3 * stageMs) / 1000) : null;
  return {
    workers,
    pipelines,
    stageMs,
    runs,
    seconds,
    runsPerSecond,
    limit,
    efficiency: limit ? runsPerSecond / limit : null,
    maxConcurrentPerPipeline: engine.recording.maxConcurrentPerPipeline,
    outOfOrder: engine.recording.outOfOrder,
    ...latencies(engine.recording),
  };
}

/** `trigger(0)` to `trigger(runs - 1)`, each awaited, in turns of TRIGGERS_PER_TURN. */
export async function triggerAll(trigger: (index: number) => Promise<unknown>, runs: number): Promise<void> {
  for (let i = 0; i < runs; i++) {
    await trigger(i);
    if (i % TRIGGERS_PER_TURN === TRIGGERS_PER_TURN - 1) await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
