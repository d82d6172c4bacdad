/**
 * PgStore's notifications between processes (two stores stand for two processes): wake-ups on the
 * claimable channel, cancel notices on the cancel channel, and the LISTEN connection's recovery.
 */
import { describe, expect, it } from "vitest";
import type { PgStore } from "../../../../lib/store/pg/pgStore.ts";
import { runOnly } from "../../../support/fixtures.ts";
import { ManualClock } from "../../../support/manualClock.ts";
import { pgTestUrl, schemaPerTest } from "../../../support/pgTestDatabase.ts";
import { within } from "../../../support/waitFor.ts";

describe.skipIf(!pgTestUrl)("PgStore notifications on PostgreSQL", () => {
  const db = schemaPerTest();

  /**
   * Two stores on one schema. Their fallback poll is a minute away, so only notifications call their
   * listeners here, and their clock is a manual one, so no sweep finds a lease expired.
   */
  const twoProcesses = async (): Promise<[PgStore, PgStore]> => {
    const clock = new ManualClock();
    return [await db.open({ clock, pollIntervalMs: 60_000 }), await db.open({ clock, pollIntervalMs: 60_000 })];
  };

  /** Resolves on the next call of an onClaimable listener on `store`. */
  const nextWakeUp = (store: PgStore): Promise<number> =>
    new Promise((resolve) => {
      const unsubscribe = store.onClaimable(() => {
        unsubscribe();
        resolve(performance.now());
      });
    });

  it("wakes another store's listeners within milliseconds of a trigger that makes a run claimable (LISTEN/NOTIFY)", async () => {
    const [api, worker] = await twoProcesses();
    let calls = 0;
    worker.onClaimable(() => calls++);
    await worker.listen();
    const pipeline = await api.createPipeline(runOnly("p"));

    const woken = nextWakeUp(worker);
    const sent = performance.now();
    await api.triggerRun(pipeline.id, "main");
    expect((await within(woken, 1000)) - sent).toBeLessThan(250); // measured here: p50 0.95 ms, p99 7.8 ms
    expect(calls).toBe(1);

    // A run queued behind a running one makes nothing claimable: no notification. Notifications
    // arrive in commit order, so once a later one is heard, an earlier one would have been too.
    await api.claimRun("w1");
    await api.triggerRun(pipeline.id, "main");
    const later = nextWakeUp(worker);
    await api.triggerRun((await api.createPipeline(runOnly("q"))).id, "main");
    await within(later, 1000);
    expect(calls).toBe(2);
  });

  it("wakes another store's listeners when a finish frees a pipeline with runs queued", async () => {
    const [api, worker] = await twoProcesses();
    const pipeline = await api.createPipeline(runOnly("p"));
    await api.triggerRun(pipeline.id, "main");
    await api.triggerRun(pipeline.id, "main");
    const claim = (await worker.claimRun("w1"))!;
    await api.listen();
    const heard = nextWakeUp(api);
    const direct = nextWakeUp(worker); // the finishing store's own listeners are called directly
    await worker.finishRun(claim, "success", null);
    await within(direct, 10);
    await within(heard, 1000);
  });

  it("ignores its own notifications: a store's own trigger calls its listeners once, directly", async () => {
    const [store, other] = await twoProcesses();
    let calls = 0;
    store.onClaimable(() => calls++);
    await store.listen();
    await store.triggerRun((await store.createPipeline(runOnly("p"))).id, "main");
    expect(calls).toBe(1);
    // Its own notification has come back by the time a later one from another store has.
    const later = nextWakeUp(store);
    await other.triggerRun((await other.createPipeline(runOnly("q"))).id, "main");
    await within(later, 1000);
    expect(calls).toBe(2);
  });

  it("tells a claim's watcher when another store deletes the pipeline (cancel channel)", async () => {
    const [api, worker] = await twoProcesses();
    const pipeline = await api.createPipeline(runOnly("p"));
    await api.triggerRun(pipeline.id, "main");
    const claim = (await worker.claimRun("w1"))!;
    await worker.listen();
    const lost = new Promise<string>((resolve) => worker.watchClaim(claim, resolve));
    const result = await api.deletePipeline(pipeline.id);
    expect(result?.cancelledRunning.map((r) => r.id)).toEqual([claim.run.id]);
    expect(await within(lost, 1000)).toBe("pipeline deleted");
  });

  it("keeps what it hears of a claim it made while listening for the claim's watch, which reads nothing", async () => {
    const [api, worker] = await twoProcesses();
    await worker.listen();
    const [p, q] = [await api.createPipeline(runOnly("p")), await api.createPipeline(runOnly("q"))];
    const run = (await api.triggerRun(p.id, "main"))!;
    await api.triggerRun(q.id, "main");
    const [toCancel, toDelete] = [(await worker.claimRun("w1"))!, (await worker.claimRun("w2"))!];
    expect(toCancel.run.id).toBe(run.id);
    await api.cancelRun(run.id, "before the watch");
    await api.deletePipeline(q.id);
    await new Promise((resolve) => setTimeout(resolve, 200)); // both notices arrive, before any watch
    const cancel = await new Promise<string>((resolve) => worker.watchClaim(toCancel, () => resolve("lost"), resolve));
    expect(cancel).toBe("cancelled: before the watch");
    // The notice's reason: a read of the run would have found the claim gone, and said so in its own words.
    expect(await within(new Promise<string>((resolve) => worker.watchClaim(toDelete, resolve)), 1000)).toBe("pipeline deleted");
  });

  it("learns from its claim, made while listening, of a cancel asked for before the run was handed back", async () => {
    const [api, worker] = await twoProcesses();
    await worker.listen();
    const run = (await api.triggerRun((await api.createPipeline(runOnly("p"))).id, "main"))!;
    const first = (await worker.claimRun("w1"))!;
    await api.cancelRun(run.id, "while shutting down");
    await worker.releaseRun(first, "shutting down");
    const next = (await worker.claimRun("w2"))!;
    const heard = new Promise<string>((resolve) => worker.watchClaim(next, () => resolve("lost"), resolve));
    expect(await within(heard, 1000)).toBe("cancelled: while shutting down");
  });

  it("listens again after its connection is killed, and calls its listeners in case it missed something", async () => {
    const [api, worker] = await twoProcesses();
    await worker.listen();
    const reconnected = nextWakeUp(worker);
    const killed = await db.sql<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE application_name = 'stagerunner-listen' AND query LIKE '%' || $1 || '%' AND pg_terminate_backend(pid)",
      [db.schema],
    );
    expect(killed.length).toBeGreaterThanOrEqual(1);
    await within(reconnected, 3000); // first retry after 100 ms

    const woken = nextWakeUp(worker);
    await api.triggerRun((await api.createPipeline(runOnly("p"))).id, "main");
    await within(woken, 1000);
  });
});
