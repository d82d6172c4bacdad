/**
 * What only the PostgreSQL store does: migrations, the database's own guard on "one running run per
 * pipeline", leases and their recovery, and failures of the database itself. The behaviour it shares
 * with MemoryStore is in store.contract.test.ts; queue concurrency, notifications and worker pools in
 * the other pgStore.*.test.ts files.
 */
import pg from "pg";
import { describe, expect, it } from "vitest";
import { iso } from "../../../../lib/clock.ts";
import { ConfigError, ServiceUnavailableError, StaleClaimError } from "../../../../lib/api/errors.ts";
import { isConnectionError } from "../../../../lib/store/pg/connection.ts";
import { connectPgStore, migrate } from "../../../../lib/store/pg/schema/migrate.ts";
import { LATEST_VERSION, MIGRATIONS } from "../../../../lib/store/pg/schema/migrations.ts";
import { MemoryStore } from "../../../../lib/store/memory/memoryStore.ts";
import { LEASE_EXPIRED, PgStore } from "../../../../lib/store/pg/pgStore.ts";
import { Run } from "../../../../lib/api/schemas.ts";
import type { Claim } from "../../../../lib/store/store.ts";
import { runOnly, seedPipeline } from "../../../support/fixtures.ts";
import { EPOCH, ManualClock, sequentialIds, UNKNOWN_ID, uuidFor } from "../../../support/manualClock.ts";
import { PG_SKIP_REASON, pgTestUrl, requirePgUrl, schemaPerTest } from "../../../support/pgTestDatabase.ts";
import { until, within } from "../../../support/waitFor.ts";

if (!pgTestUrl) {
  console.warn(`test/lib/pgStore*.test.ts and the PgStore contract suite: ${PG_SKIP_REASON}`);
  describe("PgStore", () => it.skip(PG_SKIP_REASON, () => {}));
}

describe("PgStore configuration and faults (no database needed)", () => {
  it("refuses a connection string that is not a postgres:// URL, and a bad schema name, with one-line ConfigErrors", () => {
    for (const url of ["mysql://x/y", "not a url", ""]) expect(() => new PgStore(url)).toThrow(ConfigError);
    expect(() => new PgStore("postgres://h/db", { schema: "Bad-Name" })).toThrow(/schema "Bad-Name" must be a lower-case identifier/);
    for (const leaseMs of [0, -5, Number.NaN]) expect(() => new PgStore("postgres://h/db", { leaseMs })).toThrow(ConfigError);
  });

  it("counts refused connections, server shutdowns and connection classes as unavailability, and nothing else", () => {
    const withCode = (code: string, message = "x") => Object.assign(new Error(message), { code });
    for (const e of [withCode("ECONNREFUSED"), withCode("57P01"), withCode("08006"), withCode("53300"), new Error("timeout exceeded when trying to connect"), new Error("Connection terminated unexpectedly")])
      expect(isConnectionError(e), e.message).toBe(true);
    for (const e of [withCode("23505"), withCode("42P01"), withCode("22P02"), new Error("boom"), "ECONNREFUSED"]) expect(isConnectionError(e)).toBe(false);
  });
});

