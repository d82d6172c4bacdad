/**
 * The stage log cap in SQL (appendLinesSql, in every statement that appends lines) against its
 * TypeScript twin appendLines: the same random appends, run by PostgreSQL and by appendLines, leave
 * the same lines; and the store's statements that append lines apply it.
 */
import * as fc from "fast-check";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { appendLines, KEPT_FIRST_LINES, MAX_STAGE_LINES } from "../../../../lib/store/stages.ts";
import { withoutNul } from "../../../../lib/store/pg/rows.ts";
import { appendLinesSql } from "../../../../lib/store/pg/stagesSql.ts";
import { seedPipeline } from "../../../support/fixtures.ts";
import { pgTestUrl, requirePgUrl, schemaPerTest } from "../../../support/pgTestDatabase.ts";

/** One append to stage `stage`: `count` lines, lines up to a log length (the cap's edges), or one marker-like line. */
type Append = { stage: number } & ({ kind: "lines"; count: number; text: string } | { kind: "fillTo"; length: number; text: string } | { kind: "line"; text: string });

/** Any text, NUL included (the store keeps it as U+FFFD, and so does the TypeScript side below). */
const text = fc.string({ unit: "binary", maxLength: 6 });

/** Lines a stage's output could hold that are the dropped-lines marker, or nearly: one thing off. */
const markerLike = fc
  .tuple(
    // Below 2^53, where JavaScript's count is exact (the SQL count is numeric, exact at any size).
    fc.oneof(fc.integer({ min: 0, max: 1e12 }).map(String), fc.constant("007")),
    fc.constantFrom<(marker: string, count: string) => string>(
      (marker) => marker,
      (marker) => marker,
      (marker) => `x${marker}`,
      (marker) => `${marker}\n`,
      (marker) => `${marker} `,
      (marker, count) => marker.replace(count, ""),
      (marker, count) => marker.replace(count, `-${count}`),
      (marker, count) => marker.replace(count, `${count}e1`),
      (marker, count) => marker.replace(count, `\u0663${count}`),
      (marker) => marker.replace("lines", "line"),
    ),
  )
  .map(([count, change]) => change(`[... ${count} lines dropped ...]`, count));

const stage = fc.nat(2);
const fillTo = (stage: number, length: number, text = "s"): Append => ({ stage, kind: "fillTo", length, text });

const append: fc.Arbitrary<Append> = fc.oneof(
  fc.record({ stage, kind: fc.constant("lines" as const), count: fc.oneof(fc.nat(30), fc.integer({ min: 1000, max: 12_000 })), text }),
  fc.record({ stage, kind: fc.constant("fillTo" as const), length: fc.constantFrom(999, 1000, 1001, 9999, 10_000), text }),
  fc.record({ stage, kind: fc.constant("line" as const), text: fc.oneof(markerLike, text) }),
);

/** A marker-like line at index 1,000 of a log filled to the cap (or one short of it), then an append over the cap. */
const forged = fc
  .record({ stage, text: markerLike, length: fc.constantFrom(MAX_STAGE_LINES - 1, MAX_STAGE_LINES, MAX_STAGE_LINES) })
  .map(({ stage, text, length }): Append[] => [fillTo(stage, KEPT_FIRST_LINES), { stage, kind: "line", text }, fillTo(stage, length), { stage, kind: "lines", count: 2, text: "t" }]);

/** A stage of 12,000 lines at each append: over the cap every time, from the first. */
const crossings: Append[] = [0, 1, 2, 0].map((stage) => ({ stage, kind: "lines", count: 12_000, text: "\u00e9\"\\" }));

const appends = fc.array(fc.oneof(append.map((a) => [a]), forged), { minLength: 1, maxLength: 5 }).map((groups) => groups.flat());

/** The lines an append adds to a log of `length` lines; `step` makes every line of a sequence distinct. */
function linesOf(a: Append, length: number, step: number): string[] {
  if (a.kind === "line") return [a.text];
  const count = a.kind === "lines" ? a.count : Math.max(0, a.length - length);
  return Array.from({ length: count }, (_, i) => `${a.text}${step}.${i}`);
}

describe.skipIf(!pgTestUrl)("appendLinesSql on PostgreSQL", () => {
  const db = schemaPerTest();

  /** A connection to this test's migrated schema (the rule's function lives there), closed after `body`. */
  async function withSchema(body: (client: pg.Client) => Promise<void>): Promise<void> {
    await db.open();
    const client = new pg.Client({ connectionString: requirePgUrl(), options: `-c search_path=${db.schema}` });
    await client.connect();
    try {
      await body(client);
    } finally {
      await client.end();
    }
  }

  it("keeps exactly the lines appendLines keeps, through random appends that cross the cap several times", async () => {
    const APPEND = `SELECT ${appendLinesSql("$1::jsonb", "$2::jsonb")} AS logs`;
    await withSchema((client) =>
      fc.assert(
        fc.asyncProperty(appends, async (sequence) => {
          // Each side goes on from its own results: three logs, as a run's three stages.
          const bySql: string[][] = [[], [], []];
          const byTs: string[][] = [[], [], []];
          for (const [step, a] of sequence.entries()) {
            const lines = linesOf(a, byTs[a.stage]!.length, step).map(withoutNul);
            byTs[a.stage] = appendLines(byTs[a.stage]!, lines);
            const { rows } = await client.query<{ logs: string[] }>(APPEND, [JSON.stringify(bySql[a.stage]), JSON.stringify(lines)]);
            bySql[a.stage] = rows[0]!.logs;
            expect(bySql[a.stage]).toEqual(byTs[a.stage]);
          }
        }),
        { numRuns: 40, examples: [[crossings]] },
      ),
    );
  }, 60_000);

  it("is what every statement that appends a stage's lines applies: updateStage, with or without startNext, and finishRun's last lines", async () => {
    const store = await db.open();
    const forgedMarker: Append[] = [fillTo(1, KEPT_FIRST_LINES), { stage: 1, kind: "line", text: "[... 41 lines dropped ...]" }, fillTo(1, MAX_STAGE_LINES), { stage: 1, kind: "lines", count: 2, text: "t" }];
    for (const sequence of [crossings, forgedMarker]) {
      await store.triggerRun((await store.createPipeline(seedPipeline)).id, "main");
      const claim = (await store.claimRun("w1"))!;
      const expected: string[][] = [[], [], []];
      for (const [step, a] of sequence.entries()) {
        const lines = linesOf(a, expected[a.stage]!.length, step);
        expected[a.stage] = appendLines(expected[a.stage]!, lines);
        if (step === sequence.length - 1) await store.finishRun(claim, "failed", "done", { index: a.stage, logs: lines });
        else await store.updateStage(claim, a.stage, { logs: lines, startNext: a.stage < 2 && step % 2 === 0 });
      }
      const run = (await store.getRun(claim.run.id))!;
      expect(run.stages.map((s) => s.logs)).toEqual(expected);
      expect(run.stages[sequence.at(-1)!.stage]!.logs).toHaveLength(MAX_STAGE_LINES);
    }
  });
});
