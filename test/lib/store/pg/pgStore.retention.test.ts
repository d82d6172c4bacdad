/**
 * Retention on PostgreSQL (--retain-runs): pruneFinished keeps the newest N finished runs by seq and
 * every queued or running run, deletes the rest in batches, is safe in several processes at once, and
 * runs on its own in a store with workers.
 */
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../../lib/api/errors.ts";
import type { RunStatus } from "../../../../lib/api/schemas.ts";
import { loadConfig, pgStoreOptions, storeSettings } from "../../../../lib/config/settings.ts";
import { PgStore } from "../../../../lib/store/pg/pgStore.ts";
import { PRUNE_BATCH } from "../../../../lib/store/pg/retention.ts";
import { runOnly } from "../../../support/fixtures.ts";
import { pgTestUrl, schemaPerTest } from "../../../support/pgTestDatabase.ts";
import { until } from "../../../support/waitFor.ts";

const FINISHED = new Set<string>(["success", "failed", "cancelled"]);

describe("retention settings (no database needed)", () => {
  it("passes --retain-runs to the PostgreSQL store, and refuses a count that is not a whole number above 0", () => {
    const config = (env: NodeJS.ProcessEnv) => loadConfig(storeSettings, {}, { STAGERUNNER_STORE: "postgres://h/db", ...env });
    expect(pgStoreOptions(config({ STAGERUNNER_RETAIN_RUNS: "500" })).retainRuns).toBe(500);
    expect(pgStoreOptions(config({})).retainRuns).toBeUndefined();
    for (const retainRuns of [0, -1, 2.5, Number.NaN]) expect(() => new PgStore("postgres://h/db", { retainRuns })).toThrow(ConfigError);
  });
});

