/**
 * The worker pool over the in-memory store, on a manual clock: no test waits for real time.
 */
import { afterEach, describe, expect, it } from "vitest";
import { iso } from "../../../lib/clock.ts";
import { ServiceUnavailableError, StaleClaimError } from "../../../lib/api/errors.ts";
import { MemoryStore } from "../../../lib/store/memory/memoryStore.ts";
import { simulateRunner, type StageRunner } from "../../../lib/worker/stageRunner.ts";
import { describeStage, stageSpecs } from "../../../lib/store/stages.ts";
import { Run, type PipelineInput } from "../../../lib/api/schemas.ts";
import type { Store } from "../../../lib/store/store.ts";
import { WorkerPool, type StopReport } from "../../../lib/worker/pool.ts";
import { copy, runOnly, seedPipeline } from "../../support/fixtures.ts";
import { EPOCH, ManualClock, sequentialIds, settle } from "../../support/manualClock.ts";
import { ScriptedRunner } from "../../support/scriptedRunner.ts";
import { sleepRunner, type SleepRunner } from "../../support/sleepRunner.ts";
import { failingClaims, wrapStore } from "../../support/storeWrappers.ts";

const pools: { pool: WorkerPool; clock: ManualClock }[] = [];

afterEach(async () => {
  // Never leave a worker behind between tests: stop each pool, moving its clock on if stop() waits on it.
  for (const { pool, clock } of pools.splice(0)) {
    const stopping = tracked(pool.stop(0));
    for (let i = 0; i < 100 && !stopping.done; i++) if (!(await clock.advanceToNext())) await settle();
    if (!stopping.done) throw new Error("the pool did not stop");
  }
});

interface Setup {
  clock: ManualClock;
  memory: MemoryStore;
  store: Store;
  pool: WorkerPool;
  lines: string[];
  create(input?: PipelineInput): Promise<string>;
  trigger(pipelineId: string, gitRef?: string): Promise<string>;
  run(id: string): Promise<Run>;
  runningIds(): Promise<string[]>;
}

function setup(opts: { size: number; runner?: (clock: ManualClock) => StageRunner; wrap?: (store: MemoryStore) => Store }): Setup {
  const clock = new ManualClock();
  const memory = new MemoryStore({ clock, ids: sequentialIds() });
  const store = opts.wrap ? opts.wrap(memory) : memory;
  const runner = opts.runner ? opts.runner(clock) : simulateRunner({ clock, durationMs: 100, failureProbability: 0 });
  const lines: string[] = [];
  const pool = new WorkerPool({ store, runner, size: opts.size, clock, log: (line) => lines.push(line) });
  pools.push({ pool, clock });
  return {
    clock,
    memory,
    store,
    pool,
    lines,
    create: async (input = seedPipeline) => (await store.createPipeline(copy(input))).id,
    trigger: async (pipelineId, gitRef = "main") => {
      const run = await store.triggerRun(pipelineId, gitRef);
      if (!run) throw new Error(`no pipeline ${pipelineId}`);
      return run.id;
    },
    run: async (id) => Run.parse(await store.getRun(id)),
    runningIds: async () => (await store.listRuns({ status: "running", limit: 1000 })).items.map((r) => r.id).reverse(),
  };
}

/** Whether a promise has settled, without waiting for it. */
function tracked<T>(promise: Promise<T>): { readonly done: boolean; readonly value: T | undefined } {
  const state = { done: false, value: undefined as T | undefined };
  promise.then(
    (value) => Object.assign(state, { done: true, value }),
    () => Object.assign(state, { done: true }),
  );
  return state;
}

