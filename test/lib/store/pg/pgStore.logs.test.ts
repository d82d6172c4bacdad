/**
 * Log lines on PostgreSQL (run_lines): the same appends give the same lines as MemoryStore, the cap
 * included; a release keeps one line; followers in another process hear of changes (onRunChange);
 * and migration 4 moves the lines of existing runs out of their stages' jsonb.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { LogLine } from "../../../../lib/api/schemas.ts";
import { MemoryStore } from "../../../../lib/store/memory/memoryStore.ts";
import { migrate } from "../../../../lib/store/pg/schema/migrate.ts";
import { MIGRATIONS } from "../../../../lib/store/pg/schema/migrations.ts";
import { KEPT_FIRST_LINES, MAX_STAGE_LINES } from "../../../../lib/store/stages.ts";
import type { Store } from "../../../../lib/store/store.ts";
import { seedPipeline } from "../../../support/fixtures.ts";
import { ManualClock, sequentialIds } from "../../../support/manualClock.ts";
import { pgTestUrl, requirePgUrl, schemaPerTest } from "../../../support/pgTestDatabase.ts";
import { until, within } from "../../../support/waitFor.ts";

/** One append: `count` lines to `stage`, by updateStage, or by finishRun when it is the last. */
interface Append {
  stage: number;
  count: number;
}

const append: fc.Arbitrary<Append> = fc.record({
  stage: fc.nat(2),
  count: fc.oneof(fc.integer({ min: 0, max: 30 }), fc.constantFrom(KEPT_FIRST_LINES - 1, KEPT_FIRST_LINES, MAX_STAGE_LINES - 1), fc.integer({ min: 1000, max: 11_000 })),
});

/** Every line of the run, paged as a follower reads them. */
async function allLines(store: Store, runId: string, pageLines: number): Promise<LogLine[]> {
  const lines: LogLine[] = [];
  for (let after = 0; ; ) {
    const page = (await store.getLogs(runId, after, pageLines))!;
    lines.push(...page.lines);
    if (page.lines.length < pageLines) return lines;
    after = page.next_after;
  }
}

/** Runs `appends` on a fresh run of `store`: an update per append, a finish with the last. */
async function play(store: Store, clock: ManualClock, appends: Append[]): Promise<string> {
  await store.triggerRun((await store.createPipeline(seedPipeline)).id, "main");
  const claim = (await store.claimRun("w1"))!;
  for (const [step, a] of appends.entries()) {
    await clock.advance(1);
    const logs = Array.from({ length: a.count }, (_, i) => `${step}.${i}${i % 7 === 0 ? " \u0000\u00e9\"\\" : ""}`);
    if (step === appends.length - 1) await store.finishRun(claim, "failed", "done", { index: a.stage, logs });
    else await store.updateStage(claim, a.stage, { logs });
  }
  return claim.run.id;
}

