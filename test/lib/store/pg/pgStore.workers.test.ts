/**
 * Worker pools over PostgreSQL, each on its own store as in its own process: runs driven by
 * notifications alone (the fallback poll is set to a minute), a run handed back at shutdown and
 * finished by another process, a run cancelled from another process, and a dead worker's run
 * recovered and its pipeline moving on.
 */
import { afterEach, describe, expect, it } from "vitest";
import { systemClock } from "../../../../lib/clock.ts";
import { LEASE_EXPIRED, type PgStore } from "../../../../lib/store/pg/pgStore.ts";
import type { Run } from "../../../../lib/api/schemas.ts";
import { simulateRunner, type StageRunner } from "../../../../lib/worker/stageRunner.ts";
import { WorkerPool } from "../../../../lib/worker/pool.ts";
import { runOnly } from "../../../support/fixtures.ts";
import { pgTestUrl, schemaPerTest } from "../../../support/pgTestDatabase.ts";
import { ScriptedRunner } from "../../../support/scriptedRunner.ts";
import { until } from "../../../support/waitFor.ts";

describe.skipIf(!pgTestUrl)("worker pools on PgStore", () => {
  const db = schemaPerTest();
  const pools: WorkerPool[] = [];
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.stop(0)));
  });

  const pool = (store: PgStore, runner: StageRunner, size: number, name: string) => {
    const p = new WorkerPool({ store, runner, size, name });
    pools.push(p);
    p.start();
    return p;
  };
  const instant = simulateRunner({ clock: systemClock, durationMs: 0, failureProbability: 0 });
  const allRuns = async (store: PgStore): Promise<Run[]> => (await store.listRuns({ limit: 1000 })).items;

  it("two worker processes run 5 pipelines x 6 concurrent triggers: one at a time per pipeline, in trigger order", async () => {
    const opts = { pollIntervalMs: 60_000 };
    const api = await db.open(opts);
    pool(await db.open(opts), instant, 3, "a");
    pool(await db.open(opts), instant, 3, "b");
    const pipelines = await Promise.all([0, 1, 2, 3, 4].map((i) => api.createPipeline(runOnly(`p${i}`))));
    await Promise.all(pipelines.flatMap((p) => [0, 1, 2, 3, 4, 5].map((i) => api.triggerRun(p.id, `ref${i}`))));

    await until(async () => (await allRuns(api)).every((r) => r.status === "success"), 10_000);
    for (const p of pipelines) {
      const runs = (await api.listRuns({ pipeline_id: p.id, limit: 100 })).items.reverse(); // trigger order
      expect(runs).toHaveLength(6);
      for (let i = 1; i < runs.length; i++) {
        const [before, after] = [runs[i - 1]!, runs[i]!];
        expect(after.started_at! >= before.finished_at!, `${after.id} started before ${before.id} finished`).toBe(true);
      }
    }
  });

  it("a run handed back by a stopping process is finished by another, its first attempt noted", async () => {
    const api = await db.open();
    const pipeline = await api.createPipeline(runOnly("p"));
    const run = (await api.triggerRun(pipeline.id, "main"))!;
    const stopping = new ScriptedRunner();
    const first = pool(await db.open(), stopping, 1, "a");
    await until(async () => stopping.running.length === 1, 2000);
    await first.stop(0);
    expect((await api.getRun(run.id))!.status).toBe("queued");

    const taking = new ScriptedRunner();
    pool(await db.open(), taking, 1, "b");
    await until(async () => taking.running.length === 1, 2000);
    taking.running[0]!.succeed();
    await until(async () => (await api.getRun(run.id))!.status === "success", 2000);
    expect((await api.getRun(run.id))!.stages[0]!.logs[0]).toMatch(/^previous attempt handed back to the queue: /);
  });

  it("a cancel asked in the API process stops the run in a worker process within a second, and the run ends cancelled", async () => {
    const api = await db.open({ pollIntervalMs: 60_000 });
    const pipeline = await api.createPipeline(runOnly("p"));
    const run = (await api.triggerRun(pipeline.id, "main"))!;
    const runner = new ScriptedRunner();
    pool(await db.open({ pollIntervalMs: 60_000 }), runner, 1, "a");
    await until(async () => runner.running.length === 1, 2000);
    const asked = Date.now();
    expect((await api.cancelRun(run.id, "not wanted"))?.outcome).toBe("requested");
    await until(async () => (await api.getRun(run.id))!.status === "cancelled", 1000);
    expect(Date.now() - asked).toBeLessThan(1000);
    expect(runner.calls[0]!.state).toBe("aborted");
    expect(await api.getRun(run.id)).toMatchObject({ status: "cancelled", error: "cancelled: not wanted", stages: [{ status: "cancelled", attempts: 1 }] });
  });

  /** A pipeline with two runs, the first claimed by a worker that then dies: nothing renews its lease. */
  const deadWorkersRun = async (leaseMs: number) => {
    const api = await db.open();
    const pipeline = await api.createPipeline(runOnly("p"));
    const lostRun = (await api.triggerRun(pipeline.id, "main"))!;
    const nextRun = (await api.triggerRun(pipeline.id, "main"))!;
    const dead = await db.open({ leaseMs });
    expect((await dead.claimRun("dead-1"))!.run.id).toBe(lostRun.id);
    await dead.close();
    return { api, pipeline, lostRun, nextRun };
  };

  it("a dead worker's run is failed once its lease expires, the recovering process logs it, and its pipeline's next run then runs", async () => {
    const { api, pipeline, lostRun, nextRun } = await deadWorkersRun(300);
    const lines: string[] = [];
    pool(await db.open({ leaseMs: 300, sweepIntervalMs: 50, log: (line) => lines.push(line) }), instant, 1, "b");
    await until(async () => (await api.getRun(nextRun.id))!.status === "success", 3000);
    expect(await api.getRun(lostRun.id)).toMatchObject({ status: "failed", error: LEASE_EXPIRED });
    // The process that recovered it says so.
    expect(lines).toEqual([`run ${lostRun.id} failed: ${LEASE_EXPIRED} (pipeline ${pipeline.id})`]);
  });

  it("a process that starts after a dead worker's lease expired recovers its run at once, not after a sweep interval", async () => {
    // As a worker function does: each invocation lasts seconds, less than one interval.
    const { api, lostRun, nextRun } = await deadWorkersRun(1000);

    // Its clock a minute on: the lease has expired for it without anyone waiting.
    const later = { ...systemClock, now: () => Date.now() + 60_000 };
    pool(await db.open({ clock: later, leaseMs: 1000, sweepIntervalMs: 60_000, pollIntervalMs: 60_000 }), instant, 1, "fn");
    await until(async () => (await api.getRun(nextRun.id))!.status === "success", 3000);
    expect(await api.getRun(lostRun.id)).toMatchObject({ status: "failed", error: LEASE_EXPIRED });
  });

  it("sweeps at once when listening starts, and not again within its interval however often listeners come and go", async () => {
    const { api, pipeline, lostRun } = await deadWorkersRun(1000);
    const lines: string[] = [];
    const later = { ...systemClock, now: () => Date.now() + 60_000 };
    const store = await db.open({ clock: later, leaseMs: 1000, sweepIntervalMs: 60_000, pollIntervalMs: 60_000, log: (line) => lines.push(line) });
    store.onClaimable(() => {})(); // a listener that comes and goes at once, as a short invocation's pool
    await until(async () => (await api.getRun(lostRun.id))!.status === "failed", 2000);

    // A second dead worker's run, and listeners coming and going again within the minute: no sweep.
    const dead = await db.open({ leaseMs: 1000 });
    const second = (await dead.claimRun("dead-2"))!.run;
    await dead.close();
    for (let i = 0; i < 3; i++) store.onClaimable(() => {})();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await api.getRun(second.id))!.status).toBe("running");
    expect(lines).toEqual([`run ${lostRun.id} failed: ${LEASE_EXPIRED} (pipeline ${pipeline.id})`]);
    // Asked for, it is recovered at once.
    expect((await store.recoverExpired()).map((run) => run.id)).toEqual([second.id]);
  });
});
