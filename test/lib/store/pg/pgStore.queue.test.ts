/**
 * The PostgreSQL queue under concurrency: several stores (as several processes would) claiming and
 * triggering at once on one database, the claim's guard against a stale snapshot of its lane, and a
 * claim's cost with thousands of runs queued in one pipeline.
 */
import pg from "pg";
import { describe, expect, it } from "vitest";
import { iso } from "../../../../lib/clock.ts";
import type { PgStore } from "../../../../lib/store/pg/pgStore.ts";
import { CLAIM_RUN, FINISH_RUN, RECOVER_EXPIRED } from "../../../../lib/store/pg/sql/queueSql.ts";
import type { Claim } from "../../../../lib/store/store.ts";
import { runOnly } from "../../../support/fixtures.ts";
import { pgTestUrl, requirePgUrl, schemaPerTest } from "../../../support/pgTestDatabase.ts";
import { until } from "../../../support/waitFor.ts";

describe.skipIf(!pgTestUrl)("PgStore queue on PostgreSQL", () => {
  const db = schemaPerTest();

  const runningPerPipeline = () =>
    db.sql<{ pipeline_id: string; n: number }>("SELECT pipeline_id, count(*)::int AS n FROM runs WHERE status = 'running' GROUP BY pipeline_id");

  it("20 parallel claimers over 3 stores, with triggers racing them: one running run per pipeline, FIFO per pipeline", async () => {
    const stores = [await db.open({ poolSize: 8 }), await db.open({ poolSize: 8 }), await db.open({ poolSize: 8 })];
    const pipelines = await Promise.all([0, 1, 2, 3, 4].map((i) => stores[0]!.createPipeline(runOnly(`p${i}`))));
    // 5 pipelines x 8 runs queued up front, 5 x 4 more triggered while the claimers run.
    for (let round = 0; round < 8; round++)
      await Promise.all(pipelines.map((p, i) => stores[(round + i) % 3]!.triggerRun(p.id, `ref${round}`)));

    const claimedOrder = new Map<string, string[]>(pipelines.map((p) => [p.id, []]));
    let lateTriggers = 0;
    for (let round = 0; round < 100; round++) {
      const triggers = round < 4 ? pipelines.map((p, i) => stores[(round + i) % 3]!.triggerRun(p.id, `late${round}`).then(() => lateTriggers++)) : [];
      const claims = (await Promise.all([...Array.from({ length: 20 }, (_, i) => stores[i % 3]!.claimRun(`w${i}`)), ...triggers])).filter(
        (c): c is Claim => typeof c === "object" && c !== null && "token" in c,
      );
      // No pipeline twice among claims that are all still running, and the database agrees.
      const ids = claims.map((c) => c.run.pipeline_id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const { n } of await runningPerPipeline()) expect(n).toBe(1);
      for (const c of claims) claimedOrder.get(c.run.pipeline_id)!.push(c.run.id);
      await Promise.all(claims.map((c, i) => stores[(i + 1) % 3]!.finishRun(c, "success", null)));
      if (claims.length === 0 && round >= 4) break;
    }

    expect(lateTriggers).toBe(20);
    for (const p of pipelines) {
      const triggerOrder = (await stores[0]!.listRuns({ pipeline_id: p.id, limit: 100 })).items.map((r) => r.id).reverse();
      expect(triggerOrder).toHaveLength(12);
      expect(claimedOrder.get(p.id)).toEqual(triggerOrder);
    }
    expect((await stores[1]!.listRuns({ status: "success", limit: 100 })).items).toHaveLength(60);
    expect(await db.sql("SELECT id FROM pipelines WHERE running_run_id IS NOT NULL OR head_seq IS NOT NULL")).toEqual([]);
  });

  it("a claim whose snapshot predates a trigger on its lane claims nothing and is retried, rather than stranding that run", async () => {
    const store = await db.open();
    const pipeline = await store.createPipeline(runOnly("p"));
    const first = (await store.triggerRun(pipeline.id, "main"))!;
    // The claim statement, pausing after its snapshot is taken and before it locks a lane.
    const paused = CLAIM_RUN.replace("WITH lane AS (", "WITH pause AS (SELECT pg_sleep(0.5) AS slept), lane AS (").replace(
      "WHERE running_run_id IS NULL AND head_seq IS NOT NULL",
      "WHERE running_run_id IS NULL AND head_seq IS NOT NULL AND (SELECT slept IS NULL OR true FROM pause)",
    );
    const unguarded = paused.replace("AND seen.lane_version = lane.lane_version", "");
    expect(new Set([CLAIM_RUN, paused, unguarded]).size).toBe(3);

    const client = new pg.Client({ connectionString: requirePgUrl(), options: `-c search_path=${db.schema}` });
    await client.connect();
    const pid = (client as unknown as { processID: number }).processID;
    /** Starts `sql` on the side connection and resolves once it sleeps, its snapshot taken. */
    const startPaused = async (sql: string) => {
      const now = Date.now();
      const result = client.query<{ locked: number; id: string | null }>(sql, [iso(now), "w1", "00000000-0000-4000-8000-00000000000a", iso(now + 30_000)]);
      await until(async () => (await db.sql("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event = 'PgSleep'", [pid])).length > 0, 2000);
      return { result }; // wrapped: an async function returning a promise would wait for it
    };
    try {
      // What the check prevents: without it, a trigger committing during the pause is invisible to the
      // claim, which then empties the lane and strands the new run (rolled back here).
      await client.query("BEGIN");
      const racing = await startPaused(unguarded);
      const second = (await store.triggerRun(pipeline.id, "main"))!;
      expect((await racing.result).rows).toEqual([expect.objectContaining({ locked: 1, id: first.id })]);
      expect((await client.query("SELECT head_seq FROM pipelines")).rows).toEqual([{ head_seq: null }]);
      await client.query("ROLLBACK");

      // With the check, the same race claims nothing, and the caller's next attempt sees the new run.
      const guarded = await startPaused(paused);
      const third = (await store.triggerRun(pipeline.id, "main"))!;
      expect((await guarded.result).rows).toEqual([expect.objectContaining({ locked: 1, id: null })]);

      for (const expected of [first, second, third]) {
        const claim = (await store.claimRun("w1"))!;
        expect(claim.run.id).toBe(expected.id);
        await store.finishRun(claim, "success", null);
      }
      expect(await store.claimRun("w1")).toBeUndefined();
    } finally {
      await client.end();
    }
  });

  it("claims, finishes and recovers through indexes only, with thousands of runs queued in one pipeline and thousands of idle pipelines", async () => {
    const store: PgStore = await db.open();
    const busy = await store.createPipeline(runOnly("busy"));
    const other = await store.createPipeline(runOnly("other"));
    // 5000 queued runs in one statement, then the lane that triggers would have left.
    await db.sql(
      `INSERT INTO runs (id, pipeline_id, git_ref, status, stages, spec, repository, created_at, updated_at)
       SELECT gen_random_uuid(), $1, 'main', 'queued', '[{"name":"run","status":"pending","started_at":null,"finished_at":null,"logs":[]}]',
              '{"run_stage":{"command":"make test"}}', 'repo-busy', now(), now()
       FROM generate_series(1, 5000)`,
      [busy.id],
    );
    await db.sql("UPDATE pipelines SET head_seq = (SELECT min(seq) FROM runs WHERE pipeline_id = $1) WHERE id = $1", [busy.id]);
    // And 2000 idle pipelines, so that the planner's choices on pipelines mean something too.
    await db.sql(
      `INSERT INTO pipelines (id, name, repository, stages, created_at, updated_at)
       SELECT gen_random_uuid(), 'idle' || i, 'r', '{"run_stage":{"command":"true"}}', now(), now() FROM generate_series(1, 2000) AS i`,
    );
    const waiting = (await store.triggerRun(other.id, "main"))!;
    await db.sql("ANALYZE pipelines; ANALYZE runs");

    const now = Date.now();
    const plan = await explain(CLAIM_RUN, [iso(now), "w0", "00000000-0000-4000-8000-00000000000b", iso(now + 30_000)]);
    expect(plan.filter((s) => s.type === "Seq Scan")).toEqual([]);
    // The next head comes from runs_queued, whatever the statistics say (see CLAIM_RUN).
    expect(plan.filter((s) => s.relation === "runs").map((s) => s.index)).toContain("runs_queued");
    // Every scan reads (returns or filters out) at most a couple of rows: none walks the 5000 queued runs.
    expect(Math.max(...plan.map((s) => s.rows))).toBeLessThanOrEqual(2);

    const first = (await store.claimRun("w1"))!;
    expect(first.run.pipeline_id).toBe(busy.id);
    expect((await store.claimRun("w2"))!.run.id).toBe(waiting.id);
    expect(await store.claimRun("w3")).toBeUndefined();

    // Finishing and recovering find their lanes by primary key too.
    const finish = await explain(FINISH_RUN, [first.run.id, first.token, "success", null, iso(now), "c", "p", busy.id, 0, "success", ["done"], "r"]);
    const recover = await explain(RECOVER_EXPIRED, [iso(now + 3_600_000), 100, "lost", "c", "p", "d"]);
    for (const scans of [finish, recover]) {
      // run_followers is empty here: the planner scans it whole, reading nothing.
      expect(scans.filter((s) => s.type === "Seq Scan" && !(s.relation === "run_followers" && s.rows === 0))).toEqual([]);
      expect(Math.max(...scans.map((s) => s.rows))).toBeLessThanOrEqual(2);
    }

    await store.finishRun(first, "success", null);
    expect((await store.claimRun("w3"))!.run.pipeline_id).toBe(busy.id);
  });

  /** A statement's executed plan (rolled back): each scan node with its type, index and the rows it read. */
  async function explain(statement: string, values: unknown[]): Promise<{ type: string; relation: string; index: string; rows: number }[]> {
    const client = new pg.Client({ connectionString: requirePgUrl(), options: `-c search_path=${db.schema}` });
    await client.connect();
    try {
      await client.query("BEGIN");
      const { rows } = await client.query<{ "QUERY PLAN": unknown }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${statement}`, values);
      await client.query("ROLLBACK");
      const scans: { type: string; relation: string; index: string; rows: number }[] = [];
      const walk = (node: Record<string, unknown>): void => {
        const type = String(node["Node Type"]);
        if (type.includes("Scan") && node["Relation Name"])
          scans.push({
            type,
            relation: String(node["Relation Name"]),
            index: String(node["Index Name"]),
            rows: (Number(node["Actual Rows"]) + Number(node["Rows Removed by Filter"] ?? 0)) * Number(node["Actual Loops"] ?? 1),
          });
        for (const child of (node.Plans as Record<string, unknown>[] | undefined) ?? []) walk(child);
      };
      walk(((rows[0]!["QUERY PLAN"] as { Plan: Record<string, unknown> }[])[0]!).Plan);
      return scans;
    } finally {
      await client.end();
    }
  }
});
