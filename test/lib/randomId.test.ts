/**
 * Store ids are random version-4 UUIDs, the wire format's `<uuid>`, across refills of the entropy pool.
 */
import { describe, expect, it } from "vitest";
import { randomId } from "../../lib/randomId.ts";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("randomId", () => {
  it("makes distinct version-4 UUIDs, also across refills of its pool (256 ids each)", () => {
    const ids = Array.from({ length: 2000 }, randomId);
    for (const id of ids) expect(id).toMatch(UUID_V4);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("spreads its random bits over every hex digit the format leaves free", () => {
    // 4000 ids: every free position takes all 16 digits (a fixed or stuck digit would show as fewer).
    const seen = Array.from({ length: 36 }, () => new Set<string>());
    for (let n = 0; n < 4000; n++) [...randomId()].forEach((c, i) => seen[i]!.add(c));
    const counts = seen.map((s) => s.size);
    expect(counts.filter((c, i) => ![8, 13, 14, 18, 19, 23].includes(i) && c !== 16)).toEqual([]);
    expect([counts[8], counts[13], counts[14], counts[18], counts[19], counts[23]]).toEqual([1, 1, 1, 1, 4, 1]);
  });
});
