/**
 * RSS under retention and memory per kept run: a child process (retentionProcess.ts) runs many 0-ms
 * runs through one in-memory store with the default retention and samples its RSS after a full
 * collection, once V8 has returned the pages it freed. Flat means: no sample after the warm-up more
 * than 10% above the first one after it.
 */
import { fork } from "node:child_process";
import { once } from "node:events";

export interface RetentionSample {
  /** Runs finished when sampled. */
  runs: number;
  /** Time spent running them (sampling excluded). */
  seconds: number;
  rssBytes: number;
  heapUsedBytes: number;
}

export interface RetentionRun {
  runs: number;
  workers: number;
  pipelines: number;
  /** The store's limit on finished runs (the default). */
  retainRuns: number;
  /** Runs between samples. */
  every: number;
  seconds: number;
  runsPerSecond: number;
  samples: RetentionSample[];
  /** Runs the store held at the end (listed through it). */
  kept: number;
  /** Heap the store held at the end: heap used with it, less heap used once it was let go. */
  storeHeapBytesAtEnd: number;
  /** The same of a store run only up to its limit (nothing dropped yet), divided by its runs. */
  heapBytesPerKeptRun: number;
}

/** The RSS figures the target is checked on; undefined when too few samples came after the warm-up. */
export interface RssFlatness {
  /** Runs before the reference sample: a tenth of the run, and never before the store is full. */
  warmupRuns: number;
  /** The first sample after the warm-up, the reference. */
  first: RetentionSample;
  last: RetentionSample;
  max: RetentionSample;
  /** max / first RSS: the target. */
  growth: number;
  /** The same from the first sample taken once the store held `retainRuns` runs (reported). */
  growthSinceFull: number;
}

export function rssFlatness(r: Pick<RetentionRun, "runs" | "samples" | "retainRuns">): RssFlatness | undefined {
  const warmupRuns = Math.max(r.retainRuns, r.runs / 10);
  const after = r.samples.filter((s) => s.runs >= warmupRuns);
  const full = r.samples.find((s) => s.runs >= r.retainRuns);
  if (after.length < 2 || !full) return undefined;
  const first = after[0]!;
  const max = after.reduce((a, b) => (b.rssBytes > a.rssBytes ? b : a));
  const maxSinceFull = Math.max(...r.samples.filter((s) => s.runs >= full.runs).map((s) => s.rssBytes));
  return { warmupRuns, first, last: after.at(-1)!, max, growth: max.rssBytes / first.rssBytes, growthSinceFull: maxSinceFull / full.rssBytes };
}

export async function measureRetention(runs: number, every: number, workers: number, pipelines: number): Promise<RetentionRun> {
  const child = fork(new URL("./retentionProcess.ts", import.meta.url).pathname, [runs, every, workers, pipelines].map(String), {
    execArgv: ["--expose-gc", "--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let report: RetentionRun | undefined;
  child.on("message", (message) => (report = message as RetentionRun));
  const [code] = (await once(child, "exit")) as [number | null];
  if (!report) throw new Error(`retention: the child exited (${code}) without a result`);
  return report;
}
