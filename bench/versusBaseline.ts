/**
 * The engine against the baseline loop at 0-ms stages: the two measured in alternating rounds, the
 * ratio the median of each round's pair, so that the machine's drift between measurements (seen here
 * to move either one by half) cancels out rather than landing on one side.
 */
import { measureBaseline } from "./baseline.ts";
import { measureEngineRate } from "./engine.ts";
import type { BaselinePoint } from "./results.ts";
import { median, pairedRatio } from "./stats.ts";

export async function versusBaseline(workers: number, pipelines: number, runs: number, rounds: number): Promise<BaselinePoint> {
  const engine: number[] = [];
  const baseline: number[] = [];
  // Each goes first in every other round, so that neither always inherits the other's heap.
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
