/**
 * A Store decorator that records, for every run, when it was triggered, started and finished
 * (performance.now(), sub-millisecond), and checks the queue's two rules as it goes: never two runs
 * of one pipeline running at once, and a pipeline's runs started in the order they were triggered.
 *
 * The in-memory store mutates synchronously inside each call, so a finish is recorded right after the
 * store ends the run and before any other task can claim the pipeline's next run: an overlap counted
 * here is a real one.
 *
 * The recording is kept cheap, because the engine is measured through it: times go in arrays of
 * numbers by run (no object or boxed number per run), found through the run's pipeline (a handful of
 * Map keys) rather than its id.
 */
import { performance } from "node:perf_hooks";
import type { Claim, Store } from "../lib/store/store.ts";
import { wrapStore } from "../test/support/storeWrappers.ts";

export interface Recording {
  /** By run, in trigger order: trigger, start and finish times; NaN where none. */
  triggered: number[];
  started: number[];
  finished: number[];
  /** Largest number of runs of one pipeline seen running at once; must be 1. */
  maxConcurrentPerPipeline: number;
  /** Runs that started before an older run of their pipeline; must be 0. */
  outOfOrder: number;
  finishedCount: number;
  /** Resolves once `count` runs have finished. */
  whenFinished(count: number): Promise<void>;
}

/** One pipeline's runs, as indexes into the recording's arrays, in trigger order. */
interface PipelineRuns {
  runs: number[];
  ids: (string | undefined)[];
  /** How many have started; the next to start must be runs[claimed]. */
  claimed: number;
  running: number;
  /** Index of the run that started last. */
  current: number;
}

export function recordingStore(inner: Store): { store: Store; recording: Recording } {
  const pipelines = new Map<string, PipelineRuns>();
  let waiting: { count: number; resolve: () => void } | undefined;
  const recording: Recording = {
    triggered: [],
    started: [],
    finished: [],
    maxConcurrentPerPipeline: 0,
    outOfOrder: 0,
    finishedCount: 0,
    whenFinished: (count) =>
      recording.finishedCount >= count ? Promise.resolve() : new Promise((resolve) => (waiting = { count, resolve })),
  };
  const runsOf = (pipelineId: string): PipelineRuns => {
    let p = pipelines.get(pipelineId);
    if (!p) pipelines.set(pipelineId, (p = { runs: [], ids: [], claimed: 0, running: 0, current: -1 }));
    return p;
  };
  const started = (claim: Claim | undefined): Claim | undefined => {
    if (!claim) return claim;
    const p = runsOf(claim.run.pipeline_id);
    const index = p.runs[p.claimed]!;
    // A worker can claim a run before its trigger's promise has given the id here: the order is
    // checked at the finish, by which time every id is known.
    p.current = p.claimed++;
    recording.started[index] = performance.now();
    if (++p.running > recording.maxConcurrentPerPipeline) recording.maxConcurrentPerPipeline = p.running;
    return claim;
  };
  const finished = (claim: Claim): void => {
    const p = runsOf(claim.run.pipeline_id);
    if (p.ids[p.current] !== claim.run.id) recording.outOfOrder++;
    recording.finished[p.runs[p.current]!] = performance.now();
    p.running--;
    if (++recording.finishedCount === waiting?.count) waiting.resolve();
  };
  const store = wrapStore(inner, {
    triggerRun: (pipelineId, gitRef, env) => {
      const p = runsOf(pipelineId);
      const at = p.ids.length;
      p.runs.push(recording.triggered.length);
      p.ids.push(undefined);
      recording.triggered.push(performance.now());
      recording.started.push(NaN);
      recording.finished.push(NaN);
      return inner.triggerRun(pipelineId, gitRef, env).then((run) => {
        p.ids[at] = run?.id;
        return run;
      });
    },
    claimRun: async (workerId) => started(await inner.claimRun(workerId)),
    finishRun: (claim, status, error, last) => {
      const result = inner.finishRun(claim, status, error, last);
      finished(claim);
      return result;
    },
  });
  return { store, recording };
}
