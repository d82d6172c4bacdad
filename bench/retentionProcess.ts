/**
 * The retention bench's process (forked by retention.ts, with --expose-gc so that every sample is
 * taken after a full collection). `runs` 0-ms runs through one in-memory store with the default
 * retention and a worker pool, RSS and heap sampled every `every` runs. Then the heap a kept run
 * holds, in a second store run only up to its limit (so that nothing has been dropped yet): heap used
 * with the store full, less heap used once it is let go. Sends the result over IPC.
 */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { DEFAULT_RETAIN_RUNS, MemoryStore } from "../lib/store/memory/memoryStore.ts";
import { startPool, triggerAll } from "./engine.ts";
import type { RetentionRun, RetentionSample } from "./retention.ts";

const [runs, every, workers, pipelines] = process.argv.slice(2).map(Number) as [number, number, number, number];
const collect = globalThis.gc;
if (!collect) throw new Error("retention: run with --expose-gc");

/** Runs queued at a time, so that what the process holds is what retention keeps, not a backlog. */
const BATCH = 1_000;

/**
 * How long a sample waits between the collection and reading RSS. V8 gives the pages a collection
 * emptied back to the system on a background thread, after gc() has returned: read at once, RSS
 * counted 30 to 50 MB of pages already freed, or part of them, as that thread happened to run (125
 * to 185 of V8's 256-KB pages still mapped, heapTotal unchanged; gone 20 to 100 ms later, even with
 * the main thread spinning). The pool is idle meanwhile, so nothing else changes (bench/README.md).
 */
const SETTLE_MS = 250;

async function sample(done: number, seconds: number): Promise<RetentionSample> {
  collect!();
  await sleep(SETTLE_MS);
  const { rss, heapUsed } = process.memoryUsage();
  return { runs: done, seconds, rssBytes: rss, heapUsedBytes: heapUsed };
}

/** Heap used after a full collection (no RSS, so no wait). */
const heapUsed = () => (collect!(), process.memoryUsage().heapUsed);

/**
 * `count` runs through a new store, sampled every `sampleEvery` runs; the heap with the store still
 * held at the end. The store is out of reach once this returns.
 */
async function through(count: number, sampleEvery: number) {
  const store = new MemoryStore();
  const { pool, trigger } = await startPool(store, workers, pipelines, 0);
  const samples = [await sample(0, 0)];
  let seconds = 0;
  for (let done = 0, next = sampleEvery; done < count; ) {
    const began = performance.now();
    const batch = Math.min(BATCH, count - done);
    await triggerAll((i) => trigger(done + i), batch);
    await pool.whenIdle();
    done += batch;
    seconds += (performance.now() - began) / 1000;
    if (done >= next || done === count) {
      samples.push(await sample(done, seconds));
      next += sampleEvery;
    }
  }
  await pool.stop(0);
  if (pool.counts.success !== count) throw new Error(`retention: ${pool.counts.success} of ${count} runs succeeded`);
  let kept = 0;
  for (let cursor: string | undefined; ; ) {
    const page = await store.listRuns({ limit: 1000, cursor });
    kept += page.items.length;
    if (!(cursor = page.next)) break;
  }
  return { samples, seconds, kept, heapWithStore: heapUsed() };
}

/** Heap used once whatever `through` held is let go. */
const heapWithout = () => (collect!(), heapUsed());

const churn = await through(runs, every);
const churnHeap = churn.heapWithStore - heapWithout();
const once = await through(DEFAULT_RETAIN_RUNS, DEFAULT_RETAIN_RUNS);
const onceHeap = once.heapWithStore - heapWithout();
const report: RetentionRun = {
  runs,
  workers,
  pipelines,
  retainRuns: DEFAULT_RETAIN_RUNS,
  every,
  seconds: churn.seconds,
  runsPerSecond: runs / churn.seconds,
  samples: churn.samples,
  kept: churn.kept,
  storeHeapBytesAtEnd: churnHeap,
  heapBytesPerKeptRun: onceHeap / once.kept,
};
process.send!(report, () => process.exit(0));
