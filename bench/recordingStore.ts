/**
 * A Store decorator that records, for every run, when it was triggered, started and finished
 * (performance.now(), sub-millisecond), and the largest number of runs of one pipeline running at once.
 *
 * The in-memory store mutates synchronously inside each call, so a finish is recorded right after the
 * store ends the run and before any other task can claim the pipeline's next run: an overlap counted
 * here is a real one.
 */
import { performance } from "node:perf_hooks";
import type { Claim, ImmediateWrites, Store } from "../lib/store.ts";
import { withOverrides } from "./storeOverrides.ts";

export interface RunTimes {
  triggered: number;
  started: number | undefined;
  finished: number | undefined;
}

export interface Recording {
  runs: Map<string, RunTimes>;
  /** Largest number of runs of one pipeline seen running at once; must be 1. */
  maxConcurrentPerPipeline: number;
  finished: number;
  /** Resolves once `count` runs have finished. */
  whenFinished(count: number): Promise<void>;
}

export function recordingStore(inner: Store): { store: Store; recording: Recording } {
  const runs = new Map<string, RunTimes>();
  const runningPerPipeline = new Map<string, number>();
  let waiting: { count: number; resolve: () => void } | undefined;
  const recording: Recording = {
    runs,
    maxConcurrentPerPipeline: 0,
    finished: 0,
    whenFinished: (count) =>
      recording.finished >= count ? Promise.resolve() : new Promise((resolve) => (waiting = { count, resolve })),
  };
  const overrides: { -readonly [K in keyof Store]?: Store[K] } = {};
  // A run's times, made by whichever sees it first: with immediate writes a worker can claim a run
  // before its trigger's promise has handed the id back here.
  const times = (id: string): RunTimes => {
    let entry = runs.get(id);
    if (!entry) runs.set(id, (entry = { triggered: NaN, started: undefined, finished: undefined }));
    return entry;
  };
  overrides.triggerRun = async (pipelineId, gitRef) => {
    const triggered = performance.now();
    const run = await inner.triggerRun(pipelineId, gitRef);
    if (run) times(run.id).triggered = triggered;
    return run;
  };
  const started = (claim: Claim | undefined): Claim | undefined => {
    if (claim) {
      times(claim.run.id).started = performance.now();
      const running = (runningPerPipeline.get(claim.run.pipeline_id) ?? 0) + 1;
      runningPerPipeline.set(claim.run.pipeline_id, running);
      recording.maxConcurrentPerPipeline = Math.max(recording.maxConcurrentPerPipeline, running);
    }
    return claim;
  };
  const finished = (claim: Claim): void => {
    times(claim.run.id).finished = performance.now();
    runningPerPipeline.set(claim.run.pipeline_id, runningPerPipeline.get(claim.run.pipeline_id)! - 1);
    if (++recording.finished === waiting?.count) waiting.resolve();
  };
  overrides.claimRun = async (workerId) => started(await inner.claimRun(workerId));
  overrides.finishRun = (claim: Claim, status, error, last) => {
    const result = inner.finishRun(claim, status, error, last);
    finished(claim);
    return result;
  };
  // The in-memory store's synchronous writes, recorded the same way: the engine measured is the one
  // the emulator runs.
  const immediate = inner.immediate;
  if (immediate)
    overrides.immediate = <ImmediateWrites>{
      claimRun: (workerId) => started(immediate.claimRun(workerId)),
      updateStage: (claim, index, patch) => immediate.updateStage(claim, index, patch),
      finishRun: (claim, status, error, last) => {
        immediate.finishRun(claim, status, error, last);
        finished(claim);
      },
    };
  const store = withOverrides(inner, overrides);
  return { store, recording };
}
