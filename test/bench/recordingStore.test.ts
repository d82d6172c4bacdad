/**
 * The bench's recording checks the queue's rules as it measures: it must see a second run of a
 * pipeline started while one runs, and a pipeline's runs started out of trigger order, or its
 * "must be 0 / must be 1" columns mean nothing.
 */
import { describe, expect, it } from "vitest";
import { recordingStore } from "../../bench/recordingStore.ts";
import type { Run } from "../../lib/api/schemas.ts";
import type { Claim, Store } from "../../lib/store/store.ts";

/**
 * The recording over a store that hands out claims in the order the test says, whatever the rules:
 * two runs of pipeline "p" triggered, then `order` claimed.
 */
async function recordingOf(order: string[]) {
  let n = 0;
  const claims: Claim[] = order.map((id) => ({ run: { id, pipeline_id: "p", git_ref: "main", env: {} }, spec: {}, pipeline: { name: "p", repository: "r" }, workerId: "w", token: id }));
  const inner = {
    durable: false,
    triggerRun: async (pipelineId: string) => ({ id: `run-${++n}`, pipeline_id: pipelineId }) as Run,
    claimRun: async () => claims.shift(),
    finishRun: async () => {},
  } as unknown as Store;
  const { store, recording } = recordingStore(inner);
  await store.triggerRun("p", "main");
  await store.triggerRun("p", "main");
  return { store, recording };
}

describe("the bench's recording", () => {
  it("records every run's trigger, start and finish, and sees nothing wrong when the rules hold", async () => {
    const { store, recording } = await recordingOf(["run-1", "run-2"]);
    for (let i = 0; i < 2; i++) await store.finishRun((await store.claimRun("w"))!, "success", null);
    expect(recording.finishedCount).toBe(2);
    expect(recording.started.every((t, i) => t >= recording.triggered[i]! && recording.finished[i]! >= t)).toBe(true);
    expect(recording.maxConcurrentPerPipeline).toBe(1);
    expect(recording.outOfOrder).toBe(0);
  });

  it("counts two runs of one pipeline running at once", async () => {
    const { store, recording } = await recordingOf(["run-1", "run-2"]);
    await store.claimRun("w");
    await store.claimRun("w");
    expect(recording.maxConcurrentPerPipeline).toBe(2);
  });

  it("counts a run started before an older run of its pipeline", async () => {
    const { store, recording } = await recordingOf(["run-2", "run-1"]);
    for (let i = 0; i < 2; i++) await store.finishRun((await store.claimRun("w"))!, "success", null);
    expect(recording.outOfOrder).toBe(2);
    expect(recording.maxConcurrentPerPipeline).toBe(1);
  });
});
