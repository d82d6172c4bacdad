/**
 * Stage time limits and retries, on an injected clock: a stage that overruns fails with its limit in the
 * run's error; a failed or timed-out stage runs again while retries are left, after a back-off, its
 * lines marked with the attempt; a cancel is never retried.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { PipelineInput } from "../../../lib/api/schemas.ts";
import { iso } from "../../../lib/clock.ts";
import { MemoryStore } from "../../../lib/store/memory/memoryStore.ts";
import { WorkerPool } from "../../../lib/worker/pool.ts";
import { EPOCH, ManualClock, sequentialIds, settle } from "../../support/manualClock.ts";
import { sleepRunner } from "../../support/sleepRunner.ts";

const pools: { pool: WorkerPool; clock: ManualClock }[] = [];
afterEach(async () => {
  for (const { pool, clock } of pools.splice(0)) {
    const stopping = pool.stop(0);
    await clock.advance(60_000);
    await stopping;
  }
});

/** A pool of one on a manual clock; `sleep N` commands take N ms and those with `fail` fail (sleepRunner). */
async function setup(runStage: Record<string, unknown>, opts: { stageTimeoutS?: number; attemptsToFail?: number } = {}) {
  const clock = new ManualClock();
  const store = new MemoryStore({ clock, ids: sequentialIds() });
  const runner = sleepRunner(clock, 100);
  let failures = opts.attemptsToFail ?? 0;
  const failing = {
    run: async (stage: Parameters<typeof runner.run>[0], ctx: Parameters<typeof runner.run>[1]) => {
      await runner.run(stage, ctx);
      if (failures-- > 0) throw new Error("flaky test: exit status 1");
    },
  };
  const pool = new WorkerPool({ store, runner: failing, size: 1, clock, ...(opts.stageTimeoutS ? { stageTimeoutS: opts.stageTimeoutS } : {}) });
  pools.push({ pool, clock });
  const input = { name: "p", repository: "r", stages: { run_stage: runStage } } as PipelineInput;
  const pipeline = await store.createPipeline(input);
  const run = (await store.triggerRun(pipeline.id, "main"))!;
  pool.start();
  await settle();
  return { clock, store, pool, id: run.id, get: async () => (await store.getRun(run.id))! };
}

describe("stage time limits", () => {
  it("fails a stage that runs past its timeout_seconds, with the limit in the run's error", async () => {
    const t = await setup({ command: "sleep 5000", timeout_seconds: 2 });
    await t.clock.advance(1999);
    expect((await t.get()).status).toBe("running");
    await t.clock.advance(1);
    const run = await t.get();
    expect(run).toMatchObject({ status: "failed", error: "run stage timed out after 2 s", finished_at: iso(EPOCH + 2000) });
    expect(run.stages[0]).toMatchObject({ status: "failed", attempts: 1 });
    expect(run.stages[0]!.logs.at(-1)).toBe("error: run stage timed out after 2 s");
  });

  it("limits a stage with no timeout_seconds by the server's default", async () => {
    const t = await setup({ command: "sleep 5000" }, { stageTimeoutS: 3 });
    await t.clock.advance(3000);
    expect(await t.get()).toMatchObject({ status: "failed", error: "run stage timed out after 3 s" });
  });
});

describe("stage retries", () => {
  it("runs a failed stage again after a back-off, its lines marked, and counts the attempts", async () => {
    const t = await setup({ command: "sleep 100", retries: 3 }, { attemptsToFail: 2 });
    await t.clock.advance(100); // attempt 1 fails, back-off 1 s
    expect((await t.get()).stages[0]).toMatchObject({ status: "running", attempts: 1 });
    await t.clock.advance(1000 + 100); // attempt 2 fails, back-off 2 s
    expect((await t.get()).stages[0]!.attempts).toBe(2);
    await t.clock.advance(2000 + 100); // attempt 3 succeeds
    const run = await t.get();
    expect(run).toMatchObject({ status: "success", error: null });
    expect(run.stages[0]).toMatchObject({ status: "success", attempts: 3 });
    expect(run.stages[0]!.logs).toEqual([
      "sleeping 100 ms",
      "done",
      "flaky test: exit status 1; retrying in 1 s (attempt 2 of 4)",
      "[attempt 2] sleeping 100 ms",
      "[attempt 2] done",
      "[attempt 2] flaky test: exit status 1; retrying in 2 s (attempt 3 of 4)",
      "[attempt 3] sleeping 100 ms",
      "[attempt 3] done",
    ]);
  });

  it("fails the run with the last attempt's error once the retries are spent, timeouts included", async () => {
    const t = await setup({ command: "sleep 5000", retries: 1, timeout_seconds: 1 });
    await t.clock.advance(1000 + 1000 + 1000);
    const run = await t.get();
    expect(run).toMatchObject({ status: "failed", error: "run stage timed out after 1 s" });
    expect(run.stages[0]!.attempts).toBe(2);
  });

  it("never retries a cancel: cancelled during the back-off, the stage ends cancelled", async () => {
    const t = await setup({ command: "sleep 100", retries: 2 }, { attemptsToFail: 5 });
    await t.clock.advance(100);
    await t.store.cancelRun(t.id, "enough");
    await settle();
    await t.clock.advance(10_000);
    const run = await t.get();
    expect(run).toMatchObject({ status: "cancelled", error: "cancelled: enough" });
    expect(run.stages[0]).toMatchObject({ status: "cancelled", attempts: 1 });
  });
});