describe.skipIf(!pgTestUrl)("PgStore retention on PostgreSQL", () => {
  const db = schemaPerTest();

  /**
   * Runs with these statuses, inserted in this order (so in seq order) straight into the table: many
   * runs in milliseconds. A running one has a claim, as the table requires, and a pipeline of its own.
   */
  const insertRuns = (statuses: RunStatus[]) =>
    db.sql(
      `INSERT INTO runs (id, pipeline_id, git_ref, status, stages, spec, repository, created_at, updated_at, finished_at, claim_token, lease_expires_at)
       SELECT gen_random_uuid(), gen_random_uuid(), 'main', s.status, '[]', '{}', 'r', now(), now(),
              CASE WHEN s.status IN ('success', 'failed', 'cancelled') THEN now() END,
              CASE WHEN s.status = 'running' THEN gen_random_uuid() END,
              CASE WHEN s.status = 'running' THEN now() + interval '1 day' END
       FROM unnest($1::text[]) WITH ORDINALITY AS s(status, n) ORDER BY s.n`,
      [statuses],
    );

  /** `count` statuses in turn: mostly finished, some queued and running among them. */
  const mixed = (count: number): RunStatus[] => Array.from({ length: count }, (_, i) => (["success", "failed", "queued", "cancelled", "success", "running", "failed"] as const)[i % 7]!);

  const runsBySeq = () => db.sql<{ id: string; status: string }>("SELECT id, status FROM runs ORDER BY seq");

  /** The ids that should stay of `runs` (in seq order): every run not finished, and the newest `keep` finished ones. */
  function kept(runs: { id: string; status: string }[], keep: number): string[] {
    const newest = new Set(runs.filter((r) => FINISHED.has(r.status)).slice(-keep).map((r) => r.id));
    return runs.filter((r) => !FINISHED.has(r.status) || newest.has(r.id)).map((r) => r.id);
  }

  /** Counts each DELETE statement on runs and its rows, with its transaction, from here on. */
  async function recordDeletes(): Promise<() => Promise<{ txid: string; rows: number }[]>> {
    await db.sql(`
      CREATE TABLE deletes (n serial, txid bigint, rows int);
      CREATE FUNCTION record_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO deletes (txid, rows) SELECT txid_current(), count(*) FROM gone; RETURN NULL; END $$;
      CREATE TRIGGER record_delete AFTER DELETE ON runs REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION record_delete();`);
    return () => db.sql<{ txid: string; rows: number }>("SELECT txid, rows FROM deletes ORDER BY n");
  }

  it("keeps exactly the newest N finished runs and every queued or running one, deleting the rest a batch a transaction", async () => {
    const store = await db.open({ retainRuns: 700 });
    // The oldest runs, through the store: one finished (to be deleted), one running, one queued.
    const old = (await store.triggerRun((await store.createPipeline(runOnly("p"))).id, "main"))!;
    await store.finishRun((await store.claimRun("w1"))!, "success", null, { index: 0, logs: ["done"] });
    const busy = await store.createPipeline(runOnly("busy"));
    const running = (await store.triggerRun(busy.id, "main"))!;
    await store.claimRun("w2");
    const queued = (await store.triggerRun(busy.id, "main"))!;
    await insertRuns(mixed(3000));
    // The newest: finished through the store, to be kept as it was.
    await store.triggerRun((await store.createPipeline(runOnly("q"))).id, "main");
    const last = (await store.claimRun("w1"))!;
    await store.finishRun(last, "failed", "exit 1", { index: 0, status: "failed", logs: ["boom"] });
    const newest = (await store.getRun(last.run.id))!;

    const before = await runsBySeq();
    const finished = before.filter((r) => FINISHED.has(r.status)).length;
    const deletes = await recordDeletes();
    expect(await store.pruneFinished()).toBe(finished - 700);
    expect((await runsBySeq()).map((r) => r.id)).toEqual(kept(before, 700));

    const statements = (await deletes()).filter((d) => d.rows > 0);
    expect(statements.length).toBe(Math.ceil((finished - 700) / PRUNE_BATCH));
    expect(statements.every((d) => d.rows <= PRUNE_BATCH)).toBe(true);
    expect(new Set(statements.map((d) => d.txid)).size).toBe(statements.length);

    expect(await store.getRun(old.id)).toBeUndefined();
    expect((await store.getRun(running.id))!.status).toBe("running");
    expect((await store.getRun(queued.id))!.status).toBe("queued");
    expect(await store.getRun(newest.id)).toEqual(newest);
    expect(await store.pruneFinished()).toBe(0);
  });

  it("deletes nothing without retainRuns, nor while there are N finished runs or fewer", async () => {
    const keepsEvery = await db.open();
    await insertRuns(mixed(70)); // 50 finished
    expect(await keepsEvery.pruneFinished()).toBe(0);
    expect(await (await db.open({ retainRuns: 50 })).pruneFinished()).toBe(0);
    expect(await db.sql("SELECT 1 FROM runs")).toHaveLength(70);
  });

  it("is safe in several processes at once: each run deleted once, none of the newest N, no errors", async () => {
    const stores = [await db.open({ retainRuns: 1000 }), await db.open({ retainRuns: 1000 }), await db.open({ retainRuns: 1000 })];
    for (let round = 0; round < 3; round++) {
      await insertRuns(mixed(4000));
      const before = await runsBySeq();
      const expected = kept(before, 1000);
      const deleted = await Promise.all(stores.map((s) => s.pruneFinished()));
      expect(deleted.reduce((a, b) => a + b, 0)).toBe(before.length - expected.length);
      expect((await runsBySeq()).map((r) => r.id)).toEqual(expected);
    }
  });

  it("prunes on its own, every pruneIntervalMs, in a store with workers (onClaimable listeners), and logs it", async () => {
    const lines: string[] = [];
    const store = await db.open({ retainRuns: 2, pruneIntervalMs: 20, log: (line) => lines.push(line) });
    store.onClaimable(() => {});
    await insertRuns(["success", "failed", "queued", "cancelled", "success", "running", "failed"]);
    await until(async () => lines.length > 0, 2000);
    expect(lines).toEqual(["deleted 3 finished runs beyond the newest 2 (--retain-runs)"]);
    expect((await runsBySeq()).map((r) => r.status)).toEqual(["queued", "success", "running", "failed"]);
  });
});
