/**
 * What the in-memory store's history costs as it grows: one store filled with many finished runs (0-ms
 * stages, 8 workers, 64 pipelines), as an emulator that has been up a long time holds them. Reports the
 * fill's runs/s, the heap and array-buffer memory kept per run, and the pause of a full collection with
 * all of them kept, against one with none (the same process before the fill): a full collection marks
 * every object the runs keep, and it stops the server while it does.
 */
import { performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { runAtZero } from "./engine.ts";
import { MemoryStore } from "../lib/store/memory/memoryStore.ts";
import { median } from "./stats.ts";

export interface KeptRunsPoint {
  runs: number;
  fillRunsPerSecond: number;
  heapBytesPerRun: number;
  arrayBufferBytesPerRun: number;
  /** Median of five full collections, ms: with nothing kept, then with the runs kept. */
  fullGcEmptyMs: number;
  fullGcKeptMs: number;
}

export async function measureKeptRuns(runs: number): Promise<KeptRunsPoint> {
  const gc = exposedGc();
  const fullGcEmptyMs = fullGcMs(gc);
  const before = process.memoryUsage();
  const store = new MemoryStore();
  const fillRunsPerSecond = await runAtZero(store, 8, 64, runs);
  const fullGcKeptMs = fullGcMs(gc);
  const after = process.memoryUsage();
  // Read after the collections, so that the store is still there to be measured.
  if ((await store.listRuns({ limit: 1 })).items.length !== 1) throw new Error("kept runs: the store lost its runs");
  return {
    runs,
    fillRunsPerSecond,
    heapBytesPerRun: (after.heapUsed - before.heapUsed) / runs,
    arrayBufferBytesPerRun: (after.arrayBuffers - before.arrayBuffers) / runs,
    fullGcEmptyMs,
    fullGcKeptMs,
  };
}

function fullGcMs(gc: () => void): number {
  const pauses: number[] = [];
  for (let i = 0; i < 5; i++) {
    const began = performance.now();
    gc();
    pauses.push(performance.now() - began);
  }
  return median(pauses);
}

/** V8's full collection, made callable without starting node with --expose-gc. */
function exposedGc(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}
