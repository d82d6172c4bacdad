/**
 * Idempotency-Keys on PostgreSQL across processes (two stores on one schema stand for two): exactly
 * one resource per key for concurrent requests, expiry by the injected clock, and the sweep.
 */
import pg from "pg";
import { describe, expect, it } from "vitest";
import { deleteExpiredKeys } from "../../../../lib/store/pg/idempotency.ts";
import { IDEMPOTENCY_KEY_TTL_MS } from "../../../../lib/store/store.ts";
import { runOnly } from "../../../support/fixtures.ts";
import { ManualClock } from "../../../support/manualClock.ts";
import { pgTestUrl, requirePgUrl, schemaPerTest } from "../../../support/pgTestDatabase.ts";

describe.skipIf(!pgTestUrl)("PgStore Idempotency-Keys on PostgreSQL", () => {
  const db = schemaPerTest();
  const key = (k: string, fingerprint = "f1") => ({ key: k, fingerprint });

  it("makes exactly one run and one pipeline for concurrent requests with one key in two processes", async () => {
    const clock = new ManualClock();
    const stores = [await db.open({ clock }), await db.open({ clock })];
    const pipeline = await stores[0]!.createPipeline(runOnly("p"));
    const triggers = await Promise.all(Array.from({ length: 12 }, (_, i) => stores[i % 2]!.triggerRunOnce(pipeline.id, "main", key("burst"))));
    const runIds = new Set(triggers.map((r) => (r && "value" in r ? r.value.id : "none")));
    expect(runIds.size).toBe(1);
    expect(triggers.filter((r) => r && "value" in r && !r.replayed)).toHaveLength(1);
    expect(await db.sql("SELECT id FROM runs")).toEqual([{ id: [...runIds][0] }]);

    const creates = await Promise.all(Array.from({ length: 12 }, (_, i) => stores[i % 2]!.createPipelineOnce(runOnly("q"), key("burst"))));
    const pipelineIds = new Set(creates.map((r) => ("value" in r ? r.value.id : "none")));
    expect(pipelineIds.size).toBe(1);
    expect(creates.filter((r) => "value" in r && !r.replayed)).toHaveLength(1);
    expect(await db.sql("SELECT count(*)::int AS n FROM pipelines")).toEqual([{ n: 2 }]);
  });

  it("replays the resource as it is now, keeps no key for an unknown pipeline, and forgets keys after 24 hours", async () => {
    const clock = new ManualClock();
    const store = await db.open({ clock });
    const pipeline = await store.createPipeline(runOnly("p"));
    const first = await store.triggerRunOnce(pipeline.id, "main", key("k"));
    await store.claimRun("w1");
    expect(await store.triggerRunOnce(pipeline.id, "main", key("k"))).toMatchObject({ replayed: true, value: { status: "running" } });
    expect(await store.triggerRunOnce("00000000-0000-4000-8000-00000000ffff", "main", key("k"))).toBeUndefined();
    expect(await db.sql("SELECT scope FROM idempotency_keys")).toEqual([{ scope: `trigger ${pipeline.id}` }]);

    await clock.advance(IDEMPOTENCY_KEY_TTL_MS);
    const later = await store.triggerRunOnce(pipeline.id, "main", key("k", "f2"));
    expect(later).toMatchObject({ replayed: false });
    expect(later && "value" in later && first && "value" in first && later.value.id !== first.value.id).toBe(true);
  });

  it("the sweep deletes the keys expired by the injected clock, in batches, and no others", async () => {
    const clock = new ManualClock();
    const store = await db.open({ clock });
    for (let i = 0; i < 3; i++) await store.createPipelineOnce(runOnly(`p${i}`), key(`old${i}`));
    await db.sql("INSERT INTO idempotency_keys SELECT 'create', 'bulk' || n, 'f', gen_random_uuid(), (SELECT max(created_at) FROM idempotency_keys) FROM generate_series(1, 1500) AS n");
    await clock.advance(1);
    await store.createPipelineOnce(runOnly("new"), key("new"));
    const pool = new pg.Pool({ connectionString: requirePgUrl(), options: `-c search_path=${db.schema}` });
    try {
      expect(await deleteExpiredKeys(pool, clock.now() + IDEMPOTENCY_KEY_TTL_MS - 2)).toBe(0);
      expect(await deleteExpiredKeys(pool, clock.now() + IDEMPOTENCY_KEY_TTL_MS - 1)).toBe(1503);
    } finally {
      await pool.end();
    }
    expect(await db.sql("SELECT key FROM idempotency_keys")).toEqual([{ key: "new" }]);
  });
});