describe.skipIf(!pgTestUrl)("PgStore on PostgreSQL", () => {
  const db = schemaPerTest();

  describe("migrations", () => {
    const catalog = () =>
      db.sql<{ name: string }>(
        `SELECT c.relname || ':' || c.relkind::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = current_schema() ORDER BY 1`,
      );

    it("apply once, in order, recorded in stagerunner_migrations; applying again changes nothing", async () => {
      const url = requirePgUrl();
      expect(await migrate(url, { schema: db.schema })).toEqual({ applied: MIGRATIONS.map((m) => m.version), version: LATEST_VERSION });
      const before = await catalog();
      expect(before.map((r) => r.name)).toEqual(expect.arrayContaining(["pipelines:r", "runs:r", "stagerunner_migrations:r", "runs_one_running_per_pipeline:i"]));
      const recorded = await db.sql("SELECT version, name, applied_at FROM stagerunner_migrations ORDER BY version");

      expect(await migrate(url, { schema: db.schema })).toEqual({ applied: [], version: LATEST_VERSION });
      await (await db.open()).close(); // and at a store's start
      expect(await catalog()).toEqual(before);
      expect(await db.sql("SELECT version, name, applied_at FROM stagerunner_migrations ORDER BY version")).toEqual(recorded);
    });

    it("are applied once when several processes start together (advisory lock)", async () => {
      const results = await Promise.all([1, 2, 3, 4].map(() => migrate(requirePgUrl(), { schema: db.schema })));
      expect(results.map((r) => r.applied.length).sort()).toEqual([0, 0, 0, MIGRATIONS.length]);
    });

    it("give runs from before migration 5 no env and their pipeline's repository, which a claim then carries", async () => {
      await migrate(requirePgUrl(), { schema: db.schema }, MIGRATIONS.filter((m) => m.version <= 4));
      const [pipeline, queued, orphan] = [uuidFor(1), uuidFor(2), uuidFor(3)];
      const stages = JSON.stringify([{ name: "run", status: "pending", started_at: null, finished_at: null, attempts: 0, logs: [] }]);
      await db.sql("INSERT INTO pipelines (id, name, repository, stages, created_at, updated_at) VALUES ($1, 'shop', '/srv/git/shop.git', $2, now(), now())", [pipeline, JSON.stringify(runOnly("shop").stages)]);
      const insertRun = "INSERT INTO runs (id, pipeline_id, git_ref, status, stages, spec, created_at, updated_at) VALUES ($1, $2, 'main', $3, $4, $5, now(), now())";
      await db.sql(insertRun, [queued, pipeline, "queued", stages, JSON.stringify(runOnly("shop").stages)]);
      // A run of a pipeline deleted before the upgrade: it ended with the delete.
      await db.sql(insertRun, [orphan, uuidFor(9), "cancelled", stages, JSON.stringify(runOnly("gone").stages)]);
      await db.sql("UPDATE pipelines SET head_seq = (SELECT seq FROM runs WHERE id = $1), queued_count = 1", [queued]);

      const store = await db.open();
      expect((await store.getRun(queued))?.env).toEqual({});
      expect((await store.getRun(orphan))?.env).toEqual({});
      const claim = (await store.claimRun("w1"))!;
      expect(claim.run).toEqual({ id: queued, pipeline_id: pipeline, git_ref: "main", env: {} });
      expect(claim.pipeline).toEqual({ name: "shop", repository: "/srv/git/shop.git" });
      expect(await store.rerunRun(orphan)).toEqual({ pipelineDeleted: true });
    });

    it("refuse a schema newer than the code with a one-line ConfigError, at migrate and at a store's start", async () => {
      await migrate(requirePgUrl(), { schema: db.schema });
      await db.sql("INSERT INTO stagerunner_migrations (version, name) VALUES ($1, 'from the future')", [LATEST_VERSION + 1]);
      const refused = migrate(requirePgUrl(), { schema: db.schema });
      await expect(refused).rejects.toBeInstanceOf(ConfigError);
      const message = (await refused.catch((e: Error) => e)) as Error;
      expect(message.message).not.toContain("\n");
      expect(message.message).toMatch(new RegExp(`version ${LATEST_VERSION + 1}, newer than this stagerunner knows \\(${LATEST_VERSION}\\)`));
      await expect(connectPgStore(requirePgUrl(), { schema: db.schema })).rejects.toBeInstanceOf(ConfigError);
    });
  });

  it("lets the database itself refuse a second running run of a pipeline, even through raw SQL", async () => {
    const store = await db.open();
    const pipeline = await store.createPipeline(runOnly("p"));
    await store.triggerRun(pipeline.id, "main");
    const second = (await store.triggerRun(pipeline.id, "main"))!;
    await store.claimRun("w1");

    const promote = db.sql("UPDATE runs SET status = 'running', claim_token = gen_random_uuid(), lease_expires_at = now() WHERE id = $1", [second.id]);
    await expect(promote).rejects.toMatchObject({ code: "23505", constraint: "runs_one_running_per_pipeline" });
    const insert = db.sql(
      `INSERT INTO runs (id, pipeline_id, git_ref, status, stages, spec, repository, created_at, updated_at, claim_token, lease_expires_at)
       VALUES (gen_random_uuid(), $1, 'main', 'running', '[]', '{}', 'r', now(), now(), gen_random_uuid(), now())`,
      [pipeline.id],
    );
    await expect(insert).rejects.toMatchObject({ code: "23505" });
    // A running run without its claim is refused too.
    await expect(db.sql("UPDATE runs SET claim_token = NULL WHERE status = 'running'")).rejects.toMatchObject({ code: "23514" });
  });

  it("answers an out-of-range stage index with RangeError, as MemoryStore does, and a stale claim first with StaleClaimError", async () => {
    const clock = new ManualClock();
    const stores = [new MemoryStore({ clock }), await db.open({ clock })];
    for (const store of stores) {
      const pipeline = await store.createPipeline(runOnly("p"));
      await store.triggerRun(pipeline.id, "main");
      const claim = (await store.claimRun("w1"))!;
      for (const index of [1, -1, 0.5]) await expect(store.updateStage(claim, index, { logs: ["x"] })).rejects.toBeInstanceOf(RangeError);
      await store.finishRun(claim, "success", null);
      await expect(store.updateStage(claim, 7, { logs: ["x"] })).rejects.toBeInstanceOf(StaleClaimError);
    }
  });

  it("never starts a pipeline's run before its previous run finished, whatever time the claimer stamped", async () => {
    // The claimer's stamp predates the finish, as when its call waited for a connection meanwhile.
    const finisherClock = new ManualClock(EPOCH + 100);
    const claimerClock = new ManualClock(EPOCH + 50);
    const finisher = await db.open({ clock: finisherClock });
    const claimer = await db.open({ clock: claimerClock });
    const pipeline = await finisher.createPipeline(runOnly("p"));
    await finisher.triggerRun(pipeline.id, "main");
    await finisher.triggerRun(pipeline.id, "main");
    const first = (await finisher.claimRun("w1"))!;
    await finisher.finishRun(first, "success", null);
    const next = (await claimer.getRun((await claimer.claimRun("w2"))!.run.id))!;
    expect(next.started_at).toBe((await finisher.getRun(first.run.id))!.finished_at);
    expect(next.started_at).toBe(iso(EPOCH + 100));
    expect(next.stages[0]).toMatchObject({ status: "running", started_at: iso(EPOCH + 100) });
  });

  describe("leases", () => {
    const LEASE = 10_000;

    it("refuse a stale lease's writes once it was recovered: the run failed as worker lost, the next run claimable", async () => {
      const clock = new ManualClock();
      const store = await db.open({ clock, ids: sequentialIds(), leaseMs: LEASE });
      const pipeline = await store.createPipeline(seedPipeline);
      const first = (await store.triggerRun(pipeline.id, "main"))!;
      const next = (await store.triggerRun(pipeline.id, "main"))!;
      const claim = (await store.claimRun("w1"))!;
      await store.updateStage(claim, 0, { status: "running", logs: ["working"] });

      clock.set(EPOCH + LEASE); // expires strictly after the lease
      expect(await store.recoverExpired()).toEqual([]);
      expect(await store.claimRun("w2")).toBeUndefined();

      clock.set(EPOCH + LEASE + 1);
      const recovered = await store.recoverExpired();
      expect(recovered.map((r) => r.id)).toEqual([first.id]);
      await expect(store.updateStage(claim, 0, { status: "success" })).rejects.toBeInstanceOf(StaleClaimError);
      await expect(store.finishRun(claim, "success", null)).rejects.toBeInstanceOf(StaleClaimError);
      await expect(store.releaseRun(claim, "shutting down")).rejects.toBeInstanceOf(StaleClaimError);

      const failed = Run.parse(await store.getRun(first.id));
      expect(failed).toEqual(recovered[0]);
      expect(failed).toMatchObject({ status: "failed", error: LEASE_EXPIRED, finished_at: iso(EPOCH + LEASE + 1) });
      expect(failed.stages.map((s) => s.status)).toEqual(["failed", "skipped", "skipped"]);
      expect(failed.stages[0]).toMatchObject({ logs: ["working"], finished_at: iso(EPOCH + LEASE + 1) });

      const taken = (await store.claimRun("w2"))!;
      expect(taken.run.id).toBe(next.id);
      expect(await store.recoverExpired()).toEqual([]);
    });

    it("are renewed while watched, so a live worker's run is not recovered", async () => {
      const clock = new ManualClock();
      const store = await db.open({ clock, leaseMs: 300 });
      const pipeline = await store.createPipeline(runOnly("p"));
      await store.triggerRun(pipeline.id, "main");
      const claim = (await store.claimRun("w1"))!;
      const lost: string[] = [];
      store.watchClaim(claim, (reason) => lost.push(reason));
      // Renewals run every 100 ms of real time and stamp the manual clock's time plus the lease.
      clock.set(EPOCH + 10_000);
      const renewed = async () => (await db.sql<{ t: Date }>("SELECT lease_expires_at AS t FROM runs WHERE id = $1", [claim.run.id]))[0]!.t.getTime();
      await until(async () => (await renewed()) === EPOCH + 10_300, 2000);
      clock.set(EPOCH + 10_200);
      expect(await store.recoverExpired()).toEqual([]);
      await expect(store.updateStage(claim, 0, { status: "running" })).resolves.toBeUndefined();
      expect(lost).toEqual([]);
    });

    it("a claim lost to another process's lease recovery is reported to its watcher, with the reason", async () => {
      // The worker's clock stays put, so its renewals keep the lease where it was; the sweeper's clock
      // is past it: as if the worker had stopped renewing.
      const workerClock = new ManualClock();
      const sweeperClock = new ManualClock(EPOCH + LEASE + 1);
      const worker = await db.open({ clock: workerClock, leaseMs: LEASE });
      const sweeper = await db.open({ clock: sweeperClock, leaseMs: LEASE });
      const pipeline = await worker.createPipeline(runOnly("p"));
      await worker.triggerRun(pipeline.id, "main");
      const claim: Claim = (await worker.claimRun("w1"))!;
      await worker.listen();
      const lost = new Promise<string>((resolve) => worker.watchClaim(claim, resolve));
      expect(await sweeper.recoverExpired()).toHaveLength(1);
      expect(await within(lost, 2000)).toBe(LEASE_EXPIRED);
    });
  });

  describe("when every connection of the pool is busy", () => {
    /** Holds a lock on the pipeline's row from outside the store until the returned release is called. */
    async function lockPipeline(id: string): Promise<() => Promise<void>> {
      const client = new pg.Client({ connectionString: requirePgUrl(), options: `-c search_path=${db.schema}` });
      await client.connect();
      await client.query("BEGIN");
      await client.query("SELECT 1 FROM pipelines WHERE id = $1 FOR UPDATE", [id]);
      return async () => {
        await client.query("ROLLBACK");
        await client.end();
      };
    }

    it("a call waits for a connection to come free, longer than the connect timeout, then succeeds", async () => {
      const store = await db.open({ poolSize: 1, connectTimeoutMs: 100, poolWaitMs: 10_000 });
      const pipeline = await store.createPipeline(runOnly("p"));
      const release = await lockPipeline(pipeline.id);
      const blocked = store.triggerRun(pipeline.id, "main"); // holds the pool's one connection, waiting on the lock
      const waiting = store.getPipeline(pipeline.id); // waits for that connection
      await new Promise((resolve) => setTimeout(resolve, 300));
      await release();
      expect((await blocked)?.status).toBe("queued");
      expect((await waiting)?.id).toBe(pipeline.id);
    });

    it("a call that waited out the pool is a 503 'database busy' with Retry-After, and changes nothing", async () => {
      const store = await db.open({ poolSize: 1, poolWaitMs: 100 });
      const pipeline = await store.createPipeline(runOnly("p"));
      const release = await lockPipeline(pipeline.id);
      const blocked = store.triggerRun(pipeline.id, "main");
      const refused = await store.triggerRun(pipeline.id, "second").catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ServiceUnavailableError);
      expect(refused).toMatchObject({ status: 503, message: "database busy: no connection came free in time", headers: { "Retry-After": "1" } });
      await release();
      await blocked;
      expect((await store.listRuns({ limit: 10 })).items.map((r) => r.git_ref)).toEqual(["main"]);
    });
  });

  describe("when the database is unreachable", () => {
    it("answers ServiceUnavailableError (503) from API methods without hanging, and still closes", async () => {
      const store = new PgStore("postgres://postgres@127.0.0.1:1/test", { connectTimeoutMs: 500 });
      const started = Date.now();
      const failure = await store.getPipeline(UNKNOWN_ID).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(ServiceUnavailableError);
      expect(failure).toMatchObject({ status: 503, message: "database unavailable", headers: { "Retry-After": "5" } });
      await expect(store.listRuns({ limit: 10 })).rejects.toBeInstanceOf(ServiceUnavailableError);
      await expect(store.claimRun("w1")).rejects.toBeInstanceOf(ServiceUnavailableError);
      expect(Date.now() - started).toBeLessThan(3000);
      store.onClaimable(() => {}); // starts the LISTEN connection's retries, which close() must stop
      await store.close();
    });

    it("fails a store's start with ServiceUnavailableError", async () => {
      await expect(connectPgStore("postgres://postgres@127.0.0.1:1/test", { connectTimeoutMs: 500 })).rejects.toBeInstanceOf(ServiceUnavailableError);
    });
  });
});