describe.skipIf(!pgTestUrl)("PgStore log lines on PostgreSQL", () => {
  const db = schemaPerTest();

  it("keeps, numbers and times the lines as MemoryStore does, through appends that cross the cap several times", async () => {
    const crossings: Append[] = [0, 1, 2, 0, 0].map((stage) => ({ stage, count: 12_000 }));
    const filled: Append[] = [{ stage: 1, count: KEPT_FIRST_LINES }, { stage: 1, count: MAX_STAGE_LINES - KEPT_FIRST_LINES }, { stage: 1, count: 1 }, { stage: 1, count: 2 }];
    const pgClock = new ManualClock();
    const pgStore = await db.open({ clock: pgClock });
    await fc.assert(
      fc.asyncProperty(fc.array(append, { minLength: 1, maxLength: 6 }), async (appends) => {
        const memoryClock = new ManualClock(pgClock.now());
        const memory = new MemoryStore({ clock: memoryClock, ids: sequentialIds() });
        const pgRun = await play(pgStore, pgClock, appends);
        const memoryRun = await play(memory, memoryClock, appends);
        const expected = await allLines(memory, memoryRun, 1000);
        expect(await allLines(pgStore, pgRun, 1000)).toEqual(expected.map((l) => ({ ...l, text: l.text.replaceAll("\u0000", "\uFFFD") })));
        expect((await pgStore.getRun(pgRun))!.stages.map((s) => s.logs.length)).toEqual((await memory.getRun(memoryRun))!.stages.map((s) => s.logs.length));
        expect(await pgStore.getLogs(pgRun, 0, 7)).toEqual(await memory.getLogs(memoryRun, 0, 7).then((p) => p && { ...p, lines: p.lines.map((l) => ({ ...l, text: l.text.replaceAll("\u0000", "\uFFFD") })) }));
      }),
      { numRuns: 12, examples: [[crossings], [filled]] },
    );
  }, 120_000);

  it("pages lines after `after`, says done only on the page that holds a finished run's last ones, and answers undefined for no run", async () => {
    const clock = new ManualClock();
    const store = await db.open({ clock, ids: sequentialIds() });
    const runId = await play(store, clock, [{ stage: 0, count: 3 }, { stage: 1, count: 2 }]);
    expect(await store.getLogs(runId, 0, 3)).toMatchObject({ next_after: 3, status: "failed", done: false });
    expect(await store.getLogs(runId, 3, 2)).toMatchObject({ lines: [{ seq: 4, stage: "build", text: "1.0 \uFFFD\u00e9\"\\" }, { seq: 5 }], next_after: 5, done: true });
    expect(await store.getLogs(runId, 5, 10)).toEqual({ lines: [], next_after: 5, status: "failed", done: true });
    expect(await store.getLogs("00000000-0000-4000-8000-00000000ffff", 0, 10)).toBeUndefined();
    expect(await store.getLogs("not-a-uuid", 0, 10)).toBeUndefined();
  });

  it("a release clears the run's lines but one saying why, numbered after the last", async () => {
    const store = await db.open({ clock: new ManualClock(), ids: sequentialIds() });
    await store.triggerRun((await store.createPipeline(seedPipeline)).id, "main");
    const claim = (await store.claimRun("w1"))!;
    await store.updateStage(claim, 0, { logs: ["a", "b"], status: "success", startNext: true });
    await store.updateStage(claim, 1, { logs: ["c"] });
    await store.releaseRun(claim, "worker shutting down");
    const page = (await store.getLogs(claim.run.id, 0, 10))!;
    expect(page.lines).toMatchObject([{ seq: 4, stage: "run", text: "previous attempt handed back to the queue: worker shutting down" }]);
    expect((await store.getRun(claim.run.id))!.stages.map((s) => s.logs)).toEqual([[page.lines[0]!.text], [], []]);
    const again = (await store.claimRun("w2"))!;
    await store.updateStage(again, 0, { logs: ["d"] });
    expect((await store.getLogs(claim.run.id, 0, 10))!.lines.map((l) => [l.seq, l.text])).toEqual([[4, page.lines[0]!.text], [5, "d"]]);
  });

  it("tells a follower in another process of a worker's lines and state within a second, while it listens", async () => {
    const clock = new ManualClock();
    const worker = await db.open({ clock, pollIntervalMs: 60_000 });
    const api = await db.open({ clock, pollIntervalMs: 60_000 });
    await worker.triggerRun((await worker.createPipeline(seedPipeline)).id, "main");
    const claim = (await worker.claimRun("w1"))!;
    const other = (await worker.triggerRun((await worker.createPipeline(seedPipeline)).id, "main"))!;

    let calls = 0;
    const nextCall = () => new Promise<number>((resolve) => (wake = () => resolve(performance.now())));
    let wake = () => {};
    const stop = api.onRunChange(claim.run.id, () => {
      calls++;
      wake();
    });
    await within(nextCall(), 1000); // once the run channel is heard
    const otherCalls: number[] = [];
    api.onRunChange(other.id, () => otherCalls.push(1));

    for (const write of [
      () => worker.updateStage(claim, 0, { logs: ["line"] }),
      () => worker.updateStage(claim, 0, { status: "success", startNext: true }),
      () => worker.finishRun(claim, "success", null, { index: 1, logs: ["end"] }),
    ]) {
      const heard = nextCall();
      const sent = performance.now();
      await write();
      expect((await within(heard, 1000)) - sent).toBeLessThan(1000);
    }
    expect(calls).toBe(4);
    expect(otherCalls).toEqual([1]); // when heard: another run's changes are not this one's
    const followers = async () => (await db.sql<{ run_id: string }>("SELECT run_id FROM run_followers")).map((r) => r.run_id).sort();
    expect(await followers()).toEqual([claim.run.id, other.id].sort());
    stop();
    // The last listener gone, so is the row: the run's statements NOTIFY nobody.
    await until(async () => (await followers()).length === 1, 1000);
    expect(await followers()).toEqual([other.id]);
  });
});

describe.skipIf(!pgTestUrl)("PostgreSQL migration 4", () => {
  const db = schemaPerTest();

  it("moves the lines of existing runs into run_lines, a capped stage's dropped count and places kept", async () => {
    await migrate(requirePgUrl(), { schema: db.schema }, MIGRATIONS.filter((m) => m.version <= 2));
    const capped = [...Array.from({ length: 1000 }, (_, i) => `first ${i}`), "[... 41 lines dropped ...]", ...Array.from({ length: 8999 }, (_, i) => `last ${i}`)];
    const stages = [
      { name: "run", status: "success", started_at: "2024-01-01T00:00:00.000Z", finished_at: "2024-01-01T00:00:01.000Z", logs: ["a", "b"] },
      { name: "build", status: "failed", started_at: "2024-01-01T00:00:01.000Z", finished_at: "2024-01-01T00:00:02.000Z", logs: capped },
    ];
    const [pipeline] = await db.sql<{ id: string }>(
      `INSERT INTO pipelines (id, name, repository, stages, created_at, updated_at) VALUES (gen_random_uuid(), 'p', 'r', '{}', now(), now()) RETURNING id`,
    );
    const [run] = await db.sql<{ id: string }>(
      `INSERT INTO runs (id, pipeline_id, git_ref, status, stages, spec, created_at, updated_at, finished_at)
       VALUES (gen_random_uuid(), $1, 'main', 'failed', $2, '{}', now(), now(), now()) RETURNING id`,
      [pipeline!.id, JSON.stringify(stages)],
    );
    const store = await db.open({ clock: new ManualClock(), ids: sequentialIds() });
    expect((await store.getRun(run!.id))!.stages.map((s) => s.logs)).toEqual([["a", "b"], capped]);
    const page = (await store.getLogs(run!.id, 2, 2))!;
    expect(page.lines).toEqual([
      { seq: 3, stage: "build", time: "2024-01-01T00:00:02.000Z", text: "first 0" },
      { seq: 4, stage: "build", time: "2024-01-01T00:00:02.000Z", text: "first 1" },
    ]);
    const [counts] = await db.sql<{ last_seq: number; stage_lines: number[] }>("SELECT last_seq, stage_lines FROM runs WHERE id = $1", [run!.id]);
    expect(counts).toEqual({ last_seq: 10_002, stage_lines: [2, 10_040, 0] });
    expect(await db.sql("SELECT 1 FROM pg_proc WHERE proname = 'stagerunner_append_lines'")).toEqual([]);
  }, 30_000);
});
