/**
 * Run control, over every Store: cancel (queued at once; running through its worker), rerun, the
 * pipeline's concurrency policy, where a queued run stands, and stage attempts.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Run, type PipelineInput } from "../../../lib/api/schemas.ts";
import { iso } from "../../../lib/clock.ts";
import type { Claim, Store } from "../../../lib/store/store.ts";
import { copy, runOnly, seedPipeline } from "../../support/fixtures.ts";
import { EPOCH, ManualClock, sequentialIds, UNKNOWN_ID } from "../../support/manualClock.ts";
import { implementations } from "../../support/stores.ts";

const valid = (run: Run | undefined): Run => Run.parse(run);

describe.each(implementations)("Store run control: $name", (impl) => {
  let clock: ManualClock;
  let store: Store;

  beforeEach(async () => {
    clock = new ManualClock();
    store = await impl.create({ clock, ids: sequentialIds() });
  });

  afterEach(async () => {
    await store.close();
  });

  const pipeline = async (input: PipelineInput = runOnly("p")) => (await store.createPipeline(copy(input))).id;
  const trigger = async (pipelineId: string, gitRef = "main") => valid(await store.triggerRun(pipelineId, gitRef));
  const claim = async (): Promise<Claim> => {
    const c = await store.claimRun("w1");
    if (!c) throw new Error("expected a claimable run");
    return c;
  };
  const getRun = async (id: string) => valid(await store.getRun(id));

  describe("cancel", () => {
    it("cancels a queued run at once, with the reason in its error, and frees nothing else", async () => {
      const p = await pipeline();
      const first = await trigger(p);
      const second = await trigger(p);
      await clock.advance(5);
      const result = await store.cancelRun(first.id, "not needed");
      expect(result?.outcome).toBe("cancelled");
      const run = valid(result?.run);
      expect(run).toMatchObject({ status: "cancelled", error: "cancelled: not needed", finished_at: iso(EPOCH + 5), cancel_requested_at: null });
      expect(run.stages.map((s) => s.status)).toEqual(["skipped"]);
      expect(await getRun(first.id)).toEqual(run);
      expect((await claim()).run.id).toBe(second.id);
    });

    it("asks a running run's worker to cancel it, once, and leaves ending it to the worker", async () => {
      const p = await pipeline();
      const run = await trigger(p);
      const c = await claim();
      const cancels: string[] = [];
      store.watchClaim(c, () => cancels.push("lost"), (error) => cancels.push(error));
      await clock.advance(7);
      const first = await store.cancelRun(run.id, "by request");
      expect(first?.outcome).toBe("requested");
      expect(valid(first?.run)).toMatchObject({ status: "running", cancel_requested_at: iso(EPOCH + 7) });
      await clock.advance(7);
      const again = await store.cancelRun(run.id, "twice");
      expect(again?.outcome).toBe("requested");
      expect(valid(again?.run).cancel_requested_at).toBe(iso(EPOCH + 7));
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(cancels).toEqual(["cancelled: by request"]);
      await store.updateStage(c, 0, { logs: ["stopping"] });
      await store.finishRun(c, "cancelled", "cancelled: by request", { index: 0, logs: ["stopped"] });
      const ended = await getRun(run.id);
      expect(ended).toMatchObject({ status: "cancelled", error: "cancelled: by request", cancel_requested_at: iso(EPOCH + 7) });
      expect(ended.stages[0]).toMatchObject({ status: "cancelled", logs: ["stopping", "stopped"] });
      expect(cancels).toEqual(["cancelled: by request"]);
    });

    it("tells a watch that begins after the cancel was asked for", async () => {
      const p = await pipeline();
      const run = await trigger(p);
      const c = await claim();
      await store.cancelRun(run.id, "early");
      const error = await new Promise<string>((resolve) => store.watchClaim(c, () => resolve("lost"), resolve));
      expect(error).toBe("cancelled: early");
    });

    it("changes nothing for a finished run, and answers undefined for an unknown one", async () => {
      const p = await pipeline();
      const run = await trigger(p);
      await store.finishRun(await claim(), "success", null);
      const done = await getRun(run.id);
      const result = await store.cancelRun(run.id, "late");
      expect(result?.outcome).toBe("finished");
      expect(valid(result?.run)).toEqual(done);
      expect(await store.cancelRun(UNKNOWN_ID, "x")).toBeUndefined();
    });
  });

  describe("rerun", () => {
    it("queues a new run of the original's pipeline, ref, env, stages and repository as they ran, rerun_of it", async () => {
      const p = await pipeline(seedPipeline);
      const env = { DEPLOY_ENV: "staging", NOTE: "a=b" };
      const original = valid(await store.triggerRun(p, "v1.2", { ...env }));
      await store.finishRun(await claim(), "failed", "boom");
      await store.updatePipeline(p, runOnly("changed"));
      await clock.advance(3);
      const result = await store.rerunRun(original.id);
      if (!result || !("run" in result)) throw new Error("expected a rerun");
      const rerun = valid(result.run);
      expect(rerun).toMatchObject({ pipeline_id: p, git_ref: "v1.2", env, status: "queued", rerun_of: original.id, created_at: iso(EPOCH + 3) });
      expect(rerun.id).not.toBe(original.id);
      expect(rerun.stages.map((s) => s.name)).toEqual(["run", "build", "deploy"]);
      const c = await claim();
      expect(c.spec).toEqual(seedPipeline.stages);
      expect(c.run).toEqual({ id: rerun.id, pipeline_id: p, git_ref: "v1.2", env });
      // It checks out what the original did; the name is the pipeline's now.
      expect(c.pipeline).toEqual({ name: "changed", repository: "repo1" });
      expect(valid(await store.getRun(original.id)).rerun_of).toBeNull();
    });

    it("answers pipelineDeleted when the pipeline is gone, and undefined for an unknown run", async () => {
      const p = await pipeline();
      const run = await trigger(p);
      await store.deletePipeline(p);
      expect(await store.rerunRun(run.id)).toEqual({ pipelineDeleted: true });
      expect(await store.rerunRun(UNKNOWN_ID)).toBeUndefined();
    });
  });

  describe("concurrency policy", () => {
    it("defaults to queue, and is kept and replaced with the pipeline", async () => {
      const p = await pipeline();
      expect((await store.getPipeline(p))?.concurrency).toBe("queue");
      const updated = await store.updatePipeline(p, { ...runOnly("p"), concurrency: "supersede" });
      expect(updated?.concurrency).toBe("supersede");
      expect((await store.getPipeline(p))?.concurrency).toBe("supersede");
    });

    it("queue: every trigger waits its turn", async () => {
      const p = await pipeline();
      const runs = [await trigger(p), await trigger(p), await trigger(p)];
      for (const run of runs) expect((await getRun(run.id)).status).toBe("queued");
    });

    it("supersede: a trigger cancels the pipeline's queued runs, not its running one nor other pipelines'", async () => {
      const p = await pipeline({ ...runOnly("p"), concurrency: "supersede" });
      const other = await pipeline(runOnly("other"));
      const running = await trigger(p);
      await claim();
      const queued = [await trigger(p), await trigger(p)];
      const elsewhere = await trigger(other);
      const latest = await trigger(p);
      // Each trigger supersedes the one queued before it.
      expect(await getRun(queued[0]!.id)).toMatchObject({ status: "cancelled", error: `superseded by run ${queued[1]!.id}` });
      expect(await getRun(queued[1]!.id)).toMatchObject({ status: "cancelled", error: `superseded by run ${latest.id}` });
      expect(await getRun(running.id)).toMatchObject({ status: "running", cancel_requested_at: null });
      expect((await getRun(elsewhere.id)).status).toBe("queued");
      expect((await getRun(latest.id)).status).toBe("queued");
    });

    it("cancel_in_progress: a trigger also asks the running run's worker to cancel it", async () => {
      const p = await pipeline({ ...runOnly("p"), concurrency: "cancel_in_progress" });
      const running = await trigger(p);
      const c = await claim();
      const cancelled = new Promise<string>((resolve) => store.watchClaim(c, () => resolve("lost"), resolve));
      const queued = await trigger(p);
      await clock.advance(2);
      const latest = await trigger(p);
      expect(await cancelled).toBe(`superseded by run ${queued.id}`);
      expect(await getRun(running.id)).toMatchObject({ status: "running", cancel_requested_at: iso(EPOCH) });
      expect(await getRun(queued.id)).toMatchObject({ status: "cancelled", error: `superseded by run ${latest.id}` });
    });
  });

  describe("why a run waits", () => {
    it("gives queued runs their place and what they wait for, and running or finished runs neither", async () => {
      const p = await pipeline();
      const a = await trigger(p);
      expect(a).toMatchObject({ queue_position: 1, waiting_for: "a free worker" });
      const b = await trigger(p);
      expect(b).toMatchObject({ queue_position: 2, waiting_for: `run ${a.id}` });
      await claim();
      const c = await trigger(p);
      expect(await getRun(b.id)).toMatchObject({ queue_position: 1, waiting_for: `run ${a.id}` });
      expect(await getRun(c.id)).toMatchObject({ queue_position: 2, waiting_for: `run ${b.id}` });
      const running = await getRun(a.id);
      expect(running.queue_position).toBeUndefined();
      expect(running.waiting_for).toBeUndefined();
      const listed = (await store.listRuns({ limit: 10, status: "queued" })).items;
      expect(listed.map((r) => [r.id, r.queue_position])).toEqual([
        [c.id, 2],
        [b.id, 1],
      ]);
    });
  });

  describe("stage attempts", () => {
    it("counts 0 before a stage runs, 1 once it runs, and what a retry says", async () => {
      const p = await pipeline(seedPipeline);
      const run = await trigger(p);
      expect(run.stages.map((s) => s.attempts)).toEqual([0, 0, 0]);
      const c = await claim();
      expect((await getRun(run.id)).stages.map((s) => s.attempts)).toEqual([1, 0, 0]);
      await store.updateStage(c, 0, { attempt: 2, logs: ["retrying"] });
      await store.updateStage(c, 0, { status: "success", startNext: true });
      expect((await getRun(run.id)).stages.map((s) => s.attempts)).toEqual([2, 1, 0]);
    });
  });

  describe("idempotency keys", () => {
    const key = (k: string, fingerprint = "f1") => ({ key: k, fingerprint });

    it("triggers once per pipeline and key: the same request again answers the same run", async () => {
      const p = await pipeline();
      const other = await pipeline(runOnly("other"));
      const first = await store.triggerRunOnce(p, "main", key("k1"));
      if (!first || !("value" in first)) throw new Error("expected a run");
      expect(first.replayed).toBe(false);
      const again = await store.triggerRunOnce(p, "main", key("k1"));
      expect(again).toMatchObject({ replayed: true, value: { id: first.value.id } });
      expect(await store.triggerRunOnce(p, "dev", key("k1", "f2"))).toEqual({ mismatch: true });
      const elsewhere = await store.triggerRunOnce(other, "main", key("k1"));
      expect(elsewhere).toMatchObject({ replayed: false });
      expect((await store.listRuns({ limit: 10 })).items).toHaveLength(2);
      expect(await store.triggerRunOnce(UNKNOWN_ID, "main", key("k1"))).toBeUndefined();
    });

    it("makes exactly one run for concurrent requests with one key", async () => {
      const p = await pipeline();
      const results = await Promise.all(Array.from({ length: 8 }, () => store.triggerRunOnce(p, "main", key("burst"))));
      const ids = new Set(results.map((r) => (r && "value" in r ? r.value.id : "none")));
      expect(ids.size).toBe(1);
      expect(results.filter((r) => r && "value" in r && !r.replayed)).toHaveLength(1);
      expect((await store.listRuns({ limit: 10 })).items).toHaveLength(1);
    });

    it("forgets a key after 24 hours", async () => {
      const p = await pipeline();
      const first = await store.triggerRunOnce(p, "main", key("daily"));
      await clock.advance(24 * 60 * 60 * 1000 - 1);
      expect(await store.triggerRunOnce(p, "main", key("daily"))).toMatchObject({ replayed: true });
      await clock.advance(1);
      const later = await store.triggerRunOnce(p, "main", key("daily"));
      expect(later).toMatchObject({ replayed: false });
      expect(later && "value" in later && first && "value" in first && later.value.id !== first.value.id).toBe(true);
    });

    it("creates a pipeline once per key, and says when what the key made is gone", async () => {
      const first = await store.createPipelineOnce(runOnly("p"), key("create"));
      if (!("value" in first)) throw new Error("expected a pipeline");
      expect(await store.createPipelineOnce(runOnly("p"), key("create"))).toEqual({ value: first.value, replayed: true });
      expect(await store.createPipelineOnce(runOnly("q"), key("create", "f2"))).toEqual({ mismatch: true });
      await store.deletePipeline(first.value.id);
      expect(await store.createPipelineOnce(runOnly("p"), key("create"))).toEqual({ gone: true });
      expect((await store.listPipelines({ limit: 10 })).items).toHaveLength(0);
    });
  });
});
