/**
 * Run control on PostgreSQL across processes (two or more stores on one schema stand for processes):
 * a cancel reaching another process's worker by notification and, when that is missed, by the lease
 * renewal; the concurrency policy under concurrent triggers; and lease recovery of a run whose cancel
 * was asked for. The behaviour shared with MemoryStore is in runControl.contract.test.ts.
 */
import { describe, expect, it } from "vitest";
import { iso } from "../../../../lib/clock.ts";
import { Run } from "../../../../lib/api/schemas.ts";
import { migrate } from "../../../../lib/store/pg/schema/migrate.ts";
import { MIGRATIONS } from "../../../../lib/store/pg/schema/migrations.ts";
import type { PgStore } from "../../../../lib/store/pg/pgStore.ts";
import type { Claim } from "../../../../lib/store/store.ts";
import { runOnly, seedPipeline } from "../../../support/fixtures.ts";
import { EPOCH, ManualClock, uuidFor } from "../../../support/manualClock.ts";
import { pgTestUrl, requirePgUrl, schemaPerTest } from "../../../support/pgTestDatabase.ts";
import { within } from "../../../support/waitFor.ts";

describe.skipIf(!pgTestUrl)("PgStore run control on PostgreSQL", () => {
  const db = schemaPerTest();

  /** An API process and a worker process; no fallback poll or sweep within a test. */
  const twoProcesses = async (workerLeaseMs = 30_000): Promise<[PgStore, PgStore]> => {
    const clock = new ManualClock();
    return [await db.open({ clock, pollIntervalMs: 60_000 }), await db.open({ clock, pollIntervalMs: 60_000, leaseMs: workerLeaseMs })];
  };

  /** A run claimed by `worker`, watched with its onLost and onCancel calls recorded. */
  const claimedAndWatched = async (api: PgStore, worker: PgStore) => {
    const pipeline = await api.createPipeline(runOnly("p"));
    const run = (await api.triggerRun(pipeline.id, "main"))!;
    const claim: Claim = (await worker.claimRun("w1"))!;
    await worker.listen();
    const lost: string[] = [];
    const cancelled = new Promise<string>((resolve) => worker.watchClaim(claim, (reason) => lost.push(reason), resolve));
    // Time for the watch's first check of the run, so that what the test does next comes after it.
    await new Promise((resolve) => setTimeout(resolve, 100));
    return { run, claim, lost, cancelled };
  };

  describe("cancel of a run another process is running", () => {
    it("reaches its worker within a second by notification (the lease renewal is 10 s away)", async () => {
      const [api, worker] = await twoProcesses();
      const { run, lost, cancelled } = await claimedAndWatched(api, worker);
      const sent = performance.now();
      expect((await api.cancelRun(run.id, "from the API"))?.outcome).toBe("requested");
      expect(await within(cancelled, 1000)).toBe("cancelled: from the API");
      expect(performance.now() - sent).toBeLessThan(1000);
      expect(lost).toEqual([]);
    });

    it("reaches its worker by the lease renewal when the notification is missed", async () => {
      // Renewals every 300 ms; the cancel is written without its notification, as if it were lost.
      const [api, worker] = await twoProcesses(900);
      const { run, lost, cancelled } = await claimedAndWatched(api, worker);
      await db.sql("UPDATE runs SET cancel_requested_at = now(), cancel_error = 'cancelled: notice lost' WHERE id = $1", [run.id]);
      expect(await within(cancelled, 1000)).toBe("cancelled: notice lost");
      expect(lost).toEqual([]);
    });

    it("reaches a cancel_in_progress pipeline's worker when another process triggers", async () => {
      const [api, worker] = await twoProcesses();
      const pipeline = await api.createPipeline({ ...runOnly("p"), concurrency: "cancel_in_progress" });
      await api.triggerRun(pipeline.id, "main");
      const claim = (await worker.claimRun("w1"))!;
      await worker.listen();
      const cancelled = new Promise<string>((resolve) => worker.watchClaim(claim, () => resolve("lost"), resolve));
      const next = (await api.triggerRun(pipeline.id, "main"))!;
      expect(await within(cancelled, 1000)).toBe(`superseded by run ${next.id}`);
      expect(next).toMatchObject({ queue_position: 1, waiting_for: `run ${claim.run.id}` });
    });
  });

  it("a cancel of a queued run wakes other processes' claimers when its lane is ready afterwards (it held the lane)", async () => {
    const [api, worker] = await twoProcesses();
    const pipeline = await api.createPipeline(runOnly("p"));
    const [head, next] = [(await api.triggerRun(pipeline.id, "main"))!, (await api.triggerRun(pipeline.id, "main"))!];
    await worker.listen();
    const woken = new Promise<void>((resolve) => worker.onClaimable(resolve));
    expect((await api.cancelRun(head.id, "not needed"))?.outcome).toBe("cancelled");
    await within(woken, 1000);
    expect((await worker.claimRun("w1"))?.run.id).toBe(next.id);
  });

  describe("concurrency policy under concurrent triggers", () => {
    /** Queued runs per pipeline as the runs say, and the lanes as the pipelines say. */
    const lanes = () =>
      db.sql<{ id: string; concurrency: string; queued: number; queued_count: number; head_ok: boolean; running_ok: boolean }>(`
        SELECT p.id, p.concurrency, count(q.id)::int AS queued, p.queued_count,
          p.head_seq IS NOT DISTINCT FROM min(q.seq) AS head_ok,
          p.running_run_id IS NOT DISTINCT FROM (SELECT r.id FROM runs r WHERE r.pipeline_id = p.id AND r.status = 'running') AS running_ok
        FROM pipelines p LEFT JOIN runs q ON q.pipeline_id = p.id AND q.status = 'queued'
        GROUP BY p.id`);

    it("supersede: 3 processes triggering at once, claimers racing them, leave one queued run and consistent lanes", async () => {
      const stores = [await db.open({ poolSize: 8 }), await db.open({ poolSize: 8 }), await db.open({ poolSize: 8 })];
      const superseding = await stores[0]!.createPipeline({ ...runOnly("s"), concurrency: "supersede" });
      const cancelling = await stores[0]!.createPipeline({ ...runOnly("c"), concurrency: "cancel_in_progress" });
      const queueing = await stores[0]!.createPipeline(runOnly("q"));
      const pipelines = [superseding, cancelling, queueing];
      for (let round = 0; round < 5; round++) {
        const triggers = Array.from({ length: 24 }, (_, i) => stores[i % 3]!.triggerRun(pipelines[i % 3]!.id, `r${round}-${i}`));
        const claims = Array.from({ length: 2 }, (_, i) => stores[i]!.claimRun(`w${round}-${i}`));
        const results = await Promise.all([...triggers, ...claims]);
        expect(results.slice(0, 24).every((r) => r !== undefined)).toBe(true);
        for (const lane of await lanes()) {
          expect(lane, `${lane.concurrency} lane`).toMatchObject({ head_ok: true, running_ok: true, queued_count: lane.queued });
          if (lane.concurrency !== "queue") expect(lane.queued, `${lane.concurrency} lane`).toBeLessThanOrEqual(1);
        }
      }
      // Every run a policy cancelled names a run triggered after it, which is the one left queued or
      // one that a claimer took before it was superseded in turn.
      for (const p of [superseding, cancelling]) {
        const runs = (await stores[1]!.listRuns({ pipeline_id: p.id, limit: 1000 })).items;
        expect(runs.filter((r) => r.status === "queued").length).toBeLessThanOrEqual(1);
        expect(["queued", "running"]).toContain(runs[0]!.status);
        const seqOf = new Map(runs.map((r, i) => [r.id, runs.length - i]));
        for (const r of runs.filter((r) => r.status === "cancelled")) {
          const by = /^superseded by run (.+)$/.exec(r.error ?? "")?.[1];
          expect(by && seqOf.get(by)! > seqOf.get(r.id)!, `${r.id}: ${r.error}`).toBe(true);
        }
      }
      expect((await stores[2]!.listRuns({ pipeline_id: queueing.id, status: "queued", limit: 1000 })).items.length).toBeGreaterThanOrEqual(5 * 8 - 5);
    });
  });

  it("a run handed back after its cancel was asked for is cancelled by the worker that takes it next", async () => {
    const [api, worker] = await twoProcesses();
    const pipeline = await api.createPipeline(runOnly("p"));
    const run = (await api.triggerRun(pipeline.id, "main"))!;
    const first = (await worker.claimRun("w1"))!;
    expect((await api.cancelRun(run.id, "while shutting down"))?.outcome).toBe("requested");
    await worker.releaseRun(first, "shutting down");
    const next = (await worker.claimRun("w2"))!;
    expect(next.run.id).toBe(run.id);
    const cancelled = new Promise<string>((resolve) => worker.watchClaim(next, () => resolve("lost"), resolve));
    expect(await within(cancelled, 1000)).toBe("cancelled: while shutting down");
  });

  describe("lease recovery", () => {
    it("ends a run whose cancel was asked for cancelled, with the cancel's error, and tells its watcher", async () => {
      const LEASE = 1000;
      const clock = new ManualClock();
      const store = await db.open({ clock, leaseMs: LEASE });
      const pipeline = await store.createPipeline(seedPipeline);
      const run = (await store.triggerRun(pipeline.id, "main"))!;
      const next = (await store.triggerRun(pipeline.id, "main"))!;
      const claim = (await store.claimRun("w1"))!;
      await store.updateStage(claim, 0, { logs: ["working"] });
      await clock.advance(10);
      expect((await store.cancelRun(run.id, "stop it"))?.outcome).toBe("requested");

      clock.set(EPOCH + LEASE + 1);
      const recovered = await store.recoverExpired();
      expect(recovered.map((r) => r.id)).toEqual([run.id]);
      const ended = Run.parse(await store.getRun(run.id));
      expect(ended).toEqual(recovered[0]);
      expect(ended).toMatchObject({ status: "cancelled", error: "cancelled: stop it", cancel_requested_at: iso(EPOCH + 10), finished_at: iso(EPOCH + LEASE + 1) });
      expect(ended.stages.map((s) => s.status)).toEqual(["cancelled", "skipped", "skipped"]);
      expect(ended.stages[0]).toMatchObject({ logs: ["working"], attempts: 1 });
      // A watch that begins now hears that the claim is gone, with no cancel.
      const heard = await new Promise<string>((resolve) => store.watchClaim(claim, (reason) => resolve(`lost: ${reason}`), (error) => resolve(`cancel: ${error}`)));
      expect(heard).toMatch(/^lost: /);
      expect((await store.claimRun("w2"))?.run.id).toBe(next.id);
    });

    it("tells a watcher in another process that its cancel-requested run was recovered, with the cancel's error", async () => {
      const workerClock = new ManualClock();
      const sweeperClock = new ManualClock(EPOCH + 30_001);
      const worker = await db.open({ clock: workerClock, pollIntervalMs: 60_000 });
      const sweeper = await db.open({ clock: sweeperClock, pollIntervalMs: 60_000 });
      const pipeline = await worker.createPipeline(runOnly("p"));
      const run = (await worker.triggerRun(pipeline.id, "main"))!;
      const claim = (await worker.claimRun("w1"))!;
      await worker.listen();
      const lost = new Promise<string>((resolve) => worker.watchClaim(claim, resolve));
      await sweeper.cancelRun(run.id, "gone anyway");
      expect(await sweeper.recoverExpired()).toHaveLength(1);
      expect(await within(lost, 1000)).toBe("cancelled: gone anyway");
    });
  });

  it("migration 3 counts the queued runs of existing lanes, and reads older stages' attempts as 0 or 1", async () => {
    await migrate(requirePgUrl(), { schema: db.schema }, MIGRATIONS.slice(0, 2));
    const [pipeline, running, queued] = [uuidFor(1), uuidFor(2), uuidFor(3)];
    const stage = (status: string, startedAt: string | null) => JSON.stringify([{ name: "run", status, started_at: startedAt, finished_at: null, logs: [] }]);
    await db.sql("INSERT INTO pipelines (id, name, repository, stages, created_at, updated_at) VALUES ($1, 'p', 'r', $2, now(), now())", [pipeline, JSON.stringify(runOnly("p").stages)]);
    const insertRun = "INSERT INTO runs (id, pipeline_id, git_ref, status, stages, spec, created_at, updated_at, started_at, claim_token, lease_expires_at) VALUES ($1, $2, 'main', $3, $4, '{}', now(), now(), $5::timestamptz, $6, $7::timestamptz)";
    await db.sql(insertRun, [running, pipeline, "running", stage("running", iso(EPOCH)), iso(EPOCH), uuidFor(9), iso(EPOCH + 30_000)]);
    await db.sql(insertRun, [queued, pipeline, "queued", stage("pending", null), null, null, null]);
    await db.sql("UPDATE pipelines SET running_run_id = $1, head_seq = (SELECT seq FROM runs WHERE id = $2)", [running, queued]);

    const store = await db.open();
    expect(await db.sql("SELECT concurrency, queued_count FROM pipelines")).toEqual([{ concurrency: "queue", queued_count: 1 }]);
    expect((await store.getRun(running))?.stages[0]?.attempts).toBe(1);
    expect(await store.getRun(queued)).toMatchObject({ queue_position: 1, waiting_for: `run ${running}`, rerun_of: null, cancel_requested_at: null });
    expect((await store.getRun(queued))?.stages[0]?.attempts).toBe(0);
    expect(await store.triggerRun(pipeline, "main")).toMatchObject({ queue_position: 2, waiting_for: `run ${queued}` });
  });
});