describe("WorkerPool", () => {
  it("runs the stages in order run, build, deploy, each with its own times and logs", async () => {
    const t = setup({ size: 1 });
    const id = await t.trigger(await t.create());
    t.pool.start();
    await settle();

    let run = await t.run(id);
    expect(run.status).toBe("running");
    expect(run.started_at).toBe(iso(EPOCH));
    expect(run.stages.map((s) => s.status)).toEqual(["running", "pending", "pending"]);

    await t.clock.advance(100);
    run = await t.run(id);
    expect(run.stages.map((s) => s.status)).toEqual(["success", "running", "pending"]);

    await t.clock.advance(200);
    run = await t.run(id);
    expect(run.status).toBe("success");
    expect(run.error).toBeNull();
    expect(run.finished_at).toBe(iso(EPOCH + 300));
    const specs = stageSpecs(seedPipeline.stages);
    expect(run.stages).toEqual(
      ["run", "build", "deploy"].map((name, i) => ({
        name,
        status: "success",
        started_at: iso(EPOCH + 100 * i),
        finished_at: iso(EPOCH + 100 * (i + 1)),
        attempts: 1,
        logs: [describeStage(specs[i]!), "simulated: done in 100 ms"],
      })),
    );
    expect(t.pool.busy).toBe(0);
  });

  it("fails the run at the first failed stage with its message, and skips the later stages", async () => {
    // failureProbability 0.5: 0.9 passes the run stage, 0.1 fails the build stage.
    const draws = [0.9, 0.1];
    const t = setup({ size: 1, runner: (clock) => simulateRunner({ clock, durationMs: 100, failureProbability: 0.5, random: () => draws.shift() ?? 0.9 }) });
    const id = await t.trigger(await t.create());
    t.pool.start();
    await t.clock.advance(1000);

    const run = await t.run(id);
    expect(run.status).toBe("failed");
    expect(run.error).toBe("build stage failed (simulated, exit status 1)");
    expect(run.finished_at).toBe(iso(EPOCH + 200));
    expect(run.stages.map((s) => s.status)).toEqual(["success", "failed", "skipped"]);
    expect(run.stages[1]).toMatchObject({ started_at: iso(EPOCH + 100), finished_at: iso(EPOCH + 200) });
    expect(run.stages[1]?.logs).toEqual(expect.arrayContaining(["simulated failure: exit status 1", "error: build stage failed (simulated, exit status 1)"]));
    expect(run.stages[2]).toEqual({ name: "deploy", status: "skipped", started_at: null, finished_at: null, attempts: 0, logs: [] });
  });

  it("fails the run with a non-empty message whatever the runner throws", async () => {
    const thrown: unknown[] = [undefined, "", new Error(""), { code: 7 }];
    const t = setup({
      size: 1,
      runner: () => ({
        run: async () => {
          throw thrown.shift();
        },
      }),
    });
    const pipeline = await t.create(runOnly("p"));
    const ids = [await t.trigger(pipeline), await t.trigger(pipeline), await t.trigger(pipeline), await t.trigger(pipeline)];
    t.pool.start();
    await settle();
    for (const id of ids) {
      const run = await t.run(id);
      expect(run.status).toBe("failed");
      expect(run.error).toEqual(expect.stringMatching(/\S/));
    }
  });

  it("runs one run per pipeline at a time, in trigger order, even with idle workers", async () => {
    const t = setup({ size: 3 });
    const pipeline = await t.create(runOnly("p"));
    const ids = [await t.trigger(pipeline, "r1"), await t.trigger(pipeline, "r2"), await t.trigger(pipeline, "r3")];
    t.pool.start();
    await settle();
    for (const [i, id] of ids.entries()) {
      expect(await t.runningIds()).toEqual([id]);
      expect(t.pool.busy).toBe(1);
      expect((await t.run(id)).started_at).toBe(iso(EPOCH + 100 * i));
      await t.clock.advance(100);
      expect((await t.run(id)).status).toBe("success");
    }
    expect(await t.runningIds()).toEqual([]);
  });

  it("runs different pipelines in parallel up to the pool size, oldest trigger first", async () => {
    const t = setup({ size: 2 });
    const a = await t.trigger(await t.create(runOnly("a")));
    const b = await t.trigger(await t.create(runOnly("b")));
    const c = await t.trigger(await t.create(runOnly("c")));
    t.pool.start();
    await settle();
    expect(await t.runningIds()).toEqual([a, b]);
    expect(t.pool.busy).toBe(2);
    expect((await t.run(c)).status).toBe("queued");

    await t.clock.advance(100);
    expect(await t.runningIds()).toEqual([c]);
    expect((await t.run(c)).started_at).toBe(iso(EPOCH + 100));
    await t.clock.advance(100);
    for (const id of [a, b, c]) expect((await t.run(id)).status).toBe("success");
  });

  it("starts a run triggered while the pool is idle at once, without polling", async () => {
    const t = setup({ size: 2 });
    t.pool.start();
    await settle();
    // Idle workers wait on the store's notification: no timer is pending.
    expect(t.clock.pending).toBe(0);
    await t.clock.advance(60_000);

    const first = await t.trigger(await t.create(runOnly("a")));
    await settle();
    expect((await t.run(first)).status).toBe("running");
    const second = await t.trigger(await t.create(runOnly("b")));
    await settle();
    expect(await t.runningIds()).toEqual([first, second]);
    expect((await t.run(second)).started_at).toBe(iso(EPOCH + 60_000));
  });

  it("picks up a run triggered while every worker is busy as soon as one is free", async () => {
    const t = setup({ size: 1 });
    const a = await t.trigger(await t.create(runOnly("a")));
    t.pool.start();
    await settle();
    await t.clock.advance(50);
    const b = await t.trigger(await t.create(runOnly("b")));
    await t.clock.advance(50);
    expect((await t.run(a)).status).toBe("success");
    expect(await t.runningIds()).toEqual([b]);
  });

  it("stops the running stage when its run is cancelled, ends it cancelled with the reason, and runs the next", async () => {
    const t = setup({ size: 1 });
    const pipeline = await t.create(seedPipeline);
    const first = await t.trigger(pipeline);
    const next = await t.trigger(pipeline);
    t.pool.start();
    await t.clock.advance(150); // into the build stage
    expect((await t.store.cancelRun(first, "wrong commit"))?.outcome).toBe("requested");
    await settle();
    const cancelled = await t.run(first);
    expect(cancelled).toMatchObject({ status: "cancelled", error: "cancelled: wrong commit", finished_at: iso(EPOCH + 150) });
    expect(cancelled.stages.map((s) => s.status)).toEqual(["success", "cancelled", "skipped"]);
    expect(cancelled.stages[1]!.logs).toEqual(["$ docker build -f Dockerfile ."]);
    expect(t.pool.counts.cancelled).toBe(1);
    expect((await t.run(next)).status).toBe("running");
  });

  it("says a cancelled run was ended elsewhere when the store refuses its end as stale, not that it will be recovered", async () => {
    const refuse = (memory: MemoryStore) =>
      wrapStore(memory, { finishRun: (claim) => Promise.reject(new StaleClaimError(claim.run.id, "run ended elsewhere")) });
    const t = setup({ size: 1, wrap: refuse });
    const run = await t.trigger(await t.create(seedPipeline));
    t.pool.start();
    await t.clock.advance(50);
    await t.store.cancelRun(run, "wrong commit");
    await settle();
    expect(t.lines.filter((line) => line.includes(run)).at(-1)).toBe(`run ${run} stopped: claim on run ${run} is no longer valid: run ended elsewhere`);
  });

  it("aborts the running stage when its pipeline is deleted, ends the run cancelled, and goes on to other work", async () => {
    let runner: SleepRunner | undefined;
    const t = setup({ size: 1, runner: (clock) => (runner = sleepRunner(clock, 100)) });
    const doomed = await t.create({ ...seedPipeline, stages: { ...seedPipeline.stages, run_stage: { command: "sleep 100" } } });
    const doomedRun = await t.trigger(doomed);
    const doomedQueued = await t.trigger(doomed);
    const other = await t.trigger(await t.create(runOnly("other", "sleep 100")));
    t.pool.start();
    await t.clock.advance(50);
    expect(await t.runningIds()).toEqual([doomedRun]);

    await t.store.deletePipeline(doomed);
    await settle();

    const calls = runner?.calls ?? [];
    expect(calls).toHaveLength(2);
    expect(calls[0]?.signal.aborted).toBe(true);
    const cancelled = await t.run(doomedRun);
    expect(cancelled.status).toBe("cancelled");
    expect(cancelled.error).toEqual(expect.stringMatching(/\S/));
    expect(cancelled.finished_at).toBe(iso(EPOCH + 50));
    expect(cancelled.stages.map((s) => s.status)).toEqual(["cancelled", "skipped", "skipped"]);
    expect((await t.run(doomedQueued)).status).toBe("cancelled");
    // The worker went on to the other pipeline's run at once.
    expect(await t.runningIds()).toEqual([other]);
    expect((await t.run(other)).started_at).toBe(iso(EPOCH + 50));

    await t.clock.advance(100);
    expect((await t.run(other)).status).toBe("success");
    // The aborted worker did not write over the cancelled run afterwards.
    expect(await t.run(doomedRun)).toEqual(cancelled);
  });

  describe("stop", () => {
    it("lets runs finish within the grace period, cancels those still running after it, and reports them", async () => {
      const t = setup({ size: 2, runner: (clock) => sleepRunner(clock) });
      const fastPipeline = await t.create(runOnly("fast", "sleep 50"));
      const fast = await t.trigger(fastPipeline);
      const slow = await t.trigger(await t.create(runOnly("slow", "sleep 500")));
      const queuedBehindFast = await t.trigger(fastPipeline);
      t.pool.start();
      await settle();
      expect(await t.runningIds()).toEqual([fast, slow]);

      const stopping = tracked(t.pool.stop(100));
      await t.clock.advance(50);
      expect((await t.run(fast)).status).toBe("success");
      // A stopping pool starts nothing new.
      expect((await t.run(queuedBehindFast)).status).toBe("queued");
      expect(stopping.done).toBe(false);

      await t.clock.advance(50);
      expect(stopping.done).toBe(true);
      const report = stopping.value as StopReport;
      const interrupted = await t.run(slow);
      expect(interrupted.status).toBe("cancelled");
      expect(interrupted.finished_at).toBe(iso(EPOCH + 100));
      expect(interrupted.error).toEqual(expect.stringMatching(/\S/));
      expect(interrupted.stages[0]?.status).toBe("cancelled");
      expect(report.interrupted).toEqual([slow]);
      expect((await t.run(queuedBehindFast)).status).toBe("queued");
    });

    it("resolves as soon as every run has finished, before the grace period ends", async () => {
      const t = setup({ size: 1, runner: (clock) => sleepRunner(clock) });
      const id = await t.trigger(await t.create(runOnly("p", "sleep 30")));
      t.pool.start();
      await settle();
      const stopping = tracked(t.pool.stop(10_000));
      await t.clock.advance(30);
      expect(stopping.done).toBe(true);
      expect(stopping.value).toEqual({ interrupted: [], released: [] });
      expect((await t.run(id)).status).toBe("success");
    });

    it("resolves at once when the pool is idle, and claims nothing afterwards", async () => {
      const t = setup({ size: 3 });
      t.pool.start();
      await settle();
      await expect(t.pool.stop(1000)).resolves.toEqual({ interrupted: [], released: [] });
      const id = await t.trigger(await t.create(runOnly("late")));
      await t.clock.advance(1000);
      expect((await t.run(id)).status).toBe("queued");
    });

    it("bounds a run whose claim was in flight when stop was called by the grace period too", async () => {
      // A store 10 ms away (as PostgreSQL is): the claim is made at once, its answer arrives 10 ms later.
      const t = setup({
        size: 1,
        runner: (clock) => sleepRunner(clock),
        wrap: (memory) =>
          wrapStore(memory, {
            claimRun: async (workerId) => {
              const claim = await memory.claimRun(workerId);
              await t.clock.sleep(10);
              return claim;
            },
          }),
      });
      const id = await t.trigger(await t.create(runOnly("p", "sleep 5000")));
      t.pool.start();
      await t.clock.advance(5);
      expect((await t.run(id)).status).toBe("running"); // claimed in the store; the worker has not heard yet
      const stopping = tracked(t.pool.stop(100));
      await t.clock.advance(100);
      // Expected: stop(100) resolves by then and the run is not left running for its whole 5 s.
      expect(stopping.done).toBe(true);
      expect((await t.run(id)).status).not.toBe("running");
    });

    it("does not wait for a claim back-off to end before resolving", async () => {
      const t = setup({ size: 1, wrap: (memory) => failingClaims(memory, 1) });
      t.pool.start();
      await settle();
      expect(t.clock.pending).toBe(1); // the worker backs off after the failed claim
      const stopping = tracked(t.pool.stop(0));
      await settle();
      expect(stopping.done).toBe(true);
    });
  });

  it("claims nothing with size 0 (an API-only server), and refuses a size that is not a whole number", async () => {
    const t = setup({ size: 0 });
    const id = await t.trigger(await t.create(runOnly("p")));
    t.pool.start();
    await t.clock.advance(1000);
    expect((await t.run(id)).status).toBe("queued");
    await expect(t.pool.stop(100)).resolves.toEqual({ interrupted: [], released: [] });
    const runner = simulateRunner({ clock: t.clock, durationMs: 0, failureProbability: 0 });
    for (const size of [-1, 1.5, Number.NaN]) expect(() => new WorkerPool({ store: t.store, runner, size })).toThrow(RangeError);
  });

  it("keeps going when claimRun throws: backs off on the clock, then claims again", async () => {
    let store: ReturnType<typeof failingClaims> | undefined;
    const t = setup({ size: 1, wrap: (memory) => (store = failingClaims(memory, 2)) });
    t.pool.start();
    await settle();
    expect(store?.attempts).toBe(1);
    expect(t.lines.some((line) => line.includes("claim failed") && line.includes("connection refused"))).toBe(true);

    const id = await t.trigger(await t.create(runOnly("p")));
    await settle();
    // Backing off, not spinning: no new attempt before the back-off ends.
    expect(store?.attempts).toBe(1);
    expect((await t.run(id)).status).toBe("queued");

    await t.clock.advance(50);
    expect(store?.attempts).toBe(2); // fails again; the next back-off is longer
    expect((await t.run(id)).status).toBe("queued");
    await t.clock.advance(100);
    expect(store?.attempts).toBe(3);
    expect((await t.run(id)).status).toBe("running");
    expect((await t.run(id)).started_at).toBe(iso(EPOCH + 150));
    await t.clock.advance(100);
    expect((await t.run(id)).status).toBe("success");
  });

  it("names each run by its whole id in its progress lines, so that runs with ids alike at the start are told apart", async () => {
    const t = setup({ size: 2 });
    const pipeline = await t.create(runOnly("p"));
    const other = await t.create(runOnly("q"));
    const ids = [await t.trigger(pipeline), await t.trigger(other)];
    t.pool.start();
    await t.clock.advance(100);
    for (const id of ids) expect(t.lines.filter((line) => line.startsWith(`run ${id} `)).length).toBeGreaterThan(1);
    expect(t.lines.find((line) => line.startsWith(`run ${ids[0]} started`))).toContain(`(pipeline ${pipeline}, ref main)`);
  });

  it("fails a run whose claim carries stages it cannot read (a corrupt row), and runs the next one", async () => {
    let claims = 0;
    const t = setup({
      size: 1,
      wrap: (memory) =>
        wrapStore(memory, {
          // As a PostgreSQL claim would carry a row whose spec column holds JSON null.
          claimRun: async (workerId) => {
            const claim = await memory.claimRun(workerId);
            return claim && ++claims === 1 ? { ...claim, spec: null as never } : claim;
          },
        }),
    });
    const a = await t.trigger(await t.create(runOnly("a")));
    const b = await t.trigger(await t.create(runOnly("b")));
    t.pool.start();
    await t.clock.advance(100);
    expect((await t.run(a)).status).toBe("failed");
    expect((await t.run(b)).status).toBe("success");
    expect(t.pool.counts).toMatchObject({ success: 1, failed: 1 });
  });

  it("aborts only the cancelled run's signal: a finished run's stages are not told about a later cancel", async () => {
    const scripted = new ScriptedRunner();
    const t = setup({ size: 1, runner: () => scripted });
    const first = await t.trigger(await t.create(runOnly("first")));
    const doomed = await t.create(runOnly("doomed"));
    await t.trigger(doomed);
    t.pool.start();
    await settle();
    scripted.running[0]!.succeed();
    await settle();
    expect((await t.run(first)).status).toBe("success");
    expect(scripted.calls).toHaveLength(2);

    await t.store.deletePipeline(doomed);
    await settle();
    expect(scripted.calls[1]?.state).toBe("aborted");
    // The first run's stage ended long ago: its signal must not report an abort now.
    expect(scripted.calls[0]?.signal.aborted).toBe(false);
  });

  it("keeps the lines a stage logs as it is interrupted at shutdown", async () => {
    const scripted = new ScriptedRunner();
    scripted.onAbort = (call) => call.log("interrupted: cleaning up");
    const t = setup({ size: 1, runner: () => scripted });
    const id = await t.trigger(await t.create(runOnly("p")));
    t.pool.start();
    await settle();
    scripted.running[0]!.log("working");
    await settle();
    const report = await t.pool.stop(0);
    await settle();
    expect(report.interrupted).toEqual([id]);
    expect((await t.run(id)).stages[0]?.logs).toEqual(["working", "interrupted: cleaning up"]);
  });

  it("hands the runner the stage spec, a live abort signal, and a log that lands in the stage's logs", async () => {
    const scripted = new ScriptedRunner();
    const t = setup({ size: 1, runner: () => scripted });
    const id = await t.trigger(await t.create(runOnly("p", "echo hi")));
    t.pool.start();
    await settle();
    expect(scripted.running).toHaveLength(1);
    const call = scripted.running[0]!;
    expect(call.stage).toEqual({ kind: "run", command: "echo hi" });
    expect(call.signal.aborted).toBe(false);
    call.log("hi");
    call.log("bye");
    call.succeed();
    await settle();
    const run = await t.run(id);
    expect(run.status).toBe("success");
    expect(run.stages[0]?.logs).toEqual(["hi", "bye"]);
  });

  it("shows a running stage's log while it runs, one write per turn, and each stage's lines under that stage", async () => {
    const scripted = new ScriptedRunner();
    const logWrites: { index: number; logs: string[] }[] = [];
    const t = setup({
      size: 1,
      runner: () => scripted,
      wrap: (memory) =>
        wrapStore(memory, {
          updateStage: (claim, index, patch) => {
            if (patch.status === undefined) logWrites.push({ index, logs: [...(patch.logs ?? [])] });
            return memory.updateStage(claim, index, patch);
          },
        }),
    });
    const id = await t.trigger(await t.create(seedPipeline));
    t.pool.start();
    await settle();
    scripted.running[0]!.log("compiling");
    scripted.running[0]!.log("linking");
    await settle();
    expect((await t.run(id)).stages[0]).toMatchObject({ status: "running", logs: ["compiling", "linking"] });
    expect(logWrites).toEqual([{ index: 0, logs: ["compiling", "linking"] }]);

    scripted.running[0]!.log("done");
    scripted.running[0]!.succeed(); // the last line goes with the stage's status write
    await settle();
    scripted.running[0]!.log("building");
    await settle();
    const run = await t.run(id);
    expect(run.stages.map((s) => [s.status, s.logs])).toEqual([
      ["success", ["compiling", "linking", "done"]],
      ["running", ["building"]],
      ["pending", []],
    ]);
    expect(logWrites).toEqual([
      { index: 0, logs: ["compiling", "linking"] },
      { index: 1, logs: ["building"] },
    ]);
  });

  describe("when the store is unavailable while a run is executing", () => {
    /** The memory store, with each run-progress write failing as an unreachable database would, `failures` times in a row. */
    function flakyWrites(failures: number) {
      const attempts: string[] = [];
      let left = 0;
      const fail = (what: string) => {
        attempts.push(what);
        if (left > 0) {
          left--;
          throw new ServiceUnavailableError();
        }
      };
      return {
        attempts,
        /** The next `failures` writes fail. */
        outage: () => void (left = failures),
        wrap: (memory: MemoryStore) =>
          wrapStore(memory, {
            updateStage: async (claim, index, patch) => (fail("updateStage"), memory.updateStage(claim, index, patch)),
            finishRun: async (claim, status, error, last) => (fail("finishRun"), memory.finishRun(claim, status, error, last)),
          }),
      };
    }

    it("retries its writes with back-off on the clock, and the run ends as it really did, logs and all", async () => {
      const scripted = new ScriptedRunner();
      const flaky = flakyWrites(2);
      const t = setup({ size: 1, runner: () => scripted, wrap: flaky.wrap });
      const id = await t.trigger(await t.create(runOnly("p")));
      t.pool.start();
      await settle();
      scripted.running[0]!.log("built");
      flaky.outage();
      await settle(); // the log flush fails: its line waits for the next write
      scripted.running[0]!.succeed();
      await settle();
      expect((await t.run(id)).status).toBe("running"); // the finish failed; backing off, not spinning
      const tries = flaky.attempts.length;
      await settle();
      expect(flaky.attempts).toHaveLength(tries);
      await t.clock.advance(50);
      await t.clock.advance(100);
      const run = await t.run(id);
      expect(run).toMatchObject({ status: "success", error: null });
      expect(run.stages[0]).toMatchObject({ status: "success", logs: ["built"] });
      expect(t.lines.some((line) => line.includes("could not record progress") && line.includes("database unavailable"))).toBe(true);
    });

    it("does not make a write twice that was committed although it failed on the way back", async () => {
      const scripted = new ScriptedRunner();
      let lostReplies = 0;
      const committedThenLost = async <T>(write: Promise<T>): Promise<T> => {
        const result = await write;
        if (lostReplies > 0) {
          lostReplies--;
          throw new ServiceUnavailableError(); // as when the connection drops after COMMIT
        }
        return result;
      };
      const t = setup({
        size: 1,
        runner: () => scripted,
        wrap: (memory) =>
          wrapStore(memory, {
            updateStage: (claim, index, patch) => committedThenLost(memory.updateStage(claim, index, patch)),
            finishRun: (claim, status, error, last) => committedThenLost(memory.finishRun(claim, status, error, last)),
          }),
      });
      const id = await t.trigger(await t.create(seedPipeline));
      t.pool.start();
      await settle();
      for (let stage = 0; stage < 3; stage++) {
        scripted.running[0]!.log(`stage ${stage}`);
        lostReplies = 1;
        scripted.running[0]!.succeed();
        await settle();
        await t.clock.advance(50);
      }
      const run = await t.run(id);
      expect(run.status).toBe("success");
      expect(run.stages.map((s) => s.logs)).toEqual([["stage 0"], ["stage 1"], ["stage 2"]]);
      expect(t.pool.counts).toMatchObject({ success: 1, failed: 0 });
      expect(t.lines.some((line) => line.includes("stopped"))).toBe(false);
    });

    it("stops retrying when the run is cancelled meanwhile", async () => {
      const scripted = new ScriptedRunner();
      const flaky = flakyWrites(1000);
      const t = setup({ size: 1, runner: () => scripted, wrap: flaky.wrap });
      const pipelineId = await t.create(runOnly("p"));
      const id = await t.trigger(pipelineId);
      t.pool.start();
      await settle();
      flaky.outage();
      scripted.running[0]!.succeed();
      await settle();
      await t.clock.advance(50);
      await t.memory.deletePipeline(pipelineId); // cancels the run; the worker hears it and gives up
      await settle();
      const tries = flaky.attempts.length;
      await t.clock.advance(10_000);
      expect(flaky.attempts).toHaveLength(tries);
      expect((await t.run(id)).status).toBe("cancelled");
      expect(t.pool.busy).toBe(0);
    });
  });
});
