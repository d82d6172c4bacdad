/**
 * The Store contract: what the handlers and the worker pool rely on, whatever the implementation.
 * Written against the Store interface only, so that the PostgreSQL store joins by adding a factory
 * to `implementations`.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { iso } from "../../../lib/clock.ts";
import { BadRequestError, StaleClaimError } from "../../../lib/api/errors.ts";
import { Pipeline, Run, type PipelineInput } from "../../../lib/api/schemas.ts";
import type { Claim, Store } from "../../../lib/store/store.ts";
import { copy, runOnly, seedPipeline } from "../../support/fixtures.ts";
import { EPOCH, ManualClock, sequentialIds, UNKNOWN_ID } from "../../support/manualClock.ts";
import { implementations } from "../../support/stores.ts";

/** Validates against the wire schema and returns the value, so that a test reads `valid(run).status`. */
const validRun = (run: Run | undefined): Run => Run.parse(run);
const validPipeline = (pipeline: Pipeline | undefined): Pipeline => Pipeline.parse(pipeline);

describe.each(implementations)("Store contract: $name", (impl) => {
  let clock: ManualClock;
  let store: Store;

  beforeEach(async () => {
    clock = new ManualClock();
    store = await impl.create({ clock, ids: sequentialIds() });
  });

  afterEach(async () => {
    await store.close();
  });

  const create = async (input: PipelineInput = seedPipeline): Promise<Pipeline> => validPipeline(await store.createPipeline(copy(input)));
  const trigger = async (pipelineId: string, gitRef = "main"): Promise<Run> => validRun(await store.triggerRun(pipelineId, gitRef));
  const claim = async (workerId = "w1"): Promise<Claim> => {
    const c = await store.claimRun(workerId);
    if (!c) throw new Error("expected a claimable run");
    return c;
  };
  const getRun = async (id: string): Promise<Run> => validRun(await store.getRun(id));
  const allPipelines = async (limit = 1000) => (await store.listPipelines({ limit })).items;
  const allRuns = async (filter: { pipeline_id?: string; status?: Run["status"] } = {}) =>
    (await store.listRuns({ ...filter, limit: 1000 })).items;

  describe("pipelines", () => {
    it("creates a pipeline with an id and timestamps from the clock, and gets it back", async () => {
      const pipeline = await create();
      expect(pipeline).toMatchObject(seedPipeline);
      expect(pipeline.created_at).toBe(iso(EPOCH));
      expect(pipeline.updated_at).toBe(iso(EPOCH));
      expect(validPipeline(await store.getPipeline(pipeline.id))).toEqual(pipeline);
    });

    it("gives every pipeline its own id", async () => {
      const a = await create();
      const b = await create();
      expect(a.id).not.toBe(b.id);
    });

    it("answers undefined for an unknown id on get, update and delete", async () => {
      await create();
      expect(await store.getPipeline(UNKNOWN_ID)).toBeUndefined();
      expect(await store.updatePipeline(UNKNOWN_ID, seedPipeline)).toBeUndefined();
      expect(await store.deletePipeline(UNKNOWN_ID)).toBeUndefined();
      expect(await allPipelines()).toHaveLength(1);
    });

    it("replaces a pipeline fully on update, keeping id and created_at and moving updated_at", async () => {
      const pipeline = await create();
      clock.set(EPOCH + 5000);
      const replacement = runOnly("renamed", "npm test");
      const updated = validPipeline(await store.updatePipeline(pipeline.id, copy(replacement)));
      expect(updated).toEqual({ id: pipeline.id, ...replacement, concurrency: "queue", created_at: iso(EPOCH), updated_at: iso(EPOCH + 5000) });
      // Full replacement: the build and deploy stages of the old definition are gone.
      expect(updated.stages).toEqual({ run_stage: { command: "npm test" } });
      expect(await store.getPipeline(pipeline.id)).toEqual(updated);
    });

    it("deletes a pipeline: get answers undefined and it leaves the list", async () => {
      const keep = await create(runOnly("keep"));
      const gone = await create(runOnly("gone"));
      expect(await store.deletePipeline(gone.id)).toEqual({ cancelledQueued: [], cancelledRunning: [] });
      expect(await store.getPipeline(gone.id)).toBeUndefined();
      expect(await allPipelines()).toEqual([keep]);
      expect(await store.deletePipeline(gone.id)).toBeUndefined();
    });

    it("lists pipelines oldest first in pages of `limit`, with `next` absent on the last page", async () => {
      const created: Pipeline[] = [];
      for (let i = 0; i < 5; i++) created.push(await create(runOnly(`p${i}`)));

      const first = await store.listPipelines({ limit: 2 });
      expect(first.items).toEqual(created.slice(0, 2));
      expect(first.next).toEqual(expect.any(String));
      const second = await store.listPipelines({ limit: 2, cursor: first.next });
      expect(second.items).toEqual(created.slice(2, 4));
      expect(second.next).toEqual(expect.any(String));
      const last = await store.listPipelines({ limit: 2, cursor: second.next });
      expect(last.items).toEqual(created.slice(4));
      expect(last).not.toHaveProperty("next");
    });

    it("leaves `next` out when the last page is exactly full, and answers an empty list for no pipelines", async () => {
      expect(await store.listPipelines({ limit: 10 })).toEqual({ items: [] });
      const created = [await create(runOnly("a")), await create(runOnly("b"))];
      const page = await store.listPipelines({ limit: 2 });
      expect(page.items).toEqual(created);
      expect(page.next).toBeUndefined();
    });

    it("keeps paging correctly when the pipeline the cursor points at was deleted", async () => {
      const created: Pipeline[] = [];
      for (let i = 0; i < 4; i++) created.push(await create(runOnly(`p${i}`)));
      const first = await store.listPipelines({ limit: 2 });
      await store.deletePipeline(created[1]!.id);
      const second = await store.listPipelines({ limit: 2, cursor: first.next });
      expect(second.items).toEqual(created.slice(2));
    });

    it("rejects a cursor it did not make with BadRequestError naming `cursor`", async () => {
      await create();
      for (const cursor of ["nope", "%%%", Buffer.from("p-1").toString("base64url"), Buffer.from("x12").toString("base64url")]) {
        const listing = store.listPipelines({ limit: 10, cursor });
        await expect(listing).rejects.toBeInstanceOf(BadRequestError);
        await expect(listing).rejects.toMatchObject({ status: 400, errors: [expect.objectContaining({ path: "cursor" })] });
      }
    });
  });

  describe("runs", () => {
    it("triggers a queued run with pending stages in run, build, deploy order and clock timestamps", async () => {
      const pipeline = await create();
      clock.set(EPOCH + 1000);
      const run = await trigger(pipeline.id, "feature/x");
      expect(run).toEqual({
        id: expect.any(String),
        pipeline_id: pipeline.id,
        git_ref: "feature/x",
        env: {},
        status: "queued",
        stages: ["run", "build", "deploy"].map((name) => ({ name, status: "pending", started_at: null, finished_at: null, attempts: 0, logs: [] })),
        error: null,
        created_at: iso(EPOCH + 1000),
        started_at: null,
        finished_at: null,
        updated_at: iso(EPOCH + 1000),
        rerun_of: null,
        cancel_requested_at: null,
        queue_position: 1,
        waiting_for: "a free worker",
      });
      expect(await getRun(run.id)).toEqual(run);
    });

    it("gives a run only the stages its pipeline defines", async () => {
      const pipeline = await create({ name: "b", repository: "r", stages: { deploy_stage: { cluster_name: "c", manifest_path: "m" }, build_stage: { dockerfile_path: "D" } } });
      const run = await trigger(pipeline.id);
      expect(run.stages.map((s) => s.name)).toEqual(["build", "deploy"]);
    });

    it("finds, claims and lists runs whatever order its id generator gives ids in", async () => {
      const ids = ["c", "a", "e", "b", "d"].map((c) => `00000000-0000-4000-8000-${c.repeat(12)}`);
      const shuffled = await impl.create({ clock, ids: () => ids.shift()! });
      try {
        const pipeline = await shuffled.createPipeline(copy(runOnly("p")));
        const runs = [];
        for (let i = 0; i < 4; i++) runs.push(validRun(await shuffled.triggerRun(pipeline.id, `ref-${i}`)));
        for (const run of runs) expect((await shuffled.getRun(run.id))?.git_ref).toBe(run.git_ref);
        expect((await shuffled.listRuns({ limit: 10 })).items.map((r) => r.git_ref)).toEqual(["ref-3", "ref-2", "ref-1", "ref-0"]);
        const c = (await shuffled.claimRun("w1"))!;
        expect(c.run.id).toBe(runs[0]!.id);
        await shuffled.finishRun(c, "success", null);
        expect((await shuffled.getRun(runs[0]!.id))?.status).toBe("success");
        expect(await shuffled.getRun(UNKNOWN_ID)).toBeUndefined();
      } finally {
        await shuffled.close();
      }
    });

    // 2,100 triggers one after another: on PostgreSQL a few seconds on a busy shared machine.
    it("reads back runs triggered by the thousand as they were written: queued, no times, stages pending", { timeout: 30_000 }, async () => {
      const pipeline = await create();
      const runs: Run[] = [];
      for (let i = 0; i < 2100; i++) runs.push(await trigger(pipeline.id, `ref-${i}`));
      for (const i of [0, 1023, 1024, 2047, 2048, 2099]) {
        const run = await getRun(runs[i]!.id);
        expect(run).toEqual(runs[i]);
        expect(run).toMatchObject({ status: "queued", git_ref: `ref-${i}`, started_at: null, finished_at: null, error: null });
        expect(run.stages.every((s) => s.status === "pending" && s.started_at === null && s.logs.length === 0)).toBe(true);
      }
    });

    it("answers undefined when triggering an unknown or deleted pipeline, and for an unknown run id", async () => {
      expect(await store.triggerRun(UNKNOWN_ID, "main")).toBeUndefined();
      const pipeline = await create();
      await store.deletePipeline(pipeline.id);
      expect(await store.triggerRun(pipeline.id, "main")).toBeUndefined();
      expect(await store.getRun(UNKNOWN_ID)).toBeUndefined();
      expect(await allRuns()).toEqual([]);
    });

    it("lists runs newest first, filtered by pipeline_id and by status", async () => {
      const a = await create(runOnly("a"));
      const b = await create(runOnly("b"));
      const a1 = await trigger(a.id);
      const b1 = await trigger(b.id);
      const a2 = await trigger(a.id);
      const b2 = await trigger(b.id);
      const claimed = await claim(); // a1: the oldest

      const ids = (runs: Run[]) => runs.map((r) => r.id);
      expect(claimed.run.id).toBe(a1.id);
      expect(ids(await allRuns())).toEqual([b2.id, a2.id, b1.id, a1.id]);
      expect(ids(await allRuns({ pipeline_id: a.id }))).toEqual([a2.id, a1.id]);
      expect(ids(await allRuns({ status: "running" }))).toEqual([a1.id]);
      expect(ids(await allRuns({ status: "queued" }))).toEqual([b2.id, a2.id, b1.id]);
      expect(ids(await allRuns({ pipeline_id: b.id, status: "queued" }))).toEqual([b2.id, b1.id]);
      expect(await allRuns({ pipeline_id: a.id, status: "success" })).toEqual([]);
      expect(await allRuns({ pipeline_id: UNKNOWN_ID })).toEqual([]);
      for (const run of await allRuns()) validRun(run);
    });

    it("pages runs newest first, with and without filters, `next` absent on the last page", async () => {
      const a = await create(runOnly("a"));
      const b = await create(runOnly("b"));
      const triggered: Run[] = [];
      for (let i = 0; i < 7; i++) triggered.push(await trigger(i % 3 === 2 ? b.id : a.id, `ref${i}`));
      const newestFirst = triggered.slice().reverse();

      const walk = async (filter: { pipeline_id?: string; status?: Run["status"] }, limit: number) => {
        const pages: string[][] = [];
        let cursor: string | undefined;
        do {
          const page = await store.listRuns({ ...filter, limit, cursor });
          expect(page.items.length).toBeLessThanOrEqual(limit);
          pages.push(page.items.map((r) => r.id));
          cursor = page.next;
        } while (cursor !== undefined && pages.length < 20);
        return pages;
      };

      expect(await walk({}, 3)).toEqual([newestFirst.slice(0, 3), newestFirst.slice(3, 6), newestFirst.slice(6)].map((p) => p.map((r) => r.id)));
      // Exactly full last page: no `next`, so no empty page after it.
      const ofA = newestFirst.filter((r) => r.pipeline_id === a.id).map((r) => r.id);
      expect(ofA).toHaveLength(5);
      expect(await walk({ pipeline_id: a.id }, 5)).toEqual([ofA]);
      expect(await walk({ pipeline_id: a.id }, 2)).toEqual([ofA.slice(0, 2), ofA.slice(2, 4), ofA.slice(4)]);
      const ofB = newestFirst.filter((r) => r.pipeline_id === b.id).map((r) => r.id);
      expect(await walk({ status: "queued", pipeline_id: b.id }, 1)).toEqual(ofB.map((id) => [id]));
    });

    it("rejects a listRuns cursor it did not make with BadRequestError", async () => {
      const pipeline = await create();
      await trigger(pipeline.id);
      await expect(store.listRuns({ limit: 10, cursor: "garbage!" })).rejects.toBeInstanceOf(BadRequestError);
    });
  });

  describe("claims", () => {
    it("answers undefined when nothing is queued", async () => {
      expect(await store.claimRun("w1")).toBeUndefined();
      await create();
      expect(await store.claimRun("w1")).toBeUndefined();
    });

    it("marks the claimed run and its first stage running with started_at from the clock, and hands over the worker id, the spec and the pipeline", async () => {
      const pipeline = await create();
      const queued = await trigger(pipeline.id);
      clock.set(EPOCH + 2500);
      const c = await claim("worker-7");
      expect(c.workerId).toBe("worker-7");
      expect(c.token).toEqual(expect.any(String));
      expect(c.spec).toEqual(seedPipeline.stages);
      const [first, ...rest] = queued.stages;
      const stages = [{ ...first!, status: "running", started_at: iso(EPOCH + 2500), attempts: 1 }, ...rest];
      expect(c.run).toEqual({ id: queued.id, pipeline_id: queued.pipeline_id, git_ref: queued.git_ref, env: {} });
      expect(c.pipeline).toEqual({ name: "test1", repository: "repo1" });
      const { queue_position: _position, waiting_for: _waiting, ...notQueued } = queued;
      expect(validRun(await getRun(queued.id))).toEqual({ ...notQueued, status: "running", stages, started_at: iso(EPOCH + 2500), updated_at: iso(EPOCH + 2500) });
      expect(await store.claimRun("worker-8")).toBeUndefined();
    });

    it("claims one pipeline's runs in trigger order, one at a time", async () => {
      const pipeline = await create(runOnly("p"));
      const runs = [await trigger(pipeline.id, "r1"), await trigger(pipeline.id, "r2"), await trigger(pipeline.id, "r3")];
      for (const expected of runs) {
        const c = await claim();
        expect(c.run.id).toBe(expected.id);
        // Nothing else is claimable while this one runs: the pipeline is busy.
        expect(await store.claimRun("w2")).toBeUndefined();
        await store.finishRun(c, "success", null);
      }
      expect(await store.claimRun("w1")).toBeUndefined();
    });

    it("claims across pipelines oldest first, skipping a busy pipeline without blocking the others", async () => {
      const a = await create(runOnly("a"));
      const b = await create(runOnly("b"));
      const c = await create(runOnly("c"));
      const b1 = await trigger(b.id);
      const a1 = await trigger(a.id);
      const a2 = await trigger(a.id);
      const c1 = await trigger(c.id);

      const first = await claim("w1");
      const second = await claim("w2");
      const third = await claim("w3");
      // b1 is oldest; then a1; a2 waits behind a1 (pipeline a is busy), so c1 comes next.
      expect([first.run.id, second.run.id, third.run.id]).toEqual([b1.id, a1.id, c1.id]);
      expect(await store.claimRun("w4")).toBeUndefined();
      expect((await getRun(a2.id)).status).toBe("queued");

      await store.finishRun(second, "failed", "boom");
      const fourth = await claim("w4");
      expect(fourth.run.id).toBe(a2.id);
    });

    it("after a run finishes, claims the oldest queued run overall, not the finished pipeline's next one", async () => {
      const a = await create(runOnly("a"));
      const b = await create(runOnly("b"));
      const a1 = await trigger(a.id);
      const a2 = await trigger(a.id); // queued before b1
      const b1 = await trigger(b.id);
      const ca1 = await claim();
      expect(ca1.run.id).toBe(a1.id);
      await store.finishRun(ca1, "success", null);
      expect((await claim()).run.id).toBe(a2.id);
      expect((await claim()).run.id).toBe(b1.id);
    });

    it("gives each claim its own token", async () => {
      const pipeline = await create();
      await trigger(pipeline.id);
      await trigger(pipeline.id);
      const first = await claim();
      await store.finishRun(first, "success", null);
      const second = await claim();
      expect(second.token).not.toBe(first.token);
    });
  });

  describe("stage updates and finishing", () => {
    it("records stage status with started_at and finished_at from the clock, and appends log lines in order", async () => {
      const pipeline = await create();
      await trigger(pipeline.id);
      const c = await claim();
      clock.set(EPOCH + 100);
      await store.updateStage(c, 0, { status: "pending" });
      // Back to pending stamps nothing: the run still shows when its first stage started.
      expect((await getRun(c.run.id)).stages[0]).toMatchObject({ status: "pending", started_at: iso(EPOCH) });
      await store.updateStage(c, 0, { status: "running" });
      await store.updateStage(c, 0, { logs: ["$ some command"] });
      await store.updateStage(c, 0, { logs: ["line 2", "line 3"] });
      clock.set(EPOCH + 300);
      await store.updateStage(c, 0, { status: "success" });
      const run = await getRun(c.run.id);
      expect(run.stages[0]).toEqual({
        name: "run",
        status: "success",
        started_at: iso(EPOCH + 100),
        finished_at: iso(EPOCH + 300),
        attempts: 2,
        logs: ["$ some command", "line 2", "line 3"],
      });
      expect(run.updated_at).toBe(iso(EPOCH + 300));
      expect(run.stages[1]).toMatchObject({ name: "build", status: "pending", started_at: null, finished_at: null, logs: [] });
    });

    it("puts lines written late for an earlier stage under that stage, after its own, whatever the later stages logged", async () => {
      const pipeline = await create();
      await trigger(pipeline.id);
      const c = await claim();
      await store.updateStage(c, 0, { status: "success", logs: ["a1"], startNext: true });
      await store.updateStage(c, 1, { logs: ["b1", "b2"] });
      await store.updateStage(c, 0, { logs: ["a2"] });
      await store.updateStage(c, 1, { logs: ["b3"] });
      const run = await getRun(c.run.id);
      expect(run.stages.map((s) => s.logs)).toEqual([["a1", "a2"], ["b1", "b2", "b3"], []]);
    });

    it("keeps every line in order through many writes of one, several and none, late ones for an earlier stage included", async () => {
      const pipeline = await create();
      await trigger(pipeline.id);
      const c = await claim();
      const expected: string[][] = [[], [], []];
      const write = async (index: number, logs: string[]) => {
        await store.updateStage(c, index, { logs });
        expected[index]!.push(...logs);
      };
      for (let i = 0; i < 40; i++) await write(0, Array.from({ length: i % 4 }, (_, j) => `a${i}.${j}`));
      await store.updateStage(c, 0, { status: "success", startNext: true });
      for (let i = 0; i < 10; i++) await write(1, [`b${i}`]);
      await write(0, ["a late"]);
      await write(1, ["b last", "b end"]);
      const run = await getRun(c.run.id);
      expect(run.stages.map((s) => s.logs)).toEqual(expected);
      expect(expected[0]).toHaveLength(61);
    });

    it("ends a stage and starts the next in one write (startNext), and refuses startNext on the last stage, changing nothing", async () => {
      const pipeline = await create();
      await trigger(pipeline.id);
      const c = await claim();
      clock.set(EPOCH + 400);
      await store.updateStage(c, 0, { status: "success", logs: ["done"], startNext: true });
      let run = await getRun(c.run.id);
      expect(run.stages.map((s) => [s.status, s.started_at, s.finished_at, s.logs])).toEqual([
        ["success", iso(EPOCH), iso(EPOCH + 400), ["done"]],
        ["running", iso(EPOCH + 400), null, []],
        ["pending", null, null, []],
      ]);
      expect(run.updated_at).toBe(iso(EPOCH + 400));
      await store.updateStage(c, 1, { status: "success", startNext: true });
      const before = await getRun(c.run.id);
      clock.set(EPOCH + 500);
      await expect(store.updateStage(c, 2, { status: "success", logs: ["x"], startNext: true })).rejects.toBeInstanceOf(RangeError);
      expect(await getRun(c.run.id)).toEqual(before);
      await store.finishRun(c, "success", null, { index: 2, status: "success", logs: ["deployed"] });
      run = await getRun(c.run.id);
      expect(run.stages[2]).toEqual({ name: "deploy", status: "success", started_at: iso(EPOCH + 400), finished_at: iso(EPOCH + 500), attempts: 1, logs: ["deployed"] });
    });

    it("ends the last stage with the run in one write (finishRun's last stage), failed or succeeded", async () => {
      const pipeline = await create();
      await trigger(pipeline.id);
      const c = await claim();
      clock.set(EPOCH + 700);
      await expect(store.finishRun(c, "failed", "boom", { index: 3, status: "failed" })).rejects.toBeInstanceOf(RangeError);
      expect((await getRun(c.run.id)).status).toBe("running");
      await store.finishRun(c, "failed", "boom", { index: 0, status: "failed", logs: ["error: boom"] });
      const run = await getRun(c.run.id);
      expect(run).toMatchObject({ status: "failed", error: "boom", finished_at: iso(EPOCH + 700) });
      expect(run.stages.map((s) => [s.status, s.finished_at, s.logs])).toEqual([
        ["failed", iso(EPOCH + 700), ["error: boom"]],
        ["skipped", null, []],
        ["skipped", null, []],
      ]);
    });

    it("finishes a run successfully with finished_at from the clock", async () => {
      const pipeline = await create(runOnly("p"));
      await trigger(pipeline.id);
      const c = await claim();
      await store.updateStage(c, 0, { status: "running" });
      await store.updateStage(c, 0, { status: "success" });
      clock.set(EPOCH + 900);
      // Nothing comes back: the finished run is read with getRun.
      await expect(store.finishRun(c, "success", null)).resolves.toBeUndefined();
      const run = await getRun(c.run.id);
      expect(run).toMatchObject({ status: "success", error: null, finished_at: iso(EPOCH + 900), updated_at: iso(EPOCH + 900) });
      expect(run.stages[0]?.status).toBe("success");
    });

    it("marks the stages that never ran `skipped` when a run fails", async () => {
      const pipeline = await create();
      await trigger(pipeline.id);
      const c = await claim();
      await store.updateStage(c, 0, { status: "running" });
      await store.updateStage(c, 0, { status: "failed", logs: ["error: exit status 2"] });
      await store.finishRun(c, "failed", "run stage failed");
      const run = await getRun(c.run.id);
      expect(run.status).toBe("failed");
      expect(run.error).toBe("run stage failed");
      expect(run.stages.map((s) => s.status)).toEqual(["failed", "skipped", "skipped"]);
      for (const s of run.stages.slice(1)) expect(s).toMatchObject({ started_at: null, logs: [] });
    });

    it("closes a still-running stage as cancelled when its run is cancelled", async () => {
      const pipeline = await create();
      await trigger(pipeline.id);
      const c = await claim();
      await store.updateStage(c, 0, { status: "running" });
      clock.set(EPOCH + 40);
      await store.finishRun(c, "cancelled", "the server shut down");
      const run = await getRun(c.run.id);
      expect(run.stages[0]).toMatchObject({ status: "cancelled", finished_at: iso(EPOCH + 40) });
      expect(run.stages.slice(1).map((s) => s.status)).toEqual(["skipped", "skipped"]);
    });

    it("makes the pipeline's next queued run claimable once a run finishes, and tells onClaimable listeners", async () => {
      const pipeline = await create(runOnly("p"));
      await trigger(pipeline.id);
      const second = await trigger(pipeline.id);
      const c = await claim();
      let calls = 0;
      const unsubscribe = store.onClaimable(() => calls++);
      await store.finishRun(c, "success", null);
      expect(calls).toBeGreaterThanOrEqual(1);
      unsubscribe();
      expect((await claim()).run.id).toBe(second.id);
    });

    it("refuses a second finishRun with the same claim: the run is no longer running", async () => {
      const pipeline = await create(runOnly("p"));
      await trigger(pipeline.id);
      const c = await claim();
      await store.finishRun(c, "success", null);
      const finished = await getRun(c.run.id);
      await expect(store.finishRun(c, "failed", "late")).rejects.toBeInstanceOf(StaleClaimError);
      await expect(store.updateStage(c, 0, { logs: ["late"] })).rejects.toBeInstanceOf(StaleClaimError);
      expect(await getRun(c.run.id)).toEqual(finished);
    });

    it("refuses writes with a forged token and changes nothing", async () => {
      const pipeline = await create();
      await trigger(pipeline.id);
      const c = await claim();
      const before = await getRun(c.run.id);
      const forged: Claim = { ...c, token: "not-the-token" };
      clock.set(EPOCH + 10);
      await expect(store.updateStage(forged, 0, { status: "running", logs: ["x"] })).rejects.toBeInstanceOf(StaleClaimError);
      await expect(store.finishRun(forged, "success", null)).rejects.toBeInstanceOf(StaleClaimError);
      expect(await getRun(c.run.id)).toEqual(before);
      // The real owner still can.
      await store.finishRun(c, "success", null);
      expect((await getRun(c.run.id)).status).toBe("success");
    });
  });

  describe("deleting a pipeline with runs", () => {
    it("cancels its queued runs and its running one, closing their stages, and leaves them readable", async () => {
      const pipeline = await create();
      const other = await create(runOnly("other"));
      const running = await trigger(pipeline.id);
      const queued = await trigger(pipeline.id);
      const otherRun = await trigger(other.id);
      const c = await claim();
      expect(c.run.id).toBe(running.id);
      await store.updateStage(c, 0, { status: "running", logs: ["started"] });
      clock.set(EPOCH + 700);

      const result = await store.deletePipeline(pipeline.id);
      expect(result?.cancelledQueued.map((r) => r.id)).toEqual([queued.id]);
      expect(result?.cancelledRunning.map((r) => r.id)).toEqual([running.id]);

      const wasRunning = await getRun(running.id);
      expect(wasRunning).toMatchObject({ status: "cancelled", error: expect.any(String), finished_at: iso(EPOCH + 700) });
      expect(wasRunning.error).not.toBe("");
      expect(wasRunning.stages.map((s) => s.status)).toEqual(["cancelled", "skipped", "skipped"]);
      expect(wasRunning.stages[0]).toMatchObject({ finished_at: iso(EPOCH + 700), logs: ["started"] });
      expect(result?.cancelledRunning[0]).toEqual(wasRunning);

      const wasQueued = await getRun(queued.id);
      expect(wasQueued).toMatchObject({ status: "cancelled", error: expect.any(String), started_at: null, finished_at: iso(EPOCH + 700) });
      expect(wasQueued.stages.map((s) => s.status)).toEqual(["skipped", "skipped", "skipped"]);
      expect(result?.cancelledQueued[0]).toEqual(wasQueued);

      // The other pipeline is untouched and its run is claimable.
      expect((await getRun(otherRun.id)).status).toBe("queued");
      expect((await claim()).run.id).toBe(otherRun.id);
      expect(await store.claimRun("w3")).toBeUndefined();
    });

    it("turns the running run's claim stale: its writes are refused and change nothing", async () => {
      const pipeline = await create();
      await trigger(pipeline.id);
      const c = await claim();
      await store.updateStage(c, 0, { status: "running" });
      await store.deletePipeline(pipeline.id);
      const cancelled = await getRun(c.run.id);
      clock.set(EPOCH + 50);
      await expect(store.updateStage(c, 0, { status: "success", logs: ["late"] })).rejects.toBeInstanceOf(StaleClaimError);
      await expect(store.updateStage(c, 1, { status: "running" })).rejects.toBeInstanceOf(StaleClaimError);
      await expect(store.finishRun(c, "success", null)).rejects.toBeInstanceOf(StaleClaimError);
      expect(await getRun(c.run.id)).toEqual(cancelled);
    });

    it("tells the running run's watchClaim listener, once, with a reason", async () => {
      const pipeline = await create();
      await trigger(pipeline.id);
      const c = await claim();
      const reasons: string[] = [];
      store.watchClaim(c, (reason) => reasons.push(reason));
      await store.deletePipeline(pipeline.id);
      await Promise.resolve();
      expect(reasons).toHaveLength(1);
      expect(reasons[0]).toEqual(expect.stringMatching(/\S/));
    });

    it("does not call a watchClaim listener when the owner finishes its run, nor after unwatching", async () => {
      const pipeline = await create(runOnly("p"));
      await trigger(pipeline.id);
      await trigger(pipeline.id);
      const first = await claim();
      const lost: string[] = [];
      store.watchClaim(first, (reason) => lost.push(reason));
      await store.finishRun(first, "success", null);
      const second = await claim();
      const unwatch = store.watchClaim(second, (reason) => lost.push(reason));
      unwatch();
      await store.deletePipeline(pipeline.id);
      await Promise.resolve();
      expect(lost).toEqual([]);
    });

    it("tells a watcher that starts watching an already-cancelled claim", async () => {
      const pipeline = await create(runOnly("p"));
      await trigger(pipeline.id);
      const c = await claim();
      await store.deletePipeline(pipeline.id);
      const lost = new Promise<string>((resolve) => store.watchClaim(c, resolve));
      await expect(lost).resolves.toEqual(expect.stringMatching(/\S/));
    });
  });

  describe("onClaimable", () => {
    it("is called when a trigger makes a run claimable, and not after unsubscribing", async () => {
      const pipeline = await create(runOnly("p"));
      let calls = 0;
      const unsubscribe = store.onClaimable(() => calls++);
      await trigger(pipeline.id);
      expect(calls).toBeGreaterThanOrEqual(1);
      unsubscribe();
      const before = calls;
      const other = await create(runOnly("q"));
      await trigger(other.id);
      expect(calls).toBe(before);
    });

    it("is called for a run of another pipeline while one pipeline is busy", async () => {
      const a = await create(runOnly("a"));
      const b = await create(runOnly("b"));
      await trigger(a.id);
      await claim();
      let calls = 0;
      store.onClaimable(() => calls++);
      await trigger(b.id);
      expect(calls).toBeGreaterThanOrEqual(1);
    });
  });

  describe("cancelQueued", () => {
    it("cancels every queued run with the reason, leaves the running one alone, and nothing stays claimable", async () => {
      const a = await create(runOnly("a"));
      const b = await create(runOnly("b"));
      const a1 = await trigger(a.id);
      const a2 = await trigger(a.id);
      const b1 = await trigger(b.id);
      const c = await claim();
      expect(c.run.id).toBe(a1.id);
      clock.set(EPOCH + 60);

      const cancelled = await store.cancelQueued("server shutting down");
      expect(cancelled.map((r) => r.id).sort()).toEqual([a2.id, b1.id].sort());
      for (const id of [a2.id, b1.id]) {
        const run = await getRun(id);
        expect(run).toMatchObject({ status: "cancelled", error: "server shutting down", finished_at: iso(EPOCH + 60), started_at: null });
        expect(run.stages.every((s) => s.status === "skipped")).toBe(true);
      }
      expect(await store.claimRun("w2")).toBeUndefined();
      expect((await getRun(a1.id)).status).toBe("running");
      await store.finishRun(c, "success", null);
      expect((await getRun(a1.id)).status).toBe("success");
      expect(await store.claimRun("w2")).toBeUndefined();
      expect(await store.cancelQueued("again")).toEqual([]);
    });
  });

  describe("trigger parameters", () => {
    const env = { A: "1", AA: "two words", B: "x=y\nsecond line", EMPTY: "" };

    it("keeps a run's env, names in order, through trigger, get, list, claim and finish", async () => {
      const pipeline = await create();
      const run = validRun(await store.triggerRun(pipeline.id, "main", copy(env)));
      // In name order from either store (PostgreSQL's jsonb would put AA after B).
      expect(Object.keys(run.env)).toEqual(["A", "AA", "B", "EMPTY"]);
      expect(run.env).toEqual(env);
      expect((await getRun(run.id)).env).toEqual(env);
      expect((await allRuns()).map((r) => Object.keys(r.env))).toEqual([Object.keys(env)]);
      const c = await claim();
      expect(c.run).toEqual({ id: run.id, pipeline_id: pipeline.id, git_ref: "main", env });
      expect(Object.keys(c.run.env)).toEqual(Object.keys(env));
      await store.finishRun(c, "success", null);
      expect((await getRun(run.id)).env).toEqual(env);
      expect(validRun(await store.triggerRun(pipeline.id, "main")).env).toEqual({});
    });

    it("keeps its own copy of the env it was given", async () => {
      const pipeline = await create();
      const given: Record<string, string> = copy(env);
      const run = validRun(await store.triggerRun(pipeline.id, "main", given));
      given.A = "changed";
      expect((await getRun(run.id)).env).toEqual(env);
    });
  });

  describe("a pipeline update after a trigger", () => {
    it("does not change the stages nor the repository a queued run executes; the claim has the pipeline's new name; later triggers use the new definition", async () => {
      const pipeline = await create(runOnly("p", "echo old"));
      const before = await trigger(pipeline.id);
      await store.updatePipeline(pipeline.id, copy(seedPipeline));

      const first = await claim();
      expect(first.run.id).toBe(before.id);
      expect(first.spec).toEqual({ run_stage: { command: "echo old" } });
      expect(first.pipeline).toEqual({ name: "test1", repository: "repo-p" });
      expect((await getRun(first.run.id)).stages.map((s) => s.name)).toEqual(["run"]);
      await store.finishRun(first, "success", null);

      const after = await trigger(pipeline.id);
      const second = await claim();
      expect(second.run.id).toBe(after.id);
      expect(second.spec).toEqual(seedPipeline.stages);
      expect(second.pipeline).toEqual({ name: "test1", repository: "repo1" });
      expect((await getRun(second.run.id)).stages.map((s) => s.name)).toEqual(["run", "build", "deploy"]);
    });
  });
});
