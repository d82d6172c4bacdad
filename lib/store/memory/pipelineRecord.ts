/** A pipeline as the in-memory store keeps it: with its queue of runs and the run it is running. */
import type { Pipeline, Run, RunEnv } from "../../api/schemas.ts";
import { Fifo } from "./fifo.ts";
import type { RunRecord, RunSource } from "./runRecord.ts";

export interface PipelineRecord {
  /** Creation order, for listing. */
  seq: number;
  pipeline: Pipeline;
  /** Its queued runs in trigger order. */
  queue: Fifo<RunRecord>;
  /** The running run, if any: a pipeline runs one run at a time. */
  running: RunRecord | undefined;
}

export const newPipelineRecord = (seq: number, pipeline: Pipeline): PipelineRecord => ({ seq, pipeline, queue: new Fifo(), running: undefined });

/** Where a queued run of `pipeline` stands (the queue is in trigger order, so a binary search finds it) and what it waits for. */
export function queuePlace(pipeline: PipelineRecord, record: RunRecord): Pick<Run, "queue_position" | "waiting_for"> {
  let lo = 0;
  let hi = pipeline.queue.size;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pipeline.queue.at(mid)!.seq < record.seq) lo = mid + 1;
    else hi = mid;
  }
  const ahead = lo === 0 ? pipeline.running : pipeline.queue.at(lo - 1);
  return { queue_position: lo + 1, waiting_for: ahead ? `run ${ahead.run.id}` : "a free worker" };
}

/** A trigger of `pipeline` as it is now; `env` is copied, so that the caller's object is not kept. */
export const triggerSource = (pipeline: PipelineRecord, gitRef: string, env: RunEnv): RunSource => ({
  git_ref: gitRef,
  env: { ...env },
  spec: pipeline.pipeline.stages,
  repository: pipeline.pipeline.repository,
});
