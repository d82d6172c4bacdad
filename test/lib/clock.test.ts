/**
 * Every timestamp on the wire is written by `iso`: exactly what Date#toISOString writes, also around
 * midnight, leap days, before 1970 and when the same millisecond is asked for again.
 */
import { describe, expect, it } from "vitest";
import { iso } from "../../lib/clock.ts";

const DAY = 86_400_000;

describe("iso", () => {
  it("writes what Date#toISOString writes", () => {
    const edges = [0, 1, 999, 1000, DAY - 1, DAY, -1, -DAY - 1, Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2000, 1, 29)];
    const farOff = [Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(10000, 0, 1), 8.64e15, -8.64e15, -62198755200000];
    // A fixed spread over 1938-2064, each asked twice (the second answer comes from the cache).
    const spread = Array.from({ length: 5000 }, (_, i) => -1e12 + i * 797_003_917);
    for (const ms of [...edges, ...farOff, ...spread, ...spread]) expect(iso(ms)).toBe(new Date(ms).toISOString());
  });

  it("keeps a string per millisecond apart from the others that share its cache slot", () => {
    const a = Date.UTC(2026, 10, 28, 12);
    const b = a + 4096; // the same slot
    expect([iso(a), iso(b), iso(a)]).toEqual([new Date(a).toISOString(), new Date(b).toISOString(), new Date(a).toISOString()]);
  });

  it("truncates a fractional millisecond as Date does, and refuses a time that is not one", () => {
    expect(iso(1.7)).toBe("1970-01-01T00:00:00.001Z");
    for (const ms of [Number.NaN, 8.64e15 + 1, 8.64e15 + DAY - 1, -8.64e15 - 1]) expect(() => iso(ms)).toThrow(RangeError);
  });
});
