/**
 * The baseline loop, and the engine against it at 0-ms stages (reported, no target).
 *
 * The loop is the smallest honest implementation of the same rule: per-pipeline FIFO arrays, a busy
 * set, a list of ready pipelines, W async workers that wait on a promise when idle, three awaited
 * no-op stages per run. No store, no logs, no timestamps.
 * (A single array scanned for the first run of a non-busy pipeline would be O(N) per claim with one
 * pipeline, so the baseline keeps one FIFO per pipeline, as the engine does.)
 */
import { performance } from "node:perf_hooks";
import { measureEngineRate } from "./engine.ts";
import { median, pairedRatio } from "./stats.ts";

/** The engine (unrecorded) against the baseline loop at 0-ms stages, over alternating rounds. */
export interface BaselinePoint {
  workers: number;
  pipelines: number;
  runs: number;
  rounds: number;
  /** Medians over the rounds. */
  baselineRunsPerSecond: number;
  engineRunsPerSecond: number;
  /** Median of the rounds' engine/baseline. */
  ratio: number;
}

const noopStage = async (): Promise<void> => {};

export async function measureBaseline(workers: number, pipelines: number, runs: number): Promise<number> {
  const queues = Array.from({ length: pipelines }, () => ({ items: [] as number[], head: 0 }));
  const busy = new Set<number>();
  const ready: number[] = [];
  let readyHead = 0;
  const idle: (() => void)[] = [];
  let finished = 0;
  let maxBusy = 0;
  const wakeOne = () => idle.shift()?.();

  const worker = async () => {
    while (finished < runs) {
      if (readyHead === ready.length) {
        await new Promise<void>((resolve) => idle.push(resolve));
        continue;
      }
      const p = ready[readyHead++]!;
      const queue = queues[p]!;
      queue.head++;
      busy.add(p);
      maxBusy = Math.max(maxBusy, busy.size);
      await noopStage();
      await noopStage();
      await noopStage();
      busy.delete(p);
      finished++;
      if (queue.head < queue.items.length) {
        ready.push(p);
        wakeOne();
      }
    }
    while (idle.length) wakeOne();
  };

  const started = performance.now();
  const all = Array.from({ length: workers }, worker);
  for (let i = 0; i < runs; i++) {
    const p = i % pipelines;
    const queue = queues[p]!;
    queue.items.push(i);
    if (queue.items.length - queue.head === 1 && !busy.has(p)) {
      ready.push(p);
      wakeOne();
    }
    await Promise.resolve();
  }
  await Promise.all(all);
  const seconds = (performance.now() - started) / 1000;
  if (maxBusy > Math.min(workers, pipelines)) throw new Error("baseline broke its own rule");
  return runs / seconds;
}

/**
 * The engine and the baseline in alternating rounds, each first in every other round so that neither
 * always inherits the other's heap; the ratio is the median of the rounds' pairs, so that the machine's
 * drift between measurements cancels out rather than landing on one side.
 */
export async function versusBaseline(workers: number, pipelines: number, runs: number, rounds: number): Promise<BaselinePoint> {
  const engine: number[] = [];
  const baseline: number[] = [];
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      engine.push(await measureEngineRate(workers, pipelines, runs));
      baseline.push(await measureBaseline(workers, pipelines, runs));
    } else {
      baseline.push(await measureBaseline(workers, pipelines, runs));
      engine.push(await measureEngineRate(workers, pipelines, runs));
    }
  }
  return {
    workers,
    pipelines,
    runs,
    rounds,
    engineRunsPerSecond: median(engine),
    baselineRunsPerSecond: median(baseline),
    ratio: pairedRatio(engine, baseline),
  };
}
