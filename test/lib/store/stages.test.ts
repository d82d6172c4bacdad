/** The stage rules both stores apply: the line cap (appendLines) keeps the first lines and the latest. */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { appendLines, KEPT_FIRST_LINES, MAX_STAGE_LINES } from "../../../lib/store/stages.ts";

describe("appendLines", () => {
  it("appends under the cap, and past it keeps the first lines, one count of those dropped, and the latest", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 4_000 }), fc.integer({ min: 9_000, max: 12_000 })), { maxLength: 12 }), (batches) => {
        let logs: string[] = [];
        let total = 0;
        for (const size of batches) {
          logs = appendLines(logs, Array.from({ length: size }, (_, i) => `l${total + i}`));
          total += size;
        }
        if (total <= MAX_STAGE_LINES) {
          expect(logs).toEqual(Array.from({ length: total }, (_, i) => `l${i}`));
          return;
        }
        const latest = MAX_STAGE_LINES - KEPT_FIRST_LINES - 1;
        expect(logs).toHaveLength(MAX_STAGE_LINES);
        expect(logs.slice(0, KEPT_FIRST_LINES)).toEqual(Array.from({ length: KEPT_FIRST_LINES }, (_, i) => `l${i}`));
        expect(logs[KEPT_FIRST_LINES]).toBe(`[... ${total - KEPT_FIRST_LINES - latest} lines dropped ...]`);
        expect(logs.slice(KEPT_FIRST_LINES + 1)).toEqual(Array.from({ length: latest }, (_, i) => `l${total - latest + i}`));
      }),
      { numRuns: 60 },
    );
  });
});
